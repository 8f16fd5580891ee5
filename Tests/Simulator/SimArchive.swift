import ChronoArchive
import ChronoModel
import ChronoRuntime

/// One archived event as the simulated archive holds it.
public struct ArchivedEvent: Hashable, Sendable {
    public let story: String
    public let time: UInt64
    public let client: UInt64
    public let index: UInt32
    public let record: [UInt8]
}

/// The simulated archive file: rounds kept in memory, each written by every grapher together
/// (``SimGraphers`` completes the collective, each grapher's ``SimArchiveWriter`` brings its
/// chunks) and taking a duration drawn from the run's generator (the graphers are busy
/// meanwhile), and a full disk from a chosen round on: that round and every later one fail on
/// every grapher, as ``ArchiveWriter`` does after `No space left on device`.
public final class SimArchive {
    /// Every chunk of every successful round, in the order written.
    public private(set) var chunks: [(story: String, chunk: StoryChunk)] = []
    /// Rounds that wrote something.
    public private(set) var rounds = 0
    private struct Key: Hashable {
        let story: String
        let client: UInt64
        let index: UInt32
    }
    /// Every event stored, for the durable flushes' checks.
    private var stored: Set<Key> = []
    /// Mutation: rounds are reported durable but stored only at the next round (a write-back cache).
    var storesOneRoundLate = false
    private var late: [ArchiveChunk] = []
    /// The round (counting from 1) from which the disk is full, nil: never.
    let fullFromRound: Int?
    /// Events of rounds that failed.
    public private(set) var eventsInFailedRounds = 0
    /// Why no more rounds can be written (a round failed, or the archive was closed), nil while they can.
    private(set) var unusable: String?
    private var world: SimWorld
    /// The last round that wrote something: where its chunks begin in ``chunks``, and when it commits
    /// (its duration after it began; a job killed before then leaves it uncommitted).
    var lastRound: (first: Int, commitsAt: ContinuousClock.Instant)?
    /// Mutations: a round reported durable that lost its last chunk; a round that stores a chunk twice;
    /// a failed round that kept its data after all.
    var dropsLastChunk = false
    var duplicatesChunk = false
    var keepsFailedRound = false
    /// Mutation: reads leave the story's first archived chunk out.
    var readsSkipFirstChunk = false

    init(world: SimWorld, fullFromRound: Int?) {
        self.world = world
        self.fullFromRound = fullFromRound
    }

    /// Writes and flushes one round, each grapher's chunks (in the graphers' rank order): nothing
    /// when no grapher brought any, else a round every grapher is busy for, which fails on every
    /// grapher once the disk is full.
    /// - Returns: each grapher's outcome, in the order given.
    func writeRound(_ parts: [(rank: Int, chunks: [ArchiveChunk])]) -> [Result<ArchiveRoundReport, ArchiveError>] {
        let chunks = parts.flatMap(\.chunks)
        guard !chunks.isEmpty else {
            let empty = ArchiveRoundReport(round: nil, chunks: 0, events: 0, payloadBytes: 0, bytesWritten: 0, totalEvents: 0,
                                           totalBytesWritten: 0, storiesCreated: 0, elapsedSeconds: 0, flushSeconds: 0)
            return parts.map { _ in .success(empty) }
        }
        let duration = world.roundBegins(duration: world.roundDuration())
        for p in parts { world.makeBusy(p.rank, for: duration) }
        let events = chunks.reduce(0) { $0 + $1.chunk.count }
        if let full = fullFromRound, rounds + 1 >= full {
            unusable = "No space left on device"
            eventsInFailedRounds += events
            if keepsFailedRound { store(chunks) }
            let error = ArchiveError.writeFailed(rank: 0, detail: "No space left on device (simulated full disk at round \(rounds + 1))")
            return parts.map { _ in .failure(error) }
        }
        rounds += 1
        lastRound = (self.chunks.count, world.clock.instant() + duration)
        var kept = chunks
        if storesOneRoundLate { swap(&kept, &late) }
        if dropsLastChunk, rounds % 3 == 0, kept.count > 0 { kept.removeLast() }
        store(kept)
        if duplicatesChunk, rounds % 3 == 0, let c = kept.first { self.chunks.append((c.story, c.chunk)) }
        let allEvents = events
        return parts.map { p in
            let payload = p.chunks.reduce(0) { $0 + $1.chunk.payload.count }
            return .success(ArchiveRoundReport(round: UInt64(rounds), chunks: p.chunks.count, events: p.chunks.reduce(0) { $0 + $1.chunk.count },
                                               payloadBytes: payload, bytesWritten: payload, totalEvents: allEvents,
                                               totalBytesWritten: payload, storiesCreated: 0,
                                               elapsedSeconds: Double(duration / .microseconds(1)) / 1e6, flushSeconds: 0))
        }
    }

