import ChronoSystem
import ChronoModel
import Fabric
import Synchronization

/// The client side of one story's event ingest: the buffer `logEvent` appends to, the batches it
/// ships to the story's keeper, and the window of unacknowledged batches that slows writers down
/// when the keeper (or the grapher behind it) falls behind.
///
/// One per held story and client. Thread-safe: any number of threads may log, flush and close
/// concurrently.
///
/// **Locks.** `buffer` (one `Mutex`, uncontended for a single writer) guards the batch builder
/// (a batch is built in the frame it is sent from); it is held while a batch is sent and while a writer waits
/// for room in the window, so writers of one story ship in index order. Acknowledgements never
/// take it (they update atomics and the small `acks` lock), so whoever polls the transport can
/// deliver them while a writer holds `buffer`. Lock order: `buffer` → transport → router → `acks`.
///
/// **Per event** (the hot path): a size check, one clock read, one lock, a copy of the record
/// into preallocated storage. No allocation, no message, no system call; a batch is encoded and
/// sent only when full (`batchEvents` / `batchBytes`) or older than the linger time.
@_spi(IngestTesting)
public final class StoryIngest: @unchecked Sendable {
    /// The story.
    public let storyId: StoryID
    /// The logging client.
    public let clientId: ClientID
    /// World rank of the keeper this client's batches for the story go to.
    public let keeperRank: Int
    /// The parameters.
    public let settings: IngestSettings
    let chronicle: String
    let story: String
    private let clock: any ChronoClock
    private let transport: any IngestTransport
    private let router: AckRouter

    private struct Buffer {
        var builder: EventBatchBuilder
        /// The highest watermark promised so far: no later event may have a smaller time.
        var floor: UInt64 = 0
        /// Visor time of the last batch sent (0: none yet, so the first flusher round registers
        /// the client with its keeper by a watermark).
        var lastShip: UInt64 = 0
        var open = true
        var failure: ChronoLogError?
        var eventsLogged: UInt64 = 0
        var bytesLogged: UInt64 = 0
    }

    private struct AckState {
        var expectedFirstIndex: UInt32
        var eventsAcked: UInt64 = 0
        var eventsRefused: UInt64 = 0
        var eventsUnauthorized: UInt64 = 0
        var outOfOrder: UInt64 = 0
        /// The keeper's refusal of a batch as not authorized (−9): every later call reports it.
        var refusal: ChronoLogError?
    }

    private let buffer: Mutex<Buffer>
    private let acks: Mutex<AckState>
    private let batchesSent = Atomic<Int>(0)
    private let batchesAcked = Atomic<Int>(0)
    private let rejected = Atomic<UInt64>(0)
    private let windowWaits = Atomic<UInt64>(0)
    private let windowWaitNanoseconds = Atomic<UInt64>(0)
    private let retired = Atomic<Bool>(false)
    /// Replies to durable flushes, by sequence, until their flush takes them.
    private let durableReplies = Mutex<[UInt64: DurableReply]>([:])
    private let nextDurableSequence = Atomic<UInt64>(1)
    /// Durable flushes waiting for their reply (raised under `buffer` while the buffer is open):
    /// the router keeps routing this story's replies to them after ``close()``, and the last one
    /// to finish removes the route.
    private let durableWaiters = Atomic<Int>(0)
    /// Set when ``close()`` has its last acknowledgements: from then on whichever of it and the
    /// durable waiters finishes last stops the routing (sequentially consistent, both sides: each
    /// writes its own flag, then reads the other's).
    private let closeDone = Atomic<Bool>(false)
    /// Whether the builder holds events (set by the first event of a batch, cleared when a batch
    /// ships; both under `buffer`): the flusher visits such stories every round, the others less often.
    private let holdsEvents = Atomic<Bool>(false)
    /// Set once a keeper refused a batch as not authorized (the error is in `acks`): one relaxed
    /// load per logged event, so the hot path takes no second lock.
    private let refused = Atomic<Bool>(false)

