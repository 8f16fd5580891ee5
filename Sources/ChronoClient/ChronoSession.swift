import ChronoRuntime
import ChronoSystem
import Fabric
import ChronoModel
import MPI
import Synchronization

/// A rank's connection to the ChronoLog-Swift service of its job: where the visor and the
/// recording groups are (from the job layout) and the MPI channel to reach them.
///
/// One session per process. Clients created on it share it; at most one request to the visor is
/// in flight per session at a time, so any number of threads may use clients of the same session.
/// Every request carries a request id the visor echoes in its answer (``ReplyMatcher``): an answer
/// that arrives after its request timed out is dropped (`replies.stale`), never taken by the next
/// request as its own.
///
/// Event ingest: every story handle of every client of the session ships its batches through the
/// session's channel; one background thread per session (started at the first acquire, stopped
/// by ``finish()``) ships lingering batches, sends idle watermarks and receives acknowledgements.
/// ``ingestCounters`` sums the ingest counters of every handle; ``replayCounters`` counts how
/// replay pieces were read.
public final class ChronoSession: @unchecked Sendable {
    /// The job layout every rank agreed on.
    public let layout: JobLayout
    /// The effective configuration.
    public let config: ChronoConfig
    /// The communicator of the job's client ranks (for workloads that coordinate), if any.
    public let peers: Communicator?
    let channel: Mutex<ControlChannel>
    /// The ids of requests to the visor; locked inside `channel`'s lock.
    private let requests: Mutex<ReplyMatcher>
    private let finished = Atomic<Bool>(false)
    private let ingest = Mutex<IngestContext?>(nil)
    /// Where replay pieces go, by query id.
    let replayInbox: ReplayInbox
    /// Whether this session reaches its job through an attach gateway (docs/ATTACH.md).
    public let isAttached: Bool
    /// Reads large replay pieces by RMA.
    let replayReader: ReplayReader
    /// How "last N" queries were answered.
    let lastStats = LastQueryStats()
    /// The last clock offset measured by a full exchange, and when (``ChronoLogClient/connect()``).
    let measuredClockOffset = Mutex<(offset: ClockOffset, at: ContinuousClock.Instant)?>(nil)

    /// What a test harness changed in this session's clients (nothing, for every session but a test's).
    let seams: ClientTestSeams

    /// Creates a session over an existing control channel. Not collective.
    public convenience init(layout: JobLayout, channel: sending ControlChannel, config: ChronoConfig, peers: Communicator? = nil) {
        self.init(layout: layout, channel: channel, config: config, peers: peers, seams: ClientTestSeams())
    }

    /// Creates a session whose clients a test harness changed (``ClientTestSeams``). Not collective.
    package init(layout: JobLayout, channel: sending ControlChannel, config: ChronoConfig, peers: Communicator? = nil,
                seams: ClientTestSeams) {
        self.seams = seams
        self.layout = layout
        let attached = channel.isAttached
        self.isAttached = attached
        // Attached clients behind one gateway share its rank: random query ids keep theirs apart.
        self.replayInbox = ReplayInbox(firstId: attached ? UInt64.random(in: 1...(UInt64.max >> 1)) : 1)
        // Their answers come back through the gateway's rank too: random request ids keep them apart.
        self.requests = Mutex(ReplyMatcher(first: attached ? UInt32.random(in: 1...UInt32.max) : 1))
        self.channel = Mutex(channel)
        self.config = config
        self.peers = peers
        self.replayReader = ReplayReader(
            provider: config.fabric.provider,
            slotBytes: config.replayPieceSlotBytes,
            registeredOnly: seams.registeredReadsOnly,
            mapFiles: config.client.mapArchiveFiles)
    }

    /// The visor's world rank.
    public var visorRank: Int { layout.plan.ranks(of: .visor).first ?? 0 }

