import CheckHarness
import ArgumentParser
import ChronoArchive
import ChronoModel
import HDF5
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// Archive programs run by ArchiveTests: collective writes under mpirun, serial verification,
/// the expected events as text (for the h5py read-back), and the write-bandwidth measurement.
@main
struct ArchiveChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-checks",
        abstract: "ChronoArchive checks.",
        subcommands: [Write.self, Verify.self, Expected.self, Bench.self])
}

/// Parses `2` or `2,3` (a value for each job run).
func parseList(_ text: String, _ option: String) throws -> [Int] {
    let values = text.split(separator: ",").compactMap { Int($0) }
    guard !values.isEmpty, values.count == text.split(separator: ",").count, values.allSatisfy({ $0 > 0 }) else {
        throw ValidationError("\(option) takes positive integers separated by commas, e.g. 2 or 2,4")
    }
    return values
}

extension ArchiveChecks {
    /// Every rank archives the fixture's chunks for `--rounds` rounds (job run `--run`), then
    /// closes. With `--kill-after-ms`, the last rank kills the whole job (SIGKILL to itself) after
    /// that many milliseconds, while rounds keep being written; rank 0 prints `ACKED <n>` after each
    /// round returns (n rounds acknowledged durable). With `--kill-after-rounds`, every rank kills
    /// itself (SIGKILL) once its last round returned, before `close()`: a writer killed right after
    /// a flush, deterministically.
    struct Write: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "write")
        @Option(help: "Archive directory.") var dir: String
        @Option(help: "Rounds to write.") var rounds = 3
        @Option(name: .customLong("run"), help: "Job run number (0 for the first job on this archive).") var jobRun = 0
        @Option(help: "Kill the job after this many milliseconds (crash test).") var killAfterMs: Int?
        @Option(help: "Kill the job (SIGKILL) after this many rounds returned, before closing.") var killAfterRounds: Int?
        @Option(help: "Largest index row in bytes (archive.maxRowBytes; default the writer's).") var maxRowBytes: Int?
        @Flag(help: "Print ROUND-IO rank=<r> round=<k> wrote=<report's bytes> syscall=<bytes passed to write calls> per round.")
        var printIO = false

        func run() throws {
            runUnderMPI("archive write") { world in
                let comm = try world.duplicate()
                let (rank, size) = (comm.rank, comm.size)
                let writer = try ArchiveWriter.open(directory: dir, communicator: comm)
                if let maxRowBytes { writer.maxRowBytes = maxRowBytes }
                if let killAfterMs, rank == size - 1 {
                    let ms = killAfterMs
                    var thread = pthread_t()
                    let box = UnsafeMutablePointer<Int>.allocate(capacity: 1)
                    box.pointee = ms
                    pthread_create(&thread, nil, { arg in
                        let ms = arg!.assumingMemoryBound(to: Int.self).pointee
                        usleep(useconds_t(ms * 1000))
                        raise(SIGKILL)
                        return nil
                    }, box)
                }
                var total = 0
                for round in 0..<rounds {
                    let chunks = ArchiveFixture.chunks(run: jobRun, ranks: size, rank: rank, round: round)
                    let before = syscallWriteBytes()
                    let report = try writer.writeRound(chunks)
                    if printIO {
                        say("ROUND-IO rank=\(rank) round=\(round) wrote=\(report.bytesWritten) syscall=\(syscallWriteBytes() - before)")
                    }
                    try expect(report.events == chunks.reduce(0) { $0 + $1.chunk.count }, "report counts \(report.events) events")
                    total += report.events
                    if rank == 0 {
                        say("ACKED \(round + 1)")
                        if killAfterMs == nil { say("ROUND \(report)") }
                    }
                    if let killAfterRounds, round + 1 == killAfterRounds {
                        fflush(nil)
                        raise(SIGKILL)
                    }
                }
                // Bad input is refused on every rank alike, and the writer stays usable.
                if killAfterMs == nil {
                    let bad: [ArchiveChunk] = rank == size - 1
                        ? [ArchiveChunk(chronicle: "a/b", story: "s", chunk: .empty(storyId: StoryID(rawValue: 1),
                                                                                    range: TimeRange(start: 0, end: 1)))]
                        : []
                    do {
                        _ = try writer.writeRound(bad)
                        throw CheckFailure(description: "a bad chronicle name was accepted")
                    } catch ArchiveError.invalidChunk(let r, _) {
                        try expect(r == size - 1, "refusal attributed to rank \(r)")
                    }
                    let empty = try writer.writeRound([])
                    try expect(empty.round == nil, "an all-empty round wrote something")
                }
                try writer.close()
                try comm.free()
                say("WROTE rank=\(rank) events=\(total)")
            }
        }
    }

    /// Regenerates the expected events (no MPI) and checks `ArchiveReader` returns exactly them for
    /// whole and random sub-ranges, lists exactly the expected stories, and `verify()` is clean.
    /// With `--acked-rounds`, the last run was killed: events of acknowledged rounds must all be
    /// there and nothing else than events of the rounds written.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify")
        @Option(help: "Archive directory or file.") var dir: String
        @Option(help: "Ranks of each job run, comma-separated (e.g. 2 or 2,4).") var ranks: String
        @Option(help: "Rounds of each run, comma-separated (the last applies to later runs).") var rounds = "3"
        @Option(help: "Rounds acknowledged before the crashed run was killed.") var ackedRounds: Int?
        @Option(help: "The run that was killed (default: the last).") var crashedRun: Int?
        @Option(help: "Random sub-ranges per story.") var queries = 40

        func run() throws {
            let perRun = try parseList(ranks, "--ranks"), roundsPerRun = try parseList(rounds, "--rounds")
            runSerial("archive verify") {
                let reader = try ArchiveReader(path: dir)
                let verification = reader.verify()
                say("VERIFY \(verification)")
                try expect(verification.isValid, "verification found problems")
                // After a kill, at most the two rounds after the acknowledged ones were under way.
                let full = ArchiveFixture.expected(ranksPerRun: perRun, roundsPerRun: roundsPerRun,
                                                   acknowledgedRounds: ackedRounds.map { $0 + 2 }, crashedRun: crashedRun)
                let acked = ArchiveFixture.expected(ranksPerRun: perRun, roundsPerRun: roundsPerRun, acknowledgedRounds: ackedRounds,
                                                    crashedRun: crashedRun)
                let listed = try reader.chronicles()
                var listedKeys: Set<StoryKeyText> = []
                for c in listed {
                    for s in c.stories {
                        listedKeys.insert(StoryKeyText(chronicle: s.chronicle, story: s.name))
                        try expect(s.chronicle == c.name, "story \(s.name) listed under \(c.name)")
                        if let e = acked[StoryKeyText(chronicle: s.chronicle, story: s.name)] {
                            try expect(s.eventCount >= e.count, "\(s.chronicle)/\(s.name) lists \(s.eventCount) events, expected ≥ \(e.count)")
                            for r in e.records {
                                try expect(s.durableRanges.contains { $0.contains(r.time) },
                                           "\(s.chronicle)/\(s.name) durable ranges \(s.durableRanges) miss event time \(r.time)")
                            }
                        }
                    }
                }
                if ackedRounds == nil {
                    try expect(listedKeys == Set(full.keys), "stories listed \(listedKeys.sorted()) expected \(full.keys.sorted())")
                } else {
                    try expect(Set(acked.keys).isSubset(of: listedKeys) && listedKeys.isSubset(of: Set(full.keys)),
                               "stories listed \(listedKeys.sorted())")
                }
                var checked = 0
                var mostWindows = 0
                var rng = SplitMix(seed: 42)
                for key in full.keys.sorted() {
                    let all = TimeRange(start: 0, end: UInt64.max)
                    guard listedKeys.contains(key) else { continue }
                    let got = try reader.events(chronicle: key.chronicle, story: key.story, range: all)
                    try expect(got.range == all, "result range \(got.range)")
                    let expectedFull = full[key]!
                    if ackedRounds == nil {
                        try expect(got.records == expectedFull.records && got.payload == expectedFull.payload,
                                   "\(key.chronicle)/\(key.story): \(got.count) events read, \(expectedFull.count) expected")
                        mostWindows = max(mostWindows, try ArchiveChecks.checkWindows(reader, key, expected: expectedFull))
                        // Random sub-ranges, some partial, some empty, some outside.
                        let span = expectedFull.range
                        for _ in 0..<queries {
                            let a = span.start &- 1000 &+ rng.next() % (span.duration + 2000)
                            let b = a &+ rng.next() % (span.duration / 2 + 1)
                            let window = TimeRange(start: a, end: b)
                            let part = try reader.events(chronicle: key.chronicle, story: key.story, range: window)
                            let want = expectedFull.slice(window)
                            try expect(part.records == want.records && part.payload == want.payload,
                                       "\(key.chronicle)/\(key.story) \(window): \(part.count) events, expected \(want.count)")
                            checked += 1
                        }
                    } else {
                        // Acknowledged ⊆ read ⊆ written.
                        if let must = acked[key] {
                            let union = try got.merged(with: must)
                            try expect(union.records == got.records && union.payload == got.payload,
                                       "\(key.chronicle)/\(key.story): acknowledged events missing (\(got.count) read, \(must.count) acknowledged)")
                        }
                        let union = try got.merged(with: expectedFull)
                        try expect(union.records == expectedFull.records && union.payload == expectedFull.payload,
                                   "\(key.chronicle)/\(key.story): events that were never written")
                    }
                }
                do {
                    _ = try reader.events(chronicle: "nope", story: "nope", range: TimeRange(start: 0, end: 1))
                    throw CheckFailure(description: "a missing story was found")
                } catch ArchiveError.storyNotFound {}
                // Stories of many chunks are cut into many windows (a single chunk keeps one of its own).
                try expect(ackedRounds != nil || mostWindows > 4, "no story was cut into windows of 2 KiB (at most \(mostWindows))")
                say("CHECKED stories=\(full.count) subranges=\(checked) events=\(full.values.reduce(0) { $0 + $1.count })")
            }
        }
    }

    /// Reads the story window by window (what a player does), at two window sizes: the windows
    /// follow each other and cover everything, the events read
    /// window by window are exactly the story's, and every window the encoded read takes straight
    /// from the file decodes to the same events.
    /// - Returns: the windows of 2 KiB the story was cut into.
    static func checkWindows(_ reader: ArchiveReader, _ key: StoryKeyText, expected: StoryChunk) throws -> Int {
        var cut = 0
        let all = TimeRange(start: 0, end: .max)
        let bytes = expected.count * EventRecord.byteSize + expected.payload.count
        var slot = [UInt8](repeating: 0, count: 4 << 20)
        for maxBytes in [2048, 1 << 20] {
            var cursor = all.start
            var windows = 0, straight = 0, mapped = 0
            var records: [EventRecord] = []
            var payload: [UInt8] = []
            while cursor < all.end {
                let rest = TimeRange(start: cursor, end: all.end)
                let window = try reader.firstWindow(chronicle: key.chronicle, story: key.story, range: rest, maxBytes: maxBytes)
                try expect(window.start == cursor && window.end > cursor && window.end <= all.end, "window \(window) after \(cursor)")
                let part = try reader.events(chronicle: key.chronicle, story: key.story, range: window)
                for r in part.records {
                    var moved = r
                    moved.offset += UInt64(payload.count)
                    records.append(moved)
                }
                payload += part.payload
                let encoded = try slot.withUnsafeMutableBytes { raw in
                    try reader.readEncoded(chronicle: key.chronicle, story: key.story, window: window, into: raw)
                }
                if let encoded {
                    let decoded = try StoryChunk.decode(slot[0..<encoded.byteCount])
                    try expect(decoded.records == part.records && decoded.payload == part.payload,
                               "\(key.chronicle)/\(key.story) \(window): the straight read differs from the merged read")
                    straight += 1
                    // The payload left in the mapped file (as a player lends it): header and records
                    // in the slot, then the parts, make the same encoded chunk.
                    var head = [UInt8](repeating: 0, count: slot.count)
                    let lent = try head.withUnsafeMutableBytes { raw in
                        try reader.readEncoded(chronicle: key.chronicle, story: key.story, window: window, into: raw, lendingPayloadAbove: 0)
                    }
                    if let lent, let inPlace = lent.payloadInPlace {
                        let assembled = Array(head[0..<lent.writtenByteCount]) + inPlace.parts.flatMap { Array($0) }
                        let same = assembled == Array(slot[0..<encoded.byteCount])
                        try expect(same,
                                   "\(key.chronicle)/\(key.story) \(window): the payload left in place differs from the copied one")
                        mapped += 1
                    }
                }
                cursor = window.end
                windows += 1
            }
            try expect(records == expected.records && payload == expected.payload,
                       "\(key.chronicle)/\(key.story): \(records.count) events read window by window (\(maxBytes) B), \(expected.count) expected")
            say("WINDOWS \(key.chronicle)/\(key.story) max=\(maxBytes) bytes=\(bytes) windows=\(windows) straight=\(straight) mapped=\(mapped)")
            try expect(mapped == straight, "\(key.chronicle)/\(key.story): \(mapped) of \(straight) straight windows could leave their payload in place")
            if maxBytes == 2048 { cut = max(cut, windows) }
        }
        return cut
    }
}