    /// Creates the buffer of one story, preallocating a full batch. The creator registers it with
    /// `router` (``AckRouter/add(_:)``) before it sends anything.
    /// - Parameters:
    ///   - firstIndex: the index of the first event (0 for a new client id; a client that
    ///     re-acquires a story continues where it stopped).
    ///   - clock: visor time (the client clock corrected by the measured offset).
    public init(chronicle: String, story: String, storyId: StoryID, clientId: ClientID, keeperRank: Int,
                firstIndex: UInt32, settings: IngestSettings, clock: any ChronoClock,
                transport: any IngestTransport, router: AckRouter) {
        self.chronicle = chronicle
        self.story = story
        self.storyId = storyId
        self.clientId = clientId
        self.keeperRank = keeperRank
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.router = router
        let state = Buffer(builder: EventBatchBuilder(
            storyId: storyId, clientId: clientId, firstIndex: firstIndex, maxEvents: settings.batchEvents,
            maxBytes: settings.batchBytes, maxEventBytes: settings.maxEventBytes,
            lingerNanoseconds: settings.lingerNanoseconds))
        buffer = Mutex(state)
        acks = Mutex(AckState(expectedFirstIndex: firstIndex))
    }

    // MARK: - Logging

    /// Appends one event and returns its timestamp (visor time, ns).
    /// Waits (back-pressure) when a full batch must ship and the window of unacknowledged batches is full.
    /// - Throws: `.eventRejected` if `record` is larger than `maxEventBytes` (counted; nothing is
    ///   buffered); `.storyNotAcquired` after ``close()``; `.noConnection` when the keeper stalls
    ///   or the channel fails; `.invalidArgument` when the story's 2^32 indexes are used up.
    @inline(__always)
    public func log(_ record: UnsafeRawBufferPointer) throws(ChronoLogError) -> UInt64 {
        guard record.count <= settings.maxEventBytes else {
            rejected.add(1, ordering: .relaxed)
            throw .eventRejected("event of \(record.count) bytes exceeds story.maxEventBytes (\(settings.maxEventBytes))")
        }
        if refused.load(ordering: .relaxed) { try throwRefusal() }
        let now = clock.now()
        return try buffer.withLock { (b: inout Buffer) throws(ChronoLogError) -> UInt64 in
            if let failure = b.failure { throw failure }
            guard b.open else { throw .storyNotAcquired(chronicle: chronicle, story: story) }
            let key = try b.builder.append(time: now > b.floor ? now : b.floor, record: record)
            if b.builder.count == 1 { holdsEvents.store(true, ordering: .relaxed) }
            b.eventsLogged &+= 1
            b.bytesLogged &+= UInt64(record.count)
            if b.builder.isFull || b.builder.isDue(now: key.time) {
                try ship(&b, watermark: key.time, now: now)
            }
            return key.time
        }
    }

    /// Ships the pending events (if any) and waits until every batch sent so far is acknowledged.
    /// - Throws: `.storyNotAcquired` after ``close()``; `.noConnection` when the keeper stalls or the channel fails;
    ///   `.notAuthorized` (−9) when the keeper refused a batch (this client does not hold the story
    ///   from this rank); the refused events are counted (`events.refused.unauthorized`), not stored.
    public func flush() throws(ChronoLogError) {
        try shipAndWait(evenIfEmpty: false)
    }

    /// Flushes, then waits until the keeper reports every event of this client that it accepted
    /// for the story before the call durable in the archive (a batch acknowledgement only says the
    /// keeper holds the events).
    /// - Returns: the keeper's reply (events of this client in the story durable so far).
    /// - Throws: like ``flush()``; `.unknown` when some of the events could not be archived (a
    ///   failed archive write: they are counted as lost in the job summary); `.noConnection` when
    ///   no reply comes within the stall limit.
    @discardableResult
    public func flushDurable() throws(ChronoLogError) -> DurableReply {
        try flush()
        let sequence = nextDurableSequence.wrappingAdd(1, ordering: .relaxed).oldValue
        // Under the buffer lock, so the request follows this handle's batches on the same tag.
        try buffer.withLock { (b: inout Buffer) throws(ChronoLogError) in
            if let failure = b.failure { throw failure }
            // Released by another thread since the flush above: nothing can be asked of the keeper.
            guard b.open else { throw .storyNotAcquired(chronicle: chronicle, story: story) }
            let now = clock.now()
            // Events another thread logged since the flush leave first: the promise below covers them.
            if !b.builder.isEmpty { try ship(&b, watermark: max(now, b.floor), now: now) }
            // The request promises that this handle's later events come at or after `watermark`,
            // past every event it logged: the keeper can cut the story's open range there instead
            // of waiting for the range to end (up to `story.chunkDurationMs`).
            let watermark = max(now, b.floor, b.builder.lastTime &+ 1)
            b.floor = watermark
            let request = DurableRequest(storyId: storyId, clientId: clientId, sequence: sequence, watermark: watermark)
            try transport.send(ControlMessage.durableRequest(request).encode(), to: keeperRank)
            durableWaiters.add(1, ordering: .relaxed)
        }
        // A release (``close()``) while this waits leaves the reply routed here; the last waiter
        // of a released story then stops the routing.
        defer {
            if durableWaiters.subtract(1, ordering: .sequentiallyConsistent).newValue == 0
                && closeDone.load(ordering: .sequentiallyConsistent) { router.remove(self) }
        }
        var backoff = IdleBackoff.durableWait
        let deadline = ContinuousClock.now + settings.durableLimit
        while true {
            // Acknowledgements of other batches routed here are not the answer: they do not reset
            // the back-off (under a stream they came at every poll, and this loop never slept).
            _ = try transport.pollAcks(into: router)
            if let reply = durableReplies.withLock({ $0.removeValue(forKey: sequence) }) {
                if reply.rc == .notAuthorized {
                    throw .notAuthorized("keeper rank \(keeperRank) refused a durable flush of story \(chronicle)/\(story)")
                }
                guard reply.rc == .success else {
                    throw .unknown("\(reply.failedEvents) events of story \(chronicle)/\(story) could not be made durable "
                                   + "(\(reply.durableEvents) are; the archive write failed or the keeper ended first)")
                }
                return reply
            }
            if ContinuousClock.now > deadline {
                throw .noConnection("keeper rank \(keeperRank) did not report the events of story \(chronicle)/\(story) "
                                    + "durable within \(settings.durableLimit)")
            }
            backoff.idle()
        }
    }