    /// Sends a request to the visor and waits for its answer, backing off while waiting. Answers
    /// carrying another request's id (late answers to requests that timed out) are dropped and
    /// counted (`replies.stale`).
    /// - Throws: `.noConnection` if the visor does not answer within `timeoutMs`, or the channel fails;
    ///   `.malformedMessage` if the answer does not decode.
    func call(_ request: ControlMessage, timeoutMs: Int) throws(ChronoLogError) -> ControlMessage {
        let visor = visorRank
        let result: Result<ControlMessage, ChronoLogError> = channel.withLock { channel in
            let id = requests.withLock { $0.begin() }
            defer { requests.withLock { $0.end() } }
            do {
                try channel.post(request.encode(requestId: id), to: visor, tag: .service)
                let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
                var backoff = IdleBackoff.replyWait
                while true {
                    if let (bytes, _) = try channel.poll(tag: .reply, from: visor) {
                        try channel.progress()
                        let answer = try requests.withLock { matcher throws(ChronoLogError) in try matcher.take(bytes) }
                        if let answer { return .success(answer) }
                        continue
                    }
                    let progressed = try channel.progress()
                    if ContinuousClock.now >= deadline {
                        return .failure(.noConnection("the visor (rank \(visor)) did not answer within \(timeoutMs) ms"))
                    }
                    backoff.step(didWork: progressed)
                }
            } catch let error as ChronoLogError {
                return .failure(error)
            } catch {
                return .failure(.noConnection("control channel failed: \(error)"))
            }
        }
        return try result.get()
    }

    /// Sends a one-way notice to the visor.
    func notifyVisor(_ message: ControlMessage) throws(ChronoLogError) {
        let visor = visorRank
        try withChannel { channel in
            try channel.post(message.encode(), to: visor, tag: .service)
            try channel.drainSends()
        }
    }

    /// Throws `.noConnection` when the session can no longer reach the service: it finished, or
    /// (attached) its gateway said goodbye: the service stopped, or dropped this process after its
    /// lease. The goodbye is looked for now, so a process stopped past its lease learns it at its
    /// first call, not when its keep-alive thread next looks.
    package func requireUsable() throws(ChronoLogError) {
        guard !finished.load(ordering: .acquiring) else { throw .noConnection("the session has finished") }
        guard isAttached else { return }
        var gone = false
        try withChannel("watching for the gateway's goodbye") { channel in
            if !channel.gatewayGone, try channel.pollGateway(tag: .goodbye) != nil { channel.markGatewayGone() }
            gone = channel.gatewayGone
        }
        if gone {
            throw .noConnection("the service's gateway said goodbye: the service stopped, or dropped this process after "
                                + "attach.leaseMs without a sign of it")
        }
    }

    /// Runs `body` with the channel locked, then completes finished sends; any failure becomes
    /// `.noConnection` (`context`: what was being done, for the message).
    package func withChannel(_ context: @autoclosure () -> String = "control channel failed",
                     _ body: (ControlChannel) throws -> Void) throws(ChronoLogError) {
        let failure: ChronoLogError? = channel.withLock { channel in
            do {
                try body(channel)
                try channel.progress()
                return nil
            } catch {
                return Self.failure(error, context)
            }
        }
        if let failure { throw failure }
    }

    /// A channel call's error as a `ChronoLogError`: as it is, or `.noConnection` naming `context`.
    private static func failure(_ error: any Error, _ context: () -> String) -> ChronoLogError {
        (error as? ChronoLogError) ?? .noConnection("\(context()): \(error)")
    }

    /// Runs `body` like ``withChannel(_:_:)`` when no other thread holds the channel; else returns
    /// false at once without running it (that thread is driving the channel). For pollers that
    /// come back anyway: a writer's thread waiting for acknowledgements and the ingest flusher
    /// would otherwise queue on each other's lock (spinning, then sleeping in the kernel) for a
    /// sixth of a writer's CPU.
    /// - Returns: whether `body` ran.
    package func withChannelIfAvailable(_ context: @autoclosure () -> String = "control channel failed",
                                _ body: (ControlChannel) throws -> Void) throws(ChronoLogError) -> Bool {
        let outcome: ChronoLogError?? = channel.withLockIfAvailable { channel in
            do {
                try body(channel)
                try channel.progress()
                return nil
            } catch {
                return Self.failure(error, context)
            }
        }
        guard let outcome else { return false }
        if let failure = outcome { throw failure }
        return true
    }

    /// Receives every replay piece waiting (for any query of this process) into the inbox, and
    /// completes finished sends. Never blocks. - Returns: whether anything arrived or completed.
    func receiveReplayPieces() throws(ChronoLogError) -> Bool {
        var worked = false
        try withChannel { channel in
            worked = try channel.progress()
            while let (bytes, source) = try channel.poll(tag: .replay) {
                worked = true
                if case .replayPiece(let piece)? = try? ControlMessage.decode(bytes) {
                    replayInbox.deliver(piece, from: source)
                }
            }
        }
        return worked
    }

