import ChronoArchive
import ChronoModel
import Foundation
import Testing
import TestSupport

/// The archive written collectively by 1, 2 and 4 ranks (`archive-checks write` under mpirun) and
/// read back without MPI (`archive-checks verify`), appended to by a second job, read with h5py
/// following docs/ARCHIVE.md, shown by h5dump, and surviving a job killed mid-write.
@Suite("Archive: collective write, serial read, append, h5py, h5dump, crash", .serialized)
struct ArchiveWriteTests {
    let checks = MPIJob.executable("archive-checks")

    @Test("ranks write rounds together; a plain process reads exactly the expected events back", arguments: [1, 2, 4])
    func writeThenVerify(ranks: Int) throws {
        let dir = try ScratchDirectory()
        let write = try MPIJob.run(ranks: ranks, [checks, "write", "--dir", dir.path, "--rounds", "4"], timeout: 180)
        try #require(write.exitCode == 0, "\(write)")
        #expect(write.lines(startingWith: "PASS archive write").count == 1, "\(write)")
        #expect(write.lines(startingWith: "ACKED 4").count == 1, "\(write)")

        let verify = try MPIJob.runCommand([checks, "verify", "--dir", dir.path, "--ranks", String(ranks), "--rounds", "4"],
                                           timeout: 120)
        #expect(verify.exitCode == 0, "\(verify)")
        #expect(verify.lines(startingWith: "VERIFY OK").count == 1, "\(verify)")
        #expect(verify.lines(startingWith: "PASS archive verify").count == 1, "\(verify)")
        #expect(verify.stdout.contains("chronolog-archive.h5: closed cleanly after 4 rounds"), "\(verify)")

        // In this process too: the listing has the fixture's stories with their real names.
        let reader = try ArchiveReader(path: dir.path)
        let listing = try reader.chronicles()
        #expect(listing.map(\.name) == ["..dots and spaces..", "Chronik Ü-🚀"])
        let stories = listing.flatMap(\.stories).map(\.name)
        #expect(stories.contains("geteilt 日本") && stories.contains("rank 0 🌊") && stories.contains("leer"), "\(stories)")
        #expect(stories.count == 4 + ranks, "\(stories)")
        let empty = try #require(listing.flatMap(\.stories).first { $0.name == "leer" })
        #expect(empty.eventCount == 0 && empty.payloadBytes == 0 && !empty.durableRanges.isEmpty, "\(empty)")
    }