    /// Closes the file (every grapher closed it): a write-back cache stores what it held.
    func close() {
        if unusable == nil { unusable = "closed" }
        store(late)
        late = []
    }

    private func store(_ chunks: [ArchiveChunk]) {
        for c in chunks {
            self.chunks.append((c.story, c.chunk))
            for r in c.chunk.records { stored.insert(Key(story: c.story, client: r.clientId, index: r.index)) }
        }
    }

    /// The job was killed (every rank, as `mpirun` ends a job whose rank was SIGKILLed) at `now`.
    /// A round committed by then stays whole. The round in progress, if any, leaves the rows
    /// `keeping` says (of its chunks, in the order written) and no more: none when the kill came
    /// before its flush, all when it came between the flush and the commit record, a prefix when
    /// HDF5's metadata reached the file only in part (docs/ARCHIVE.md, "After a crash, or damage":
    /// valid rows of an uncommitted round are read, invalid ones are a crash tail, voided on reopen).
    /// What a write-back cache held is gone.
    /// - Returns: the crashed round's chunks and how many of them survived, nil when no round was in progress.
    func crash(at now: ContinuousClock.Instant, keeping: (Int) -> Int) -> (chunks: Int, kept: Int)? {
        late = []
        defer { lastRound = nil }
        guard let round = lastRound, round.commitsAt > now else { return nil }
        let total = chunks.count - round.first
        let kept = min(total, max(0, keeping(total)))
        chunks.removeSubrange((round.first + kept)...)
        stored = []
        for (story, chunk) in chunks {
            for r in chunk.records { stored.insert(Key(story: story, client: r.clientId, index: r.index)) }
        }
        return (total, kept)
    }

    /// The archive as the job restarted after a ``crash(at:keeping:)`` opens it: the same rows,
    /// written on by `world`'s graphers.
    func reopened(by world: SimWorld) -> SimArchive {
        self.world = world
        unusable = nil
        return self
    }

    /// Whether the event is stored (durable) now.
    func holds(story: String, client: UInt64, index: UInt32) -> Bool {
        stored.contains(Key(story: story, client: client, index: index))
    }

    /// Every archived event, in the order written (chunk by chunk).
    public var events: [ArchivedEvent] {
        chunks.flatMap { c in
            (0..<c.chunk.count).map { i in
                let e = c.chunk.event(at: i)
                return ArchivedEvent(story: c.story, time: e.time, client: e.clientId.rawValue, index: e.index, record: e.record)
            }
        }
    }
}

/// A role's clock in the simulation: the run's manual clock, its event time skewed by a fixed
/// offset (a node whose clock is ahead or behind); elapsed time is the run's.
struct SkewedClock: RoleClock {
    let base: ManualRoleClock
    let skew: Int64

    func now() -> UInt64 {
        let t = base.now()
        return skew >= 0 ? t &+ UInt64(skew) : t &- UInt64(-skew)
    }

    func instant() -> ContinuousClock.Instant { base.instant() }
}

/// The player's view of the simulated archive: the rounds written so far, read window by window
/// (of about the player's piece size). A window that fits the player's slot is also read "straight": encoded into
/// the slot, and when larger than the player's threshold with its payload left apart, in up to
/// three parts of memory of its own (as HDF5 chunks lie apart in a file) that the player lends.
final class SimArchiveSource: ArchiveSource {
    private let archive: SimArchive

    init(_ archive: SimArchive) { self.archive = archive }