    /// The ingest machinery, created (and its flusher thread started) on first use.
    /// - Throws: `.noConnection` after ``finish()``.
    func ingestContext() throws(ChronoLogError) -> IngestContext {
        let context: IngestContext? = ingest.withLock { current in
            if let current { return current }
            guard !finished.load(ordering: .acquiring) else { return nil }
            let made = IngestContext(transport: SessionIngestTransport(session: self), settings: IngestSettings(config: config))
            made.flusher.start()
            current = made
            return made
        }
        guard let context else { throw .noConnection("the session has finished") }
        return context
    }

    /// A transport over this session's control channel that is not tied to any client: tests use
    /// it to send batches and watermarks as a misbehaving rank could (`@_spi(IngestTesting)`).
    @_spi(IngestTesting)
    public func makeIngestTransport() -> any IngestTransport { SessionIngestTransport(session: self) }

    /// Posts raw bytes to `rank` on `tag` of this session's control channel, as any rank of the job
    /// can: tests use it to check what service ranks do with messages from the wrong sender.
    /// - Throws: `.noConnection` when the channel fails.
    @_spi(IngestTesting)
    public func post(_ bytes: [UInt8], to rank: Int, tag: ControlTag) throws(ChronoLogError) {
        try withChannel("posting to rank \(rank) failed") { channel in try channel.post(bytes, to: rank, tag: tag) }
    }

    /// Ingest counters summed over every story handle of every client of this session (released
    /// ones included): `events.logged`, `bytes.logged`, `events.rejected`, `batches.sent`,
    /// `batches.acked`, `events.acked`, `events.refused`, `ingest.windowWaits`, `acks.outOfOrder`,
    /// `acks.stray`, `acks.malformed`. Empty while nothing was acquired. Suitable as (part of) the
    /// counters a job's client body returns.
    public var ingestCounters: Counters {
        guard let context = ingest.withLock({ $0 }) else { return [:] }
        var counters = context.stats.counters
        counters[.acksStray] = context.router.strayAcks
        counters[.acksMalformed] = context.router.malformedAcks
        return counters
    }

    /// Replay counters of this session: `replay.pieces.inPlace` (RMA pieces whose payload was read
    /// straight into the caller's chunk) and `replay.pieces.decoded` (read whole into registered
    /// memory and decoded), empty before the first RMA piece; `replay.last.direct` ("last N"
    /// queries the story's keepers answered directly), `replay.last.player` (those sent through
    /// the visor to the player) and `replay.routes` (read routes asked), empty before the first.
    public var replayCounters: Counters { replayReader.counters.merging(lastStats.counters) { $1 } }

    /// Counters of this session's requests to the visor: `replies.stale` (answers dropped because
    /// they carried another request's id: late answers to requests that timed out); empty before the first.
    public var requestCounters: Counters {
        let stale = requests.withLock { $0.stale }
        return stale == 0 ? [:] : [.repliesStale: stale]
    }

    /// Ingest counters summed over every story handle of this session, as a value.
    public var ingestStats: IngestStats { ingest.withLock { $0 }?.stats ?? IngestStats() }

    /// Tells the visor this rank has finished with the service, so the job can end once every
    /// client rank has, after stopping the ingest flusher thread (no MPI call is made for ingest
    /// afterwards). Idempotent. Clients should be disconnected first; stories still held (a
    /// workload that failed, or one that never released them) are closed here: their buffered
    /// events ship with this client's last watermark, so keepers do not wait for it at the drain
    /// (the visor releases what the rank's clients still hold when it hears this).
    public func finish() throws(ChronoLogError) {
        guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return }
        closeHeldStories()
        ingest.withLock { $0 }?.flusher.stop()
        replayReader.close()
        if isAttached {
            try withChannel("saying goodbye to the gateway failed") { channel in
                try channel.postToGateway([], tag: .goodbye)
                try channel.drainSends()
            }
            return
        }
        try notifyVisor(.shutdownComplete(ShutdownComplete(rank: Int32(layout.worldRank), rc: .success)))
    }

    /// Runs `body` on this session's control channel, locked (the attach gateway relays through it;
    /// attached sessions send keep-alives). Errors become `.noConnection`.
    package func withControlChannel(_ context: String, _ body: (ControlChannel) throws -> Void) throws(ChronoLogError) {
        try withChannel(context, body)
    }

    /// Closes the ingest of every story still held (ships its events and the final watermark, waits
    /// for the acknowledgements). A failure leaves its events unacknowledged; the job summary counts
    /// them as lost.
    private func closeHeldStories() {
        guard let context = ingest.withLock({ $0 }) else { return }
        var held: [StoryIngest] = []
        _ = context.router.snapshot(into: &held)
        for story in held {
            _ = try? story.close()
            context.retire(story)
        }
    }
}