extension ArchiveChecks {
    /// Prints every expected event as `chronicle<TAB>story<TAB>time<TAB>client<TAB>index<TAB>hex`,
    /// stories in byte order of their names, events in event order: what the h5py read-back prints.
    struct Expected: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "expected")
        @Option(help: "Ranks of each job run, comma-separated.") var ranks: String
        @Option(help: "Rounds of each run, comma-separated (the last applies to later runs).") var rounds = "3"

        func run() throws {
            let expected = ArchiveFixture.expected(ranksPerRun: try parseList(ranks, "--ranks"),
                                                  roundsPerRun: try parseList(rounds, "--rounds"))
            let hex = Array("0123456789abcdef".utf8)
            for key in expected.keys.sorted() {
                let chunk = expected[key]!
                for i in 0..<chunk.count {
                    let r = chunk.records[i]
                    var text: [UInt8] = []
                    for b in chunk.recordBytes(at: i) {
                        text.append(hex[Int(b >> 4)])
                        text.append(hex[Int(b & 15)])
                    }
                    print("\(key.chronicle)\t\(key.story)\t\(r.time)\t\(r.clientId)\t\(r.index)\t\(String(decoding: text, as: UTF8.self))")
                }
            }
        }
    }
}

/// A small deterministic generator for the random sub-ranges.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
