import ChronoModel
import Synchronization

/// A story acquired by a client: where it is recorded, and the buffer its events go into.
///
/// `logEvent` appends to a per-story client buffer and returns the event's timestamp at once;
/// batches ship to the keeper of the story's group (`keeperRanks[clientId % keeperRanks.count]`)
/// when full (`client.batchEvents`, `client.batchBytes`), after `client.lingerMicroseconds`, on
/// ``flush()``, on release and on disconnect. At most `client.maxPendingBatches` batches wait for
/// the keeper's acknowledgement; when that window is full, `logEvent` waits (back-pressure: a slow
/// keeper or grapher slows its writers; no event is ever dropped).
///
/// Thread-safe: any number of threads may log to the same handle.
public final class StoryHandle: @unchecked Sendable {
    /// The chronicle's name.
    public let chronicle: String
    /// The story's name.
    public let story: String
    /// The story's stable id.
    public let storyId: StoryID
    /// The recording group that records it.
    public let groupId: UInt32
    /// World ranks of the group's keepers.
    public let keeperRanks: [Int]
    /// World rank of the group's grapher.
    public let grapherRank: Int
    /// World rank of the group's player.
    public let playerRank: Int
    /// World rank of the keeper this client's events for the story go to.
    public let keeperRank: Int
    private let valid = Atomic<Bool>(true)
    weak var client: ChronoLogClient?
    let ingest: StoryIngest

    init(client: ChronoLogClient, chronicle: String, story: String, reply: AcquireReply, clientId: ClientID,
         firstIndex: UInt32, clock: any ChronoClock, context: IngestContext, settings: IngestSettings) {
        self.client = client
        self.chronicle = chronicle
        self.story = story
        self.storyId = reply.storyId
        self.groupId = reply.groupId
        self.keeperRanks = reply.keeperRanks.map { Int($0) }
        self.grapherRank = Int(reply.grapherRank)
        self.playerRank = Int(reply.playerRank)
        keeperRank = Int(AcquireReply.writerKeeper(of: clientId, among: reply.keeperRanks))
        ingest = StoryIngest(chronicle: chronicle, story: story, storyId: reply.storyId, clientId: clientId,
                             keeperRank: keeperRank, firstIndex: firstIndex, settings: settings, clock: clock,
                             transport: context.transport, router: context.router)
    }

    /// Whether the handle still refers to an acquired story (false after release or disconnect).
    public var isValid: Bool { valid.load(ordering: .relaxed) }

    func invalidate() { valid.store(false, ordering: .relaxed) }

    // MARK: - Logging (ChronoLog's log_event)

    /// Logs one event whose record is `bytes` (the fastest form: no copy besides the one into the
    /// batch buffer, no allocation).
    /// - Returns: the event's timestamp (visor time, ns since the epoch); 0 on failure, as in
    ///   ChronoLog: the record is larger than `story.maxEventBytes` (counted in `events.rejected`),
    ///   the handle was released, or the keeper is unreachable. ``log(bytes:)`` says which.
    public func logEvent(bytes: UnsafeRawBufferPointer) -> UInt64 {
        do { return try ingest.log(bytes) } catch { return 0 }
    }

    /// Logs one event whose record is `record`.
    /// - Returns: the event's timestamp; 0 on failure (see ``logEvent(bytes:)``).
    public func logEvent(_ record: [UInt8]) -> UInt64 {
        record.withUnsafeBytes { logEvent(bytes: $0) }
    }

    /// Logs one event whose record is the UTF-8 encoding of `text`.
    /// - Returns: the event's timestamp; 0 on failure (see ``logEvent(bytes:)``).
    public func logEvent(_ text: String) -> UInt64 {
        if let t = text.utf8.withContiguousStorageIfAvailable({ logEvent(bytes: UnsafeRawBufferPointer($0)) }) { return t }
        return logEvent(Array(text.utf8))
    }

    /// Logs one event whose record is `bytes`, throwing on failure.
    /// - Returns: the event's timestamp (visor time, ns).
    /// - Throws: `.eventRejected` (−2) if the record is larger than `story.maxEventBytes`;
    ///   `.storyNotAcquired` (−5) after release or disconnect; `.noConnection` (−8) if the keeper
    ///   acknowledges nothing for the stall limit (max of `timeouts.shutdownDrainMs` and
    ///   `timeouts.connectMs`) or the channel fails; `.invalidArgument` (−2) once the client's 2^32
    ///   indexes for the story are used up.
    public func log(bytes: UnsafeRawBufferPointer) throws(ChronoLogError) -> UInt64 {
        try ingest.log(bytes)
    }

    /// Logs one event whose record is `record`, throwing on failure (see ``log(bytes:)``).
    public func log(_ record: [UInt8]) throws(ChronoLogError) -> UInt64 {
        let result: Result<UInt64, ChronoLogError> = record.withUnsafeBytes { raw in
            Result { () throws(ChronoLogError) -> UInt64 in try ingest.log(raw) }
        }
        return try result.get()
    }

    /// Logs one event whose record is the UTF-8 encoding of `text`, throwing on failure (see ``log(bytes:)``).
    public func log(_ text: String) throws(ChronoLogError) -> UInt64 {
        let contiguous: Result<UInt64, ChronoLogError>? = text.utf8.withContiguousStorageIfAvailable { utf8 in
            Result { () throws(ChronoLogError) -> UInt64 in try ingest.log(UnsafeRawBufferPointer(utf8)) }
        }
        if let contiguous { return try contiguous.get() }
        return try log(Array(text.utf8))
    }

    /// Ships the events buffered so far and waits until the keeper acknowledged every batch of
    /// this handle sent before the call returns. Not collective.
    /// - Throws: `.storyNotAcquired` (−5) after release or disconnect; `.noConnection` (−8) if the
    ///   keeper stalls or the channel fails.
    public func flush() throws(ChronoLogError) {
        try ingest.flush()
    }

    /// Ships the events buffered so far; with `durable`, also waits until every event this client
    /// logged to the story before the call is durable in the archive (flushed to the HDF5 file by
    /// the grapher), not only held by the keeper. Not collective.
    /// - Returns: with `durable`, the number of this client's events in the story that are durable
    ///   (all it logged, less any refused); otherwise nil.
    /// - Throws: like ``flush()``; with `durable`, `.unknown` (−1) when some events could not be
    ///   archived (a failed archive write), `.noConnection` (−8) when the keeper does not answer
    ///   within the stall limit.
    @discardableResult
    public func flush(durable: Bool) throws(ChronoLogError) -> UInt64? {
        guard durable else {
            try ingest.flush()
            return nil
        }
        return try ingest.flushDurable().durableEvents
    }

    /// Events this client logged through this handle (accepted, not rejected).
    public var eventsLogged: UInt64 { ingest.stats.eventsLogged }

    /// This handle's ingest counters.
    public var ingestStats: IngestStats { ingest.stats }
}