    /// Parallel HDF5 allocates every chunk an extension reaches inside the collective
    /// `H5Dset_extent`; with HDF5's default fill it also writes them there (zeros), so an I/O
    /// failure on one rank could leave the others waiting in that call. The archive's datasets
    /// are created without fill: a round passes to write calls only its rows and a share of
    /// HDF5's metadata, and the file still verifies and reads with h5py.
    @Test("a round writes its rows and metadata only: no fill of the chunks its extensions reach; the file verifies and h5py reads it")
    func roundsWriteNoFill() throws {
        let dir = try ScratchDirectory()
        let write = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "3", "--print-io"], timeout: 180)
        try #require(write.exitCode == 0, "\(write)")
        let lines = write.lines(startingWith: "ROUND-IO")
        #expect(lines.count == 6, "\(write)")
        for line in lines {
            guard let m = line.firstMatch(of: #/wrote=(\d+) syscall=(\d+)/#), let wrote = Int(m.1), let syscall = Int(m.2) else {
                Issue.record("unreadable line: \(line)")
                continue
            }
            // The first round creates 6 stories: filling their first chunks would be ≈ 6 MiB a rank.
            #expect(syscall <= wrote + (512 << 10), "the round wrote more than its rows and metadata: \(line)")
        }
        let verify = try MPIJob.runCommand([checks, "verify", "--dir", dir.path, "--ranks", "2", "--rounds", "3"], timeout: 120)
        #expect(verify.exitCode == 0 && verify.lines(startingWith: "VERIFY OK").count == 1, "\(verify)")
        let scriptPath = dir.path("archive_read.py")
        try ArchiveDocs.pythonExample().write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let python = try MPIJob.runCommand([ArchiveDocs.python, scriptPath, dir.path("chronolog-archive.h5")], timeout: 120)
        try #require(python.exitCode == 0, "\(python)")
        let expected = try MPIJob.runCommand([checks, "expected", "--ranks", "2", "--rounds", "3"], timeout: 60)
        #expect(python.stdout == expected.stdout, "h5py read of the archive differs from the written events")
    }

    @Test("chunks larger than archive.maxRowBytes become several index rows: same events read back, verify clean, h5py agrees")
    func smallRows() throws {
        func write(_ extra: [String]) throws -> (dir: ScratchDirectory, chunks: Int) {
            let dir = try ScratchDirectory()
            let write = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "3"] + extra, timeout: 180)
            try #require(write.exitCode == 0, "\(write)")
            let verify = try MPIJob.runCommand([checks, "verify", "--dir", dir.path, "--ranks", "2", "--rounds", "3"], timeout: 120)
            #expect(verify.exitCode == 0 && verify.lines(startingWith: "PASS archive verify").count == 1, "\(verify)")
            let chunks = verify.stdout.firstMatch(of: #/chunks=(\d+)/#).flatMap { Int($0.1) } ?? -1
            return (dir, chunks)
        }
        let plain = try write([])
        let small = try write(["--max-row-bytes", "4096"])
        #expect(plain.chunks > 0 && small.chunks > plain.chunks, "index rows: \(plain.chunks) by default, \(small.chunks) with 4 KiB rows")

        let scriptPath = small.dir.path("archive_read.py")
        try ArchiveDocs.pythonExample().write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let python = try MPIJob.runCommand([ArchiveDocs.python, scriptPath, small.dir.path("chronolog-archive.h5")], timeout: 120)
        try #require(python.exitCode == 0, "\(python)")
        let expected = try MPIJob.runCommand([checks, "expected", "--ranks", "2", "--rounds", "3"], timeout: 60)
        #expect(python.stdout == expected.stdout, "h5py read of the 4 KiB-row archive differs from the written events")
    }

    @Test("a second job appends to the same archive (different rank count); both runs read back")
    func reopenAndAppend() throws {
        let dir = try ScratchDirectory()
        let first = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "3"], timeout: 180)
        try #require(first.exitCode == 0, "\(first)")
        let size = try FileManager.default.attributesOfItem(atPath: dir.path("chronolog-archive.h5"))[.size] as? Int ?? 0
        let second = try MPIJob.run(ranks: 3, [checks, "write", "--dir", dir.path, "--rounds", "2", "--run", "1"], timeout: 180)
        try #require(second.exitCode == 0, "\(second)")
        let grown = try FileManager.default.attributesOfItem(atPath: dir.path("chronolog-archive.h5"))[.size] as? Int ?? 0
        #expect(grown > size, "the file did not grow: \(size) → \(grown)")

        let both = try MPIJob.runCommand([checks, "verify", "--dir", dir.path, "--ranks", "2,3", "--rounds", "3,2"], timeout: 120)
        #expect(both.exitCode == 0, "\(both)")
        #expect(both.lines(startingWith: "PASS archive verify").count == 1, "\(both)")
        // The first run alone is not what the file holds any more: the check can tell.
        let firstOnly = try MPIJob.runCommand([checks, "verify", "--dir", dir.path, "--ranks", "2", "--rounds", "3"], timeout: 120)
        #expect(firstOnly.exitCode != 0, "\(firstOnly)")
    }

    @Test("h5py reads every event following docs/ARCHIVE.md exactly; h5dump -H shows the layout")
    func h5pyAndH5dump() throws {
        let dir = try ScratchDirectory()
        let write = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "3"], timeout: 180)
        try #require(write.exitCode == 0, "\(write)")
        let file = dir.path("chronolog-archive.h5")

        let script = try ArchiveDocs.pythonExample()
        let scriptPath = dir.path("archive_read.py")
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let python = try MPIJob.runCommand([ArchiveDocs.python, scriptPath, file], timeout: 120)
        try #require(python.exitCode == 0, "h5py example failed (needs python3-h5py-mpi, python3-numpy):\n\(python)")
        let expected = try MPIJob.runCommand([checks, "expected", "--ranks", "2", "--rounds", "3"], timeout: 60)
        try #require(expected.exitCode == 0, "\(expected)")
        let got = python.stdout.split(separator: "\n"), want = expected.stdout.split(separator: "\n")
        #expect(want.count > 100, "too few expected events: \(want.count)")
        #expect(got.count == want.count, "h5py read \(got.count) events, expected \(want.count)")
        #expect(got == want, "h5py output differs from the written events")

        let header = try MPIJob.runCommand(["h5dump", "-H", file], timeout: 60)
        try #require(header.exitCode == 0, "\(header)")
        let h = header.stdout
        for line in ["GROUP \"chronicles\"", "DATASET \"rounds\"", "ATTRIBUTE \"layout_version\"", "ATTRIBUTE \"creator\"",
                     "ATTRIBUTE \"name\"", "ATTRIBUTE \"chronicle\"", "ATTRIBUTE \"story\"", "ATTRIBUTE \"story_id\"",
                     "DATASET \"events\"", "DATASET \"payload\"", "DATASET \"index\"", "ATTRIBUTE \"columns\"",
                     "CSET H5T_CSET_UTF8", "/ ( H5S_UNLIMITED, 32 )", "/ ( H5S_UNLIMITED, 13 )"] {
            #expect(h.contains(line), "h5dump -H lacks \(line)")
        }
        // Group names are safe path components, never the raw names.
        #expect(!h.contains("🚀") && !h.contains("日本"), "a raw name leaked into a group name")
        #expect(h.contains("GROUP \"Chronik___-____-"), "chronicle group name")
    }

    @Test("a job killed while writing leaves an archive that opens and holds every acknowledged round; a later job repairs and appends")
    func killedJobKeepsAcknowledgedRounds() throws {
        var checkedKills = 0
        for killAfter in [200, 450, 900] {
            let dir = try ScratchDirectory()
            let write = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "100000",
                                                  "--kill-after-ms", String(killAfter)], timeout: 120)
            #expect(write.exitCode != 0, "the job was not killed: \(write)")
            let acked = write.lines(startingWith: "ACKED ").compactMap { Int($0.dropFirst(6)) }.max() ?? 0
            guard FileManager.default.fileExists(atPath: dir.path("chronolog-archive.h5")) else {
                #expect(acked == 0, "acknowledged \(acked) rounds but no file exists")
                continue
            }
            if acked == 0 { continue }  // killed before the first acknowledgement: nothing promised
            checkedKills += 1
            let verify = try MPIJob.runCommand(
                [checks, "verify", "--dir", dir.path, "--ranks", "2", "--rounds", "100000", "--acked-rounds", String(acked)],
                timeout: 120)
            #expect(verify.exitCode == 0, "after \(acked) acknowledged rounds:\n\(verify)")
            // Every acknowledged round is committed; the file says it was not closed.
            let state = verify.stdout.firstMatch(of: #/not closed \(writer killed or still writing\): (\d+) of (\d+) round/#)
            let committed = state.flatMap { Int($0.1) } ?? -1
            #expect(committed >= acked, "after \(acked) acknowledged rounds:\n\(verify)")

            // A second job reopens the crashed archive (repairing torn rows) and appends.
            let append = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "2", "--run", "1"], timeout: 120)
            #expect(append.exitCode == 0, "\(append)")
            let after = try MPIJob.runCommand(
                [checks, "verify", "--dir", dir.path, "--ranks", "2,2", "--rounds", "100000,2", "--acked-rounds", String(acked),
                 "--crashed-run", "0"], timeout: 120)
            #expect(after.exitCode == 0, "after the append:\n\(after)")
            #expect(after.stdout.contains("closed cleanly after"), "after the append:\n\(after)")
        }
        #expect(checkedKills > 0, "no kill happened after an acknowledged round")
    }
}

/// A temporary directory removed when the value goes away.
final class ScratchDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-archive-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// The repository's docs/ARCHIVE.md and the Python that runs its example.
enum ArchiveDocs {
    /// Debian's interpreter, which sees the `python3-h5py-mpi` and `python3-numpy` packages
    /// (a `python3` earlier in PATH, e.g. pyenv's, may not).
    static var python: String {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    }

    /// The h5py program of docs/ARCHIVE.md: the fenced block starting with `# archive_read.py`.
    static func pythonExample() throws -> String {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/ARCHIVE.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        guard let start = text.range(of: "```python\n# archive_read.py"),
              let end = text.range(of: "\n```", range: start.upperBound..<text.endIndex) else {
            throw ArchiveTestFailure(description: "docs/ARCHIVE.md has no ```python block starting with # archive_read.py")
        }
        return String(text[text.index(start.lowerBound, offsetBy: "```python\n".count)..<end.lowerBound]) + "\n"
    }
}

struct ArchiveTestFailure: Error, CustomStringConvertible {
    let description: String
}
