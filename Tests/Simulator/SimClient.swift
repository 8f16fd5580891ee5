import ChronoModel
import ChronoRuntime

/// A simulated writer: one client of the job logging to one story through the keeper protocol
/// the real client speaks (a registering watermark batch, event batches each carrying the
/// client's watermark, idle watermarks, a last batch with watermark `UInt64.max`), with at most
/// `maxPending` batches unacknowledged. Its clock may be skewed (ahead or lagging). With the real
/// visor it connects, creates the chronicle, acquires its story (the reply names its keepers),
/// releases it (and acquires it again when it restarts), and disconnects, as the real client does.
final class SimClient {
    enum Phase { case connecting, creating, acquiring, registering, logging, closing, releasing, done }

    let rank: Int
    let storyId: StoryID
    let storyName: String
    /// The keeper it logs to, from the acquire's reply (-1 before).
    private(set) var keeperRank = -1
    let clock: SkewedClock
    private let channel: SimControlTransport
    let visor: SimVisorLink
    private let world: SimWorld
    // The workload, drawn from the seed.
    let eventCount: Int
    let batchEvents: Int
    let maxPending: Int
    let gap: (low: Int64, high: Int64)
    let payloadBytes: Int
    /// How late its first batch leaves after each acquire (a client whose flusher does not run for
    /// a while on a loaded node), for a client that logs before its registration is acknowledged:
    /// its events wait in the batch meanwhile. The keeper must count it a writer from the visor's
    /// notice, or those events find their range sealed by the other writers and the clock.
    let firstShipDelay: Duration
    private var holdShipsUntil: ContinuousClock.Instant
    private let watermarkInterval: UInt64

    private(set) var phase = Phase.connecting
    /// The events this session logs before it releases the story.
    private var sessionEnd: Int
    /// Times it released the story and acquired it again.
    private(set) var restarts = 0
    /// Every event logged, by index.
    private(set) var logged: [Event] = []
    /// Indexes acknowledged by the keeper as taken (rc success, nothing rejected).
    private(set) var acknowledged: Set<UInt32> = []
    /// Events the keeper answered as rejected (late under a reject policy, or not recorded).
    private(set) var rejected: UInt64 = 0
    private var batch: [Event] = []
    /// The durable flush waiting for its reply: its sequence, and how many events were shipped before it.
    private var durableAsked: (sequence: UInt64, shipped: Int)?
    /// Whether it waits for the reply to a durable flush.
    var waitsForDurable: Bool { durableAsked != nil }
    private var durableSequence: UInt64 = 0
    /// Durable flushes answered.
    private(set) var durableFlushes = 0
    /// Durable flushes that succeeded before their events were archived.
    private(set) var durabilityViolations: [String] = []
    /// Indexes the keeper rejected (not expected in the archive).
    private(set) var rejectedIndexes: Set<UInt32> = []
    /// Events shipped before the latest durable flush that succeeded: indexes below it are durable.
    private(set) var durableShipped = 0
    private var unacked = 0
    private var floor: UInt64 = 0
    private var nextEventAt: ContinuousClock.Instant
    private var lastSentAt: UInt64 = 0
    private var sentLast = false

    init(rank: Int, storyId: StoryID, storyName: String, clock: SkewedClock, channel: SimControlTransport, world: SimWorld,
         rng: inout SplitMix64) {
        (self.rank, self.storyId, self.storyName) = (rank, storyId, storyName)
        self.clock = clock
        self.channel = channel
        visor = SimVisorLink(rank: rank, channel: channel, mode: .writer, clock: clock)
        self.world = world
        eventCount = Int.random(in: 20...300, using: &rng)
        // Now and then a writer releases its story halfway and acquires it again (the recording
        // stops and restarts when it was the only holder).
        sessionEnd = rng.chance(0.3) ? eventCount / 2 : eventCount
        batchEvents = rng.pick([1, 4, 16, 64])
        maxPending = rng.pick([1, 2, 8])
        gap = rng.pick([(Int64(1), Int64(20)), (10, 500), (100, 3000)])
        payloadBytes = rng.pick(world.scenario.payloadChoices)
        watermarkInterval = world.config.watermarkIntervalNanoseconds
        nextEventAt = clock.instant()
        holdShipsUntil = clock.instant()
        firstShipDelay = rng.pick([.zero, .zero, .milliseconds(30), .milliseconds(60)])
    }

