import ChronoArchive
import ChronoModel
import Foundation
import Testing
import TestSupport

/// Missing, foreign, truncated and damaged archives: `ArchiveReader` throws typed errors and
/// `verify` lists the problems with their locations. The archive is written once by
/// `archive-checks write` (1 rank) and copied for each kind of damage.
@Suite("Archive: missing, foreign, truncated and damaged files", .serialized)
struct ArchiveDamageTests {
    let checks = MPIJob.executable("archive-checks")

    /// A file in a scratch directory that lives as long as this value.
    struct ScratchFile {
        let directory: ScratchDirectory
        let path: String
    }

    /// Writes a 1-rank archive.
    private func pristine() throws -> ScratchFile {
        let dir = try ScratchDirectory()
        let write = try MPIJob.run(ranks: 1, [checks, "write", "--dir", dir.path, "--rounds", "3"], timeout: 180)
        try #require(write.exitCode == 0, "\(write)")
        return ScratchFile(directory: dir, path: dir.path("chronolog-archive.h5"))
    }

    /// A copy of `file` in a fresh directory.
    private func copy(_ file: ScratchFile) throws -> ScratchFile {
        let dir = try ScratchDirectory()
        let target = dir.path("copy.h5")
        try FileManager.default.copyItem(atPath: file.path, toPath: target)
        return ScratchFile(directory: dir, path: target)
    }

    /// Every event of every story, read through `reader`.
    private func everything(_ reader: ArchiveReader) throws -> [String: StoryChunk] {
        var out: [String: StoryChunk] = [:]
        for c in try reader.chronicles() {
            for s in c.stories {
                out["\(c.name)/\(s.name)"] = try reader.events(chronicle: c.name, story: s.name,
                                                               range: TimeRange(start: 0, end: .max))
            }
        }
        return out
    }

