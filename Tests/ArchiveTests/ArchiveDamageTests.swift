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
        guard case .foreignFile(let foreignPath, _) = foreignError, foreignPath == foreign else {
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
        // With the payload left in the mapped file (a player lends it from there): the slot holds
        // the header and records, the parts the payload, and together they are the same chunk; the
        // damage is caught where the payload lies.
        var head = [UInt8](repeating: 0, count: 1 << 20)
        let lent = try head.withUnsafeMutableBytes { raw in
            try reader.readEncoded(chronicle: "..dots and spaces..", story: "groß", window: whole, into: raw, lendingPayloadAbove: 0)
        }
        let lentWindow = try #require(lent)
        let inPlace = try #require(lentWindow.payloadInPlace, "the payload should be left in the mapped file")
        #expect(lentWindow.byteCount == window.byteCount && lentWindow.writtenByteCount == window.byteCount - big.payload.count)
        let assembled = Array(head[0..<lentWindow.writtenByteCount]) + inPlace.parts.flatMap { Array($0) }
        let fromParts = try StoryChunk.decode(assembled)
        let same = fromParts.records == big.records && fromParts.payload == big.payload
        #expect(same, "header, records and mapped payload differ from the story's events")
        let lentError = archiveError {
            try head.withUnsafeMutableBytes { raw in
                try broken.readEncoded(chronicle: "..dots and spaces..", story: "groß", window: whole, into: raw, lendingPayloadAbove: 0)
            }
        }
        guard case .corrupt(_, let lentDetail) = lentError, lentDetail.contains("payload checksum") else {
            Issue.record("damaged payload left in place gave \(String(describing: lentError))")
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
        // The listing shows the damage instead of failing.
        let listed = try broken.chronicles().flatMap(\.stories)
        #expect(listed.count == 5 && listed.filter { $0.damagedRows > 0 }.count == 1, "\(listed)")
    }

    /// The story the issue lost: rows of several ranks and revisions, written in every round.
    private let chronicle = "Chronik Ü-🚀", shared = "geteilt 日本"
    private var whole: TimeRange { TimeRange(start: 0, end: .max) }

    @Test("a flipped byte in an index row of the last round of a cleanly closed file is damage: verify names it, reads say partial")
    func damagedLastRoundRow() throws {
        let original = try pristine()
        let reader = try ArchiveReader(path: original.path)
        let before = reader.verify()
        #expect(before.isValid && before.fileStates.map(\.state) == [.closedCleanly(rounds: 3)], "\(before)")
        let all = try reader.events(chronicle: chronicle, story: shared, range: whole)
        let copied = try copy(original)
        // Column 4 (event_count) of the story's last row, written in the last round (2).
        let flipped = try ArchiveSurgery.flipIndexByte(file: copied.path, chronicle: chronicle, story: shared, row: -1, column: 4)
        #expect(flipped.round == 2)

        let report = ArchiveReader.verify(path: copied.path)
        #expect(!report.isValid, "\(report)")
        let named = report.problems.first { $0.location.hasSuffix("/index row \(flipped.row)") }
        #expect(named?.detail.contains("story \"\(chronicle)\"/\"\(shared)\"") == true
                && named?.detail.contains("closed cleanly") == true && named?.detail.contains("range [") == true, "\(report)")
        #expect(report.problems.contains { $0.location.hasSuffix("/commit") && $0.detail.contains("damaged or missing") }, "\(report)")
        #expect(report.uncommittedRows == 0, "\(report)")

        let broken = try ArchiveReader(path: copied.path)
        #expect(throws: ArchiveError.self) { try broken.events(chronicle: chronicle, story: shared, range: whole) }
        let answer = try broken.read(chronicle: chronicle, story: shared, range: whole)
        #expect(answer.completeness.status == .damaged && answer.completeness.damaged.count == 1, "\(answer.completeness)")
        #expect(answer.completeness.description.hasPrefix("partial: 1 damaged index row"), "\(answer.completeness)")
        // Every intact event is still read; the damaged row's are missing, and the answer says so.
        #expect(answer.events.count > 0 && answer.events.count < all.count, "\(answer.events.count) of \(all.count)")
        #expect(try answer.events.merged(with: all).records == all.records)
        let listed = try #require(try broken.chronicles().flatMap(\.stories).first { $0.name == shared })
        #expect(listed.damagedRows == 1 && listed.uncommittedRows == 0, "\(listed)")
        // An intact story of the same file reads complete.
        let other = try broken.read(chronicle: chronicle, story: "rank 0 🌊", range: whole)
        #expect(other.completeness.isComplete && other.events.count > 0, "\(other.completeness)")
    }

    @Test("a file without a commit record (older writers) reads as legacy: the same flip cannot be told from a crash tail, and says so")
    func legacyFileSaysItCannotTell() throws {
        let copied = try copy(try pristine())
        try ArchiveSurgery.deleteCommitRecord(file: copied.path)
        #expect(ArchiveReader.verify(path: copied.path).fileStates.map(\.state) == [.legacy(rounds: 3)])
        try ArchiveSurgery.flipIndexByte(file: copied.path, chronicle: chronicle, story: shared, row: -1, column: 4)
        let report = ArchiveReader.verify(path: copied.path)
        #expect(report.isValid && report.uncommittedRows > 0, "\(report)")
        #expect(report.description.contains("cannot be told from a crash tail"), "\(report)")
        let answer = try ArchiveReader(path: copied.path).read(chronicle: chronicle, story: shared, range: whole)
        #expect(answer.completeness.status == .crashTail && answer.completeness.legacyFiles == [copied.path], "\(answer.completeness)")
    }

    @Test("a writer killed after its last flush: not closed, nothing uncommitted; a row of a committed round failing is damage, of an uncommitted one a crash tail")
    func killedWriterCommittedRowsVersusCrashTail() throws {
        let dir = try ScratchDirectory()
        let write = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "5", "--kill-after-rounds", "3"],
                                   timeout: 180)
        #expect(write.exitCode != 0 && write.lines(startingWith: "ACKED 3").count == 1, "\(write)")
        let killed = ScratchFile(directory: dir, path: dir.path("chronolog-archive.h5"))
        let clean = ArchiveReader.verify(path: killed.path)
        #expect(clean.isValid && clean.uncommittedRows == 0, "\(clean)")
        #expect(clean.fileStates.map(\.state) == [.notClosed(committedRounds: 3, rounds: 3)], "\(clean)")

        // Round 2 was committed (its writeRound returned): its last row failing is damage.
        let committed = try copy(killed)
        let row = try ArchiveSurgery.flipIndexByte(file: committed.path, chronicle: chronicle, story: shared, row: -1, column: 4)
        #expect(row.round == 2)
        let damaged = ArchiveReader.verify(path: committed.path)
        #expect(damaged.problems.contains { $0.location.hasSuffix("/index row \(row.row)") && $0.detail.contains(shared) }, "\(damaged)")
        let answer = try ArchiveReader(path: committed.path).read(chronicle: chronicle, story: shared, range: whole)
        #expect(answer.completeness.status == .damaged, "\(answer.completeness)")

        // Had the writer been killed before committing round 2, the same row is a crash tail.
        let torn = try copy(killed)
        try ArchiveSurgery.rollBackCommit(file: torn.path, toRounds: 2)
        try ArchiveSurgery.flipIndexByte(file: torn.path, chronicle: chronicle, story: shared, row: -1, column: 4)
        let tail = ArchiveReader.verify(path: torn.path)
        #expect(tail.isValid && tail.uncommittedRows > 0, "\(tail)")
        #expect(tail.fileStates.map(\.state) == [.notClosed(committedRounds: 2, rounds: 3)], "\(tail)")
        let partial = try ArchiveReader(path: torn.path).read(chronicle: chronicle, story: shared, range: whole)
        #expect(partial.completeness.status == .crashTail && partial.completeness.legacyFiles.isEmpty, "\(partial.completeness)")
    }

    @Test("a later job reopening a file with a damaged committed row keeps the damage visible (no void row over it)")
    func reopenKeepsDamage() throws {
        let dir = try ScratchDirectory()
        let first = try MPIJob.run(ranks: 1, [checks, "write", "--dir", dir.path, "--rounds", "3"], timeout: 180)
        try #require(first.exitCode == 0, "\(first)")
        let file = dir.path("chronolog-archive.h5")
        let row = try ArchiveSurgery.flipIndexByte(file: file, chronicle: chronicle, story: shared, row: -1, column: 4)
        let second = try MPIJob.run(ranks: 1, [checks, "write", "--dir", dir.path, "--rounds", "2", "--run", "1"], timeout: 180)
        try #require(second.exitCode == 0, "\(second)")
        let report = ArchiveReader.verify(path: file)
        #expect(report.problems.contains { $0.location.hasSuffix("/index row \(row.row)") }, "\(report)")
        #expect(report.fileStates.map(\.state) == [.closedCleanly(rounds: 5)], "\(report)")
    }

    @Test("a job appending to a file written before commit records adds one: the file then reads closed cleanly, every event there")
    func legacyFileAppended() throws {
        let dir = try ScratchDirectory()
        let first = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "3"], timeout: 180)
        try #require(first.exitCode == 0, "\(first)")
        let file = dir.path("chronolog-archive.h5")
        try ArchiveSurgery.deleteCommitRecord(file: file)
        #expect(ArchiveReader.verify(path: file).fileStates.map(\.state) == [.legacy(rounds: 3)])
        let second = try MPIJob.run(ranks: 2, [checks, "write", "--dir", dir.path, "--rounds", "2", "--run", "1"], timeout: 180)
        try #require(second.exitCode == 0, "\(second)")
        let both = try MPIJob.runCommand([checks, "verify", "--dir", dir.path, "--ranks", "2,2", "--rounds", "3,2"], timeout: 120)
        #expect(both.exitCode == 0 && both.stdout.contains("closed cleanly after 5 rounds"), "\(both)")
    }

    @Test("the h5py reader of docs/ARCHIVE.md recomputes every checksum: a flipped payload byte or a damaged row of a closed file fails it")
    func documentedReaderFindsDamage() throws {
        let original = try pristine()
        let scriptDir = try ScratchDirectory()
        let script = scriptDir.path("archive_read.py")
        try ArchiveDocs.pythonExample().write(toFile: script, atomically: true, encoding: .utf8)
        let good = try MPIJob.runCommand([ArchiveDocs.python, script, original.path], timeout: 120)
        #expect(good.exitCode == 0 && good.stdout.split(separator: "\n").count > 50, "\(good)")

        let reader = try ArchiveReader(path: original.path)
        let big = try reader.events(chronicle: "..dots and spaces..", story: "groß", range: whole)
        let payloadFlipped = try copy(original)
        try flipFirst(Array(big.recordBytes(at: 0).dropFirst(30_000).prefix(32)), in: payloadFlipped.path)
        let payload = try MPIJob.runCommand([ArchiveDocs.python, script, payloadFlipped.path], timeout: 120)
        #expect(payload.exitCode != 0 && payload.stderr.contains("ArchiveDamage") && payload.stderr.contains("payload checksum"),
                "\(payload)")

        let rowFlipped = try copy(original)
        try ArchiveSurgery.flipIndexByte(file: rowFlipped.path, chronicle: chronicle, story: shared, row: -1, column: 4)
        let row = try MPIJob.runCommand([ArchiveDocs.python, script, rowFlipped.path], timeout: 120)
        #expect(row.exitCode != 0 && row.stderr.contains("row checksum mismatch"), "\(row)")
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