    /// The id the visor gave it (`.none` before it connected).
    var clientId: ClientID { visor.clientId }

    /// Whether this client logs only once its registration is acknowledged, as the real client
    /// does (clients with an even id); the others log at once. Neither may see an event late: the
    /// keeper waits for a holder from the visor's notice on, before its first batch.
    var waitsForRegistration: Bool { clientId.rawValue % 2 == 0 }

    /// Whether it acquired its story at least once (its chronicle and story exist in the visor).
    private(set) var acquiredOnce = false

    /// The visor's answer to its request of the current phase.
    private func visorReplied(_ message: ControlMessage) throws {
        switch (phase, message) {
        case (.creating, .reply(let r)):
            // Every writer creates the chronicle; all but the first find it there.
            guard r.rc == .success || r.rc == .chronicleExists else { throw SimClientError("create: \(r.rc) \(r.detail)") }
            try acquire()
        case (.acquiring, .acquireReply(let r)):
            guard r.rc == .success else { throw SimClientError("client \(clientId): acquire of \(storyName): \(r.rc) \(r.detail)") }
            acquiredOnce = true
            keeperRank = Int(AcquireReply.writerKeeper(of: clientId, among: r.keeperRanks))
            // The recording started (the group acknowledged the visor's notices): register with the
            // keeper by a watermark-only batch, and log (see ``waitsForRegistration``).
            phase = .registering
            if !waitsForRegistration && firstShipDelay > .zero {
                holdShipsUntil = clock.instant() + firstShipDelay  // no registration batch: it logs at once
            } else {
                try ship(watermark: clock.now())
            }
        case (.releasing, .reply(let r)):
            guard r.rc == .success else { throw SimClientError("client \(clientId): release of \(storyName): \(r.rc) \(r.detail)") }
            if sessionEnd == eventCount {
                phase = .done
                try visor.close()
            } else {
                sessionEnd = eventCount
                restarts += 1
                try acquire()
            }
        default:
            throw SimClientError("client \(clientId) in phase \(phase): unexpected \(message.type) from the visor")
        }
    }

    private func acquire() throws {
        phase = .acquiring
        try visor.request(.acquireStory(StoryRequest(clientId: clientId, chronicle: SimWorld.chronicle, story: storyName)))
    }

    /// Whether it disconnected and told the visor it finished.
    var finished: Bool { visor.state == .closed }

    /// One turn: take acknowledgements, log what is due, ship full or lingering batches, send an
    /// idle watermark, close when every event is logged. - Returns: whether anything happened.
    func step() throws -> Bool {
        let (talked, reply) = try visor.step()
        var did = talked
        if let reply { try visorReplied(reply) }
        if phase == .connecting && visor.ready {
            phase = .creating
            try visor.request(.createChronicle(CreateChronicleRequest(clientId: clientId, chronicle: SimWorld.chronicle)))
            did = true
        }
        while let (bytes, _) = try channel.poll(tag: .flow) {
            did = true
            let message = try ControlMessage.decode(bytes)
            if case .durableReply(let reply) = message { durableReplied(reply) }
            guard case .batchAck(let ack) = message else { continue }
            unacked -= 1
            if ack.rc == .success && ack.rejected == 0 {
                for i in 0..<ack.count { acknowledged.insert(ack.firstIndex + i) }
            } else {
                rejected += UInt64(ack.rejected)
                for i in 0..<ack.count { rejectedIndexes.insert(ack.firstIndex + i) }
            }
        }
        switch phase {
        case .connecting, .creating, .acquiring, .releasing, .done: return did
        case .registering:
            guard unacked == 0 || !waitsForRegistration else { return did }
            phase = .logging
            nextEventAt = clock.instant()
            return true
        case .logging:
            let now = clock.instant()
            let shipping = now >= holdShipsUntil
            // A full batch waits for room in the window, and its writer with it: the real client's
            // `log` ships a batch once it holds `batchEvents` and blocks while the window is full,
            // so no batch is larger (the keeper's memory bound counts on it).
            while logged.count < sessionEnd && nextEventAt <= now && batch.count < batchEvents {
                let record = [UInt8](repeating: UInt8(truncatingIfNeeded: logged.count), count: payloadBytes)
                let e = Event(time: max(clock.now(), floor), clientId: clientId, index: UInt32(logged.count), record: record)
                logged.append(e)
                batch.append(e)
                nextEventAt = nextEventAt + world.rng.microseconds(gap.low, gap.high)
                did = true
            }
            if !shipping {
                // Its flusher has not run yet: nothing leaves.
            } else if !batch.isEmpty && unacked < pendingLimit && (batch.count >= batchEvents || logged.count == sessionEnd) {
                try ship(watermark: max(clock.now(), floor))
                did = true
            } else if batch.isEmpty && clock.now() >= lastSentAt &+ watermarkInterval {
                let w = max(clock.now(), floor)
                floor = w
                lastSentAt = clock.now()
                let set = WatermarkSet(contributor: clientId.rawValue, entries: [.init(storyId: storyId, watermark: w)])
                try channel.post(ControlMessage.watermarks(set).encode(), to: keeperRank, tag: .events)
                did = true
            }
            if shipping && batch.isEmpty && durableAsked == nil && logged.count > 0 && world.rng.chance(world.durableFlushChance) {
                try askDurable()
                did = true
            }
            if shipping && logged.count == sessionEnd && batch.isEmpty && unacked < pendingLimit {
                try ship(watermark: .max)
                phase = .closing
                did = true
            }
        case .closing:
            if unacked == 0 && durableAsked == nil {
                phase = .releasing
                try visor.request(.releaseStory(StoryRequest(clientId: clientId, chronicle: SimWorld.chronicle, story: storyName,
                                                             eventCount: UInt64(logged.count))))
                did = true
            }
        }
        return did
    }