    /// Records a reply to a durable flush (called by the ``AckRouter``).
    func durableReplied(_ reply: DurableReply) {
        durableReplies.withLock { $0[reply.sequence] = reply }
    }

    /// Sends a watermark-only batch (watermark = now) and waits for its acknowledgement: the
    /// registration the flusher's first round sends without waiting, answered −9 by a keeper the
    /// client does not hold the story at.
    /// - Throws: like ``flush()``.
    public func announce() throws(ChronoLogError) {
        try shipAndWait(evenIfEmpty: true)
    }

    private func shipAndWait(evenIfEmpty: Bool) throws(ChronoLogError) {
        let target = try buffer.withLock { (b: inout Buffer) throws(ChronoLogError) -> Int in
            if let failure = b.failure { throw failure }
            guard b.open else { throw .storyNotAcquired(chronicle: chronicle, story: story) }
            if evenIfEmpty || !b.builder.isEmpty {
                let now = clock.now()
                try ship(&b, watermark: max(now, b.floor), now: now)
            }
            return batchesSent.load(ordering: .acquiring)
        }
        try waitUntil { batchesAcked.load(ordering: .acquiring) >= target }
        if refused.load(ordering: .acquiring) { try throwRefusal() }
    }

    /// Throws the keeper's refusal recorded by ``acknowledge(_:)``.
    private func throwRefusal() throws(ChronoLogError) {
        if let refusal = acks.withLock({ $0.refusal }) { throw refusal }
    }

    /// Ends this client's contribution to the story: ships the pending events, then a final
    /// watermark-only batch with watermark `UInt64.max`, waits for every acknowledgement and stops
    /// routing acknowledgements here. Later `log` calls throw `.storyNotAcquired`. Idempotent.
    /// - Returns: the index the client's next event in this story would get (a later re-acquire
    ///   continues there).
    /// - Throws: `.noConnection` when the keeper stalls or the channel fails, `.notAuthorized` (−9)
    ///   when the keeper refused a batch (the buffer is closed anyway).
    @discardableResult
    public func close() throws(ChronoLogError) -> UInt32 {
        // A durable flush still waiting for its reply stops the routing itself when it has it
        // (no flush starts after the buffer closed).
        defer {
            closeDone.store(true, ordering: .sequentiallyConsistent)
            if durableWaiters.load(ordering: .sequentiallyConsistent) == 0 { router.remove(self) }
        }
        let (target, next) = try buffer.withLock { (b: inout Buffer) throws(ChronoLogError) -> (Int, UInt32) in
            let next = UInt32(truncatingIfNeeded: min(b.builder.nextIndex, UInt64(UInt32.max)))
            guard b.open else { return (batchesSent.load(ordering: .acquiring), next) }
            b.open = false
            if let failure = b.failure { throw failure }
            let now = clock.now()
            if !b.builder.isEmpty { try ship(&b, watermark: max(now, b.floor), now: now) }
            try ship(&b, watermark: .max, now: now)
            return (batchesSent.load(ordering: .acquiring), next)
        }
        try waitUntil { batchesAcked.load(ordering: .acquiring) >= target }
        if refused.load(ordering: .acquiring) { try throwRefusal() }
        return next
    }