    private func parts(_ story: String, _ range: TimeRange) throws(ArchiveError) -> [StoryChunk] {
        var chunks = archive.chunks.filter { $0.story == story }
        guard !chunks.isEmpty else { throw .storyNotFound(chronicle: SimWorld.chronicle, story: story) }
        if archive.readsSkipFirstChunk { chunks.removeFirst() }
        return chunks.map { $0.chunk.slice(range) }.filter { !$0.isEmpty }
    }

    /// Windows of about `maxBytes` of the archived events, as the real reader cuts them: each
    /// ends where the event that would pass `maxBytes` starts, never between events of one time.
    func firstWindow(chronicle: String, story: String, range: TimeRange, maxBytes: Int,
                     toleratingDamage: Bool) throws(ArchiveError) -> TimeRange {
        let parts = try parts(story, range)
        guard let merged = try? StoryChunk.merge(parts) else { return range }
        var bytes = 0
        for i in 0..<merged.count {
            let r = merged.records[i]
            bytes += EventRecord.byteSize + Int(r.length)
            if bytes > maxBytes, i > 0, r.time > merged.records[i - 1].time, r.time > range.start {
                return TimeRange(start: range.start, end: r.time)
            }
        }
        return range
    }

    func read(chronicle: String, story: String, range: TimeRange) throws(ArchiveError) -> ArchiveAnswer {
        let parts = try parts(story, range)
        let storyId: StoryID
        do {
            storyId = StoryID(chronicle: try ChronicleName(chronicle), story: try StoryName(story))
            let merged = try StoryChunk.merge(parts) ?? .empty(storyId: storyId, range: range)
            return ArchiveAnswer(events: merged, completeness: ArchiveCompleteness())
        } catch {
            throw .corrupt(location: story, detail: "\(error)")
        }
    }

    func readEncoded(chronicle: String, story: String, window: TimeRange,
                     into destination: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> EncodedWindow? {
        try readEncoded(chronicle: chronicle, story: story, window: window, into: destination, lendingPayloadAbove: nil)
    }

    func readEncoded(chronicle: String, story: String, window: TimeRange, into destination: UnsafeMutableRawBufferPointer,
                     lendingPayloadAbove threshold: Int?) throws(ArchiveError) -> EncodedWindow? {
        let answer = try read(chronicle: chronicle, story: story, range: window)
        guard answer.completeness.isComplete, !answer.events.isEmpty else { return nil }
        let bytes = answer.events.encode()
        guard bytes.count <= destination.count else { return nil }
        let head = StoryChunk.headerByteCount + answer.events.count * EventRecord.byteSize
        let lend = threshold.map { bytes.count > $0 && bytes.count > head } ?? false
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(rebasing: destination[0..<(lend ? head : bytes.count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(lend ? head : bytes.count)]))
        }
        guard lend else { return EncodedWindow(byteCount: bytes.count, eventCount: answer.events.count) }
        let box = SimLentPayload(Array(bytes[head...]))
        return EncodedWindow(byteCount: bytes.count, eventCount: answer.events.count,
                             payloadInPlace: InPlacePayload(parts: box.parts, owner: box))
    }

    /// No time index here: reading starts at the range's start (always correct, never shortest).
    func lastWindowStart(chronicle: String, story: String, range: TimeRange, count: Int) throws(ArchiveError) -> UInt64 {
        _ = try parts(story, range)
        return range.start
    }
}

/// A window's payload the simulated archive leaves "in place": a copy of its own, cut into up to
/// three parts, scribbled over when the player lets go of it (a peer reading it after that reads
/// garbage, as it would an unmapped file's pages).
final class SimLentPayload {
    private let memory: UnsafeMutableRawBufferPointer
    let parts: [UnsafeRawBufferPointer]

    init(_ bytes: [UInt8]) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
        memory.copyBytes(from: bytes)
        let n = bytes.count, cuts = [0, n / 3, (2 * n) / 3, n]
        self.memory = memory
        parts = zip(cuts, cuts.dropFirst()).filter { $0 < $1 }.map { UnsafeRawBufferPointer(rebasing: memory[$0..<$1]) }
    }

    deinit {
        memory.initializeMemory(as: UInt8.self, repeating: 0xEE)
        memory.deallocate()
    }
}