    /// Asks the keeper for a durable flush of every event shipped so far (after them on the same
    /// tag, as the real client does).
    private func askDurable() throws {
        durableSequence += 1
        durableAsked = (durableSequence, logged.count)
        // With its watermark, as the real client: past every event logged, a promise for the later
        // ones; the keeper cuts the story's open range there.
        let watermark = max(clock.now(), floor, (logged.last?.time ?? 0) &+ 1)
        floor = watermark
        let request = DurableRequest(storyId: storyId, clientId: clientId, sequence: durableSequence, watermark: watermark)
        try channel.post(ControlMessage.durableRequest(request).encode(), to: keeperRank, tag: .events)
    }

    /// A durable flush answered: with success, every event shipped before it must be in the
    /// archive now (the promise of `flush(durable: true)`).
    private func durableReplied(_ reply: DurableReply) {
        guard let asked = durableAsked, reply.sequence == asked.sequence else { return }
        durableAsked = nil
        durableFlushes += 1
        guard reply.rc == .success else { return }
        durableShipped = max(durableShipped, asked.shipped)
        let missing = (0..<asked.shipped).filter { i in
            !world.archive.holds(story: storyName, client: clientId.rawValue, index: UInt32(i)) && !rejectedIndexes.contains(UInt32(i))
        }
        if let first = missing.first {
            durabilityViolations.append("durable: a durable flush of client \(clientId) in \(storyName) succeeded with "
                                        + "\(missing.count) of its \(asked.shipped) events not archived (first index \(first))")
        }
    }

    private func ship(watermark: UInt64) throws {
        let b = try EventBatch(storyId: storyId, clientId: clientId, watermark: watermark, events: batch)
        batch.removeAll()
        if watermark != .max { floor = max(floor, watermark) }
        lastSentAt = clock.now()
        unacked += 1
        try channel.post(ControlMessage.eventBatch(b).encode(), to: keeperRank, tag: .events)
    }

    /// Batches it may have unacknowledged: `maxPending`, unless the mutation makes it ignore flow control.
    private var pendingLimit: Int { world.mutation == .writersIgnoreFlowControl ? .max : maxPending }

    /// The most bytes this writer can have in its keeper's memory unacknowledged (its unacknowledged
    /// batches, full), by the flow-control protocol.
    var pendingBytesBound: Int { maxPending * batchEvents * (EventRecord.byteSize + payloadBytes) }

    /// When this client next has something to do on its own (its next event).
    var nextWake: ContinuousClock.Instant? { phase == .logging && logged.count < sessionEnd ? nextEventAt : nil }

    /// The client's counters, as a real client reports them.
    var counters: Counters { [.eventsLogged: UInt64(logged.count), .eventsRejected: rejected] }
}