    /// Returns true exactly once (to the caller that moves this buffer's counters to its session's totals).
    func claimRetirement() -> Bool { !retired.exchange(true, ordering: .acquiringAndReleasing) }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { buffer.withLock { !$0.open } }

    /// The index the next logged event gets.
    public var nextIndex: UInt32 {
        buffer.withLock { UInt32(truncatingIfNeeded: min($0.builder.nextIndex, UInt64(UInt32.max))) }
    }

    // MARK: - Background work

    /// Idle watermarks a session sends per second at most, whatever its number of stories:
    /// with more than `watermarkInterval × rate` stories held, each idle story's interval grows.
    public static let idleWatermarksPerSecond: UInt64 = 50_000

    /// The interval between an idle story's watermarks in a session holding `stories` stories: the
    /// configured interval, spaced out so the session sends at most ``idleWatermarksPerSecond``
    /// of them (they travel many to a message, but the keeper still applies each one).
    public func idleWatermarkInterval(storiesHeld stories: Int) -> UInt64 {
        max(settings.watermarkIntervalNanoseconds, UInt64(max(stories, 1)) * (1_000_000_000 / Self.idleWatermarksPerSecond))
    }

    /// Whether events wait in the buffer for a batch (the flusher ships them after the linger time).
    public var holdsPendingEvents: Bool { holdsEvents.load(ordering: .relaxed) }

    /// What one flusher round did for a story (``tick(storiesHeld:)``).
    public enum Tick: Equatable, Sendable {
        /// Nothing was due (or a writer held the buffer, or the window was full for a batch).
        case nothing
        /// A batch was sent: lingering events, or the watermark-only batch that registers this
        /// client with the keeper when nothing was sent yet.
        case shipped
        /// The story is idle and its watermark is due: the caller sends it to ``keeperRank`` in one
        /// ``WatermarkSet`` with the other idle stories' (no batch, no acknowledgement). The floor
        /// is raised already, so no later event of this story is earlier than it.
        case idle(watermark: UInt64)
    }

    /// One round of the background flusher for this story: ships the pending batch if it is older
    /// than the linger time; or, if nothing was sent for the idle watermark interval
    /// (``idleWatermarkInterval(storiesHeld:)``), returns the story's watermark for the caller to
    /// send with the others (``IngestFlusher/round(_:everyStory:transport:sets:)``). Never waits: does nothing
    /// while a writer holds the buffer.
    /// - Parameter storiesHeld: stories the session holds (the flusher's count), 1 by default.
    public func tick(storiesHeld: Int = 1) -> Tick {
        let now = clock.now()
        let interval = idleWatermarkInterval(storiesHeld: storiesHeld)
        let outcome: Tick? = buffer.withLockIfAvailable { (b: inout Buffer) -> Tick in
            guard b.open, b.failure == nil else { return .nothing }
            let quietFor = now >= b.lastShip ? now - b.lastShip : 0
            if b.builder.isEmpty && b.lastShip != 0 {
                guard quietFor >= interval else { return .nothing }
                let watermark = max(now, b.floor)
                b.floor = watermark
                b.lastShip = now
                return .idle(watermark: watermark)
            }
            guard inFlight < settings.maxPendingBatches, b.lastShip == 0 || b.builder.isDue(now: now) else { return .nothing }
            do {
                try ship(&b, watermark: max(now, b.floor), now: now)
                return .shipped
            } catch {
                return .nothing  // recorded in `failure` by `ship`; the next call on the handle reports it
            }
        }
        return outcome ?? .nothing
    }

    // MARK: - Acknowledgements

    /// Records one acknowledgement (called by the ``AckRouter``).
    func acknowledge(_ ack: BatchAck) {
        acks.withLock { a in
            if ack.firstIndex != a.expectedFirstIndex { a.outOfOrder &+= 1 }
            a.expectedFirstIndex = ack.firstIndex &+ ack.count
            a.eventsAcked &+= UInt64(ack.count - min(ack.rejected, ack.count))
            a.eventsRefused &+= UInt64(ack.rejected)
            if ack.rc == .notAuthorized {
                a.eventsUnauthorized &+= UInt64(ack.rejected)
                if a.refusal == nil {
                    a.refusal = .notAuthorized("keeper rank \(keeperRank) refused a batch of \(ack.count) event(s) of story "
                                               + "\(chronicle)/\(story): client \(clientId) does not hold it from this rank")
                }
            }
        }
        if ack.rc == .notAuthorized { refused.store(true, ordering: .releasing) }
        batchesAcked.add(1, ordering: .releasing)
    }