    @Test("a missing path, an empty directory, a non-HDF5 file and a foreign HDF5 file give typed errors")
    func missingAndForeign() throws {
        let dir = try ScratchDirectory()
        #expect(throws: ArchiveError.notFound(path: dir.path("nothing.h5"))) { try ArchiveReader(path: dir.path("nothing.h5")) }
        #expect(throws: ArchiveError.notFound(path: dir.path)) { try ArchiveReader(path: dir.path) }
        #expect(!ArchiveReader.verify(path: dir.path("nothing.h5")).isValid)

        let garbage = dir.path("garbage.h5")
        try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: garbage))
        let garbageError = archiveError { try ArchiveReader(path: garbage) }
        guard case .unreadableFile(let path, _) = garbageError, path == garbage else {
            Issue.record("a garbage file gave \(String(describing: garbageError))")
            return
        }
        let report = ArchiveReader.verify(path: garbage)
        #expect(!report.isValid && report.problems.first?.location == garbage, "\(report)")

        // An HDF5 file that is not an archive.
        let foreign = dir.path("foreign.h5")
        let made = try MPIJob.runCommand([ArchiveDocs.python, "-c",
                                          "import h5py, sys; f = h5py.File(sys.argv[1], 'w'); f.create_group('x'); f.close()",
                                          foreign], timeout: 60)
        try #require(made.exitCode == 0, "\(made)")
        let foreignError = archiveError { try ArchiveReader(path: foreign) }
        guard case .incompatibleLayout(let foreignPath, _) = foreignError, foreignPath == foreign else {
            Issue.record("a foreign HDF5 file gave \(String(describing: foreignError))")
            return
        }
    }

    @Test("a truncated copy does not open (typed error) and verify reports it")
    func truncated() throws {
        let original = try pristine()
        let copied = try copy(original)
        let damaged = copied.path
        let size = try FileManager.default.attributesOfItem(atPath: damaged)[.size] as? Int ?? 0
        #expect(truncate(damaged, off_t(size / 2)) == 0)
        let error = archiveError { try ArchiveReader(path: damaged) }
        guard case .unreadableFile(let path, _) = error, path == damaged else {
            Issue.record("a truncated file gave \(String(describing: error))")
            return
        }
        let report = ArchiveReader.verify(path: damaged)
        #expect(report.problems.count == 1 && report.problems[0].location == damaged, "\(report)")
    }

    @Test("a flipped payload byte: verify names the chunk; reading that chunk throws .corrupt")
    func damagedPayload() throws {
        let original = try pristine()
        let reader = try ArchiveReader(path: original.path)
        #expect(reader.verify().isValid)
        // 32 bytes from the middle of the 64 KiB event of story "groß": unique in the file.
        let big = try reader.events(chronicle: "..dots and spaces..", story: "groß", range: TimeRange(start: 0, end: .max))
        try #require(big.count > 0 && big.records[0].length == 65536)
        let marker = Array(big.recordBytes(at: 0).dropFirst(30_000).prefix(32))

        let copied = try copy(original)
        let damaged = copied.path
        try flipFirst(marker, in: damaged)
        let broken = try ArchiveReader(path: damaged)
        let report = broken.verify()
        #expect(!report.isValid, "\(report)")
        #expect(report.problems.contains { $0.detail.contains("payload checksum") && $0.location.contains("/index row") }, "\(report)")
        let error = archiveError {
            try broken.events(chronicle: "..dots and spaces..", story: "groß", range: TimeRange(start: 0, end: .max))
        }
        guard case .corrupt(let location, _) = error else {
            Issue.record("damaged payload read gave \(String(describing: error))")
            return
        }
        #expect(location.hasPrefix(damaged), "\(location)")
        // Read straight into memory, as a replay piece is: the same events, and the damage is caught.
        let whole = TimeRange(start: 0, end: .max)
        var slot = [UInt8](repeating: 0, count: 1 << 20)
        let encoded = try slot.withUnsafeMutableBytes { raw in
            try reader.readEncoded(chronicle: "..dots and spaces..", story: "groß", window: whole, into: raw)
        }
        let window = try #require(encoded, "the story's rows need no merging: it should read straight")
        let straight = try StoryChunk.decode(slot[0..<window.byteCount])
        #expect(window.eventCount == big.count && straight.records == big.records && straight.payload == big.payload)
        let straightError = archiveError {
            try slot.withUnsafeMutableBytes { raw in
                try broken.readEncoded(chronicle: "..dots and spaces..", story: "groß", window: whole, into: raw)
            }
        }
        guard case .corrupt(_, let detail) = straightError, detail.contains("payload checksum") else {
            Issue.record("damaged payload read straight gave \(String(describing: straightError))")
            return
        }
        // Other stories still read as before.
        let good = try everything(reader)
        let otherStory = try broken.events(chronicle: "Chronik Ü-🚀", story: "geteilt 日本", range: TimeRange(start: 0, end: .max))
        #expect(otherStory == good["Chronik Ü-🚀/geteilt 日本"])
    }

    @Test("a damaged index row: verify reports it; reads of that story throw .corrupt, other stories read")
    func damagedIndex() throws {
        let original = try pristine()
        let reader = try ArchiveReader(path: original.path)
        let story = try #require(try reader.chronicles().flatMap(\.stories).first { $0.name == "geteilt 日本" })
        // The fixture's ranges are 1 ms long: (range_start, range_end) of round 0 as stored in index rows.
        let start = story.durableRanges[0].start
        var pattern: [UInt8] = []
        for v in [start, start + 1_000_000] { withUnsafeBytes(of: v.littleEndian) { pattern += $0 } }

        let copied = try copy(original)
        let damaged = copied.path
        try flipFirst(pattern, in: damaged)
        let report = ArchiveReader.verify(path: damaged)
        #expect(!report.isValid, "\(report)")
        #expect(report.problems.contains { $0.location.contains("/index row") && $0.detail.contains("checksum") }, "\(report)")
        // The file still opens; the damaged story's index is refused, the others read.
        let broken = try ArchiveReader(path: damaged)
        var refused: [String] = [], read = 0
        for c in try reader.chronicles() {
            for s in c.stories {
                let error = archiveError { try broken.events(chronicle: c.name, story: s.name, range: TimeRange(start: 0, end: .max)) }
                switch error {
                case nil: read += 1
                case .corrupt(let location, _)?: refused.append(location)
                case let other?: Issue.record("\(c.name)/\(s.name): unexpected \(other)")
                }
            }
        }
        #expect(refused.count == 1 && refused[0].hasPrefix(damaged), "\(refused)")
        #expect(read == 4, "stories read: \(read)")
        #expect(throws: ArchiveError.self) { try broken.chronicles() }
    }

    @Test("a directory of two copies reads every story once, exactly like the single file")
    func directoryOfCopies() throws {
        let original = try pristine()
        let file = original.path
        let dir = try ScratchDirectory()
        try FileManager.default.copyItem(atPath: file, toPath: dir.path("a.h5"))
        try FileManager.default.copyItem(atPath: file, toPath: dir.path("b.h5"))
        try Data("not an archive".utf8).write(to: URL(fileURLWithPath: dir.path("notes.txt")))
        let single = try ArchiveReader(path: file), both = try ArchiveReader(path: dir.path)
        #expect(both.files.count == 2)
        let a = try everything(single), b = try everything(both)
        #expect(!a.isEmpty && a == b)
        let listed = try both.chronicles().flatMap(\.stories)
        #expect(listed.allSatisfy { $0.files.count == 2 }, "\(listed)")
        #expect(both.verify().isValid)
    }

    /// The `ArchiveError` `body` throws, or `nil` if it succeeds.
    private func archiveError<T>(_ body: () throws -> T) -> ArchiveError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? ArchiveError
        }
    }

    /// Flips the first byte of the first occurrence of `pattern` in the file.
    private func flipFirst(_ pattern: [UInt8], in path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = pattern.count
        guard let at = (0...(bytes.count - n)).first(where: { i in bytes[i] == pattern[0] && Array(bytes[i..<(i + n)]) == pattern }) else {
            throw ArchiveTestFailure(description: "pattern not found in \(path)")
        }
        bytes[at] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
