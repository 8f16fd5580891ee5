import Foundation

/// Damage and crash states made to archive files on purpose, with Debian's h5py (the archive layout
/// of docs/ARCHIVE.md): one flipped byte of an index row, found through the dataset's chunk
/// address (the byte is flipped in the file, not through HDF5); a commit record removed (a file
/// written before commit records existed) or rolled back (a writer killed before committing its
/// last round).
public enum ArchiveSurgery {
    /// Debian's interpreter, which has h5py and numpy.
    public static var python: String {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    }

    static let flipScript = """
        import h5py, sys
        path, chron, story, row, col = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        off = None
        with h5py.File(path, 'r') as f:
            for c in f['chronicles'].values():
                for s in c.values():
                    if s.attrs['chronicle'] == chron and s.attrs['story'] == story:
                        ds = s['index']
                        r = row % ds.shape[0]
                        info = ds.id.get_chunk_info_by_coord((r - r % ds.chunks[0], 0))
                        off = info.byte_offset + ((r % ds.chunks[0]) * 13 + col) * 8
                        print('ROW', r, 'ROUND', int(ds[r, 9]))
        assert off is not None, 'no such story'
        with open(path, 'r+b') as fh:
            fh.seek(off); b = fh.read(1); fh.seek(off); fh.write(bytes([b[0] ^ 0xFF]))
        """

    static let deleteCommitScript = """
        import h5py, sys
        with h5py.File(sys.argv[1], 'r+') as f:
            del f['commit']
        """

    /// Rewrites /commit to say only the first N rounds are committed, the file not closed; the
    /// checksum is the one of docs/ARCHIVE.md (recomputed here from its definition).
    static let rollBackScript = """
        import h5py, sys
        import numpy as np
        K1, K2, K3, MASK = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, (1 << 64) - 1
        def checksum(words):
            total = 0
            for i, w in enumerate(words):
                x = ((w ^ (i * K1 & MASK)) * K2) & MASK
                x ^= x >> 31
                total = (total + x) & MASK
            h = (len(words) * 8 * K3 + total) & MASK
            return h ^ (h >> 29)
        path, rounds = sys.argv[1], int(sys.argv[2])
        with h5py.File(path, 'r+') as f:
            manifest = f['rounds'][:rounds]
            old = f['commit'][...]
            seq = int(old[:, 0].max()) + 1
            data = [seq, rounds, 1, int(old[0, 3]), int(manifest[:, 4].sum()), int(manifest[:, 5].sum()), int(manifest[:, 6].sum())]
            row = np.array(data + [checksum(data)], dtype='<u8')
            f['commit'][0] = row
            f['commit'][1] = row
        """

    /// Flips the first byte of column `column` of index row `row` (negative: from the end) of a
    /// story. - Returns: the row's number and its round, as stored.
    @discardableResult
    public static func flipIndexByte(file: String, chronicle: String, story: String, row: Int, column: Int) throws -> (row: Int, round: Int) {
        let r = try run(flipScript, [file, chronicle, story, String(row), String(column)])
        let f = r.split(separator: " ")
        guard f.count >= 4, let n = Int(f[1]), let round = Int(f[3].prefix(while: \.isNumber)) else {
            throw SurgeryFailure(description: "flip printed \(r)")
        }
        return (n, round)
    }

    /// Removes `/commit`: the file then reads like one written before commit records.
    public static func deleteCommitRecord(file: String) throws {
        _ = try run(deleteCommitScript, [file])
    }

    /// Makes `/commit` say that only the first `rounds` rounds were committed and the file was not
    /// closed: what a writer killed between a round's data flush and its commit leaves.
    public static func rollBackCommit(file: String, toRounds rounds: Int) throws {
        _ = try run(rollBackScript, [file, String(rounds)])
    }

    private static func run(_ script: String, _ args: [String]) throws -> String {
        let r = try MPIJob.runCommand([python, "-c", script] + args, timeout: 60)
        guard r.exitCode == 0 else { throw SurgeryFailure(description: "\(r)") }
        return r.stdout
    }

    struct SurgeryFailure: Error, CustomStringConvertible {
        let description: String
    }
}