    /// Batches sent and not yet acknowledged.
    public var inFlight: Int { batchesSent.load(ordering: .acquiring) - batchesAcked.load(ordering: .acquiring) }

    /// This story's counters.
    public var stats: IngestStats {
        var s = IngestStats()
        buffer.withLock { b in
            s.eventsLogged = b.eventsLogged
            s.bytesLogged = b.bytesLogged
        }
        acks.withLock { a in
            s.eventsAcked = a.eventsAcked
            s.eventsRefused = a.eventsRefused
            s.eventsUnauthorized = a.eventsUnauthorized
            s.acksOutOfOrder = a.outOfOrder
        }
        s.batchesSent = UInt64(batchesSent.load(ordering: .relaxed))
        s.batchesAcked = UInt64(batchesAcked.load(ordering: .relaxed))
        s.eventsRejected = rejected.load(ordering: .relaxed)
        s.windowWaits = windowWaits.load(ordering: .relaxed)
        s.windowWaitMicroseconds = windowWaitNanoseconds.load(ordering: .relaxed) / 1000
        return s
    }

    // MARK: - Shipping

    /// Encodes the pending events (possibly none) as one batch and sends it, after waiting for room
    /// in the window. Called with `buffer` held.
    private func ship(_ b: inout Buffer, watermark: UInt64, now: UInt64) throws(ChronoLogError) {
        if inFlight >= settings.maxPendingBatches {
            windowWaits.add(1, ordering: .relaxed)
            let started = ContinuousClock.now
            defer {
                let waited = (ContinuousClock.now - started).components
                windowWaitNanoseconds.add(UInt64(waited.seconds) &* 1_000_000_000 &+ UInt64(waited.attoseconds / 1_000_000_000),
                                          ordering: .relaxed)
            }
            do {
                try waitUntil(backoff: Self.windowWait) { inFlight < settings.maxPendingBatches }
            } catch {
                b.failure = error
                throw error
            }
        }
        holdsEvents.store(false, ordering: .relaxed)
        if watermark > b.floor { b.floor = watermark }
        b.lastShip = now
        do {
            // Built in the frame it is sent from: the events' bytes are not copied on their way out.
            let frame = b.builder.takeFrame(watermark: watermark,
                                            replacement: EventBatchFrames.take(capacity: b.builder.frameCapacity))
            try transport.send(frame: consume frame, to: keeperRank)
        } catch {
            b.failure = error
            throw error
        }
        batchesSent.add(1, ordering: .releasing)
    }

    /// The back-off of a writer whose window is full. The keeper acknowledges a batch only after
    /// ingesting the ones before it (milliseconds under load, longer when it holds acknowledgements
    /// back), so the writer sleeps soon instead of yielding: on an oversubscribed node a yielding
    /// writer takes the CPU from the keeper and grapher it waits for. A window still holds
    /// `maxPendingBatches − 1` batches when the writer wakes, so throughput does not suffer.
    static var windowWait: IdleBackoff {
        IdleBackoff(yieldsBeforeSleeping: 2, minSleepNanoseconds: 20_000, maxSleepNanoseconds: 200_000)
    }

    /// Polls the transport for acknowledgements (backing off) until `done()` holds.
    /// - Throws: `.noConnection` when no acknowledgement for this story arrives within the stall
    ///   limit, or the transport fails.
    private func waitUntil(backoff: IdleBackoff = .replyWait, _ done: () -> Bool) throws(ChronoLogError) {
        var backoff = backoff
        var lastAcked = batchesAcked.load(ordering: .acquiring)
        var lastProgress = ContinuousClock.now
        while !done() {
            let worked = try transport.pollAcks(into: router)
            let acked = batchesAcked.load(ordering: .acquiring)
            let progressed = acked != lastAcked
            if progressed {
                lastAcked = acked
                lastProgress = .now
            } else if ContinuousClock.now - lastProgress > settings.stallLimit {
                throw .noConnection("keeper rank \(keeperRank) acknowledged none of \(inFlight) outstanding batches "
                                    + "of story \(chronicle)/\(story) within \(settings.stallLimit)")
            }
            backoff.step(didWork: worked || progressed)
        }
    }
}
