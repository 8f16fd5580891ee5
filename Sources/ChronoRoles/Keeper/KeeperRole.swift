import ChronoRuntime
import ChronoModel
import DequeModule
import Fabric
import Logging

/// ChronoKeeper: ingests clients' event batches into one story pipeline per recorded story,
/// seals ranges by watermark, and hands sealed chunks to the group's grapher by RMA.
///
/// Memory is bounded: pipelines plus chunks in flight must stay under `keeper.memoryLimitBytes`;
/// above it the keeper withholds batch acknowledgements, so clients (who keep at most
/// `client.maxPendingBatches` batches unacknowledged) wait. The grapher reads a sealed chunk's
/// pieces out of the chunk itself, lent on the bulk plane (``ShippedChunk``); its events stay here
/// (for replays) until the grapher acknowledges them durable; nothing is ever dropped.
public final class KeeperRole: RecordingBehavior {
    public let role = Role.keeper
    public var dataTags: [ControlTag] { [.events, .bulk, .replay] }

    /// A recorded story. A class: the keeper visits thousands of them per sweep, and reading a
    /// field of a struct stored in a dictionary copies (retains) the whole value first.
    final class Story {
        var notice: RecordingNotice
        var pipeline: StoryPipeline
        /// Stop requested: drain, ship, then tell the grapher "no more" and forget the story.
        var stopping = false
        /// Watermark last reported to the grapher.
        var reported: UInt64 = 0
        /// The current recording: the ticket of its start notice, sent with every report so the
        /// grapher can tell this recording's "finished" from a previous one's.
        var recording: UInt64
        /// Every event of the story this keeper let go of (durable, or failed) has a time below
        /// this: from here on, what it received is still in memory ("last N" replays).
        var releasedBelow: UInt64
        var lastReportAt: ContinuousClock.Instant
        /// The clients holding the story and the world rank each sends from (told by the visor):
        /// the only senders whose batches and watermarks the keeper accepts for it.
        var holders: [ClientID: Int32] = [:]
        /// The readers the visor granted direct "last N" queries (``ReadGrant``) and the world rank
        /// each sends from, while the story is recorded.
        var readers: [ClientID: Int32] = [:]
        /// The story's latest piece to become durable, kept with its sealed chunk's storage until a
        /// later one is durable, so that "last N" queries find the story's latest events in memory
        /// right after an archive round. Counted against `keeper.memoryLimitBytes` (``keptBytes``) and
        /// the first memory let go at the bound: it is never needed, only convenient.
        var kept: InFlight?
        /// A durable flush waits on events of the story below this time: the range holding it is
        /// cut there as soon as every watermark has passed it (``StoryPipeline/sealReady(cuttingAt:)``),
        /// instead of the flush waiting for the range to end (up to `story.chunkDurationMs`).
        var durableCut: UInt64?
        /// What ``kept`` holds: its sealed chunk's whole storage (taken when it was kept).
        var keptCharge = 0

        init(notice: RecordingNotice, pipeline: StoryPipeline, at now: ContinuousClock.Instant, time: UInt64) {
            self.notice = notice
            self.lastReportAt = now
            self.pipeline = pipeline
            self.recording = notice.ticket
            // What an earlier recording here shipped was logged before now.
            self.releasedBelow = time
        }
    }

    struct InFlight {
        let storyId: StoryID
        /// Whether the grapher has yet to read the piece (it counts against the pieces a keeper
        /// may offer at once, ``ChronoConfig/keeperTransferSlots``).
        var unread: Bool
        /// The sealed chunk the piece was cut from, kept for replays until the piece is durable.
        let source: ShippedChunk
        /// The piece's events: positions in `source.chunk`.
        let positions: Range<Int>
        /// Bytes of the piece's events in `source.chunk`.
        let eventBytes: Int
        let events: Int
        let range: TimeRange
        /// Just past the piece's last event (its range's end when it has none): the grapher
        /// acknowledges the piece once its archive is complete below this time.
        let completesBelow: UInt64
        /// The piece's events per client, for durable flushes (``DurabilityLedger``).
        let byClient: [(client: UInt64, events: UInt64)]

        /// The memory it holds against `keeper.memoryLimitBytes`: its events (read in place).
        var heldBytes: Int { eventBytes }
    }

    let config: ChronoConfig
    let rank: Int32
    private let grapherRank: Int
    /// World rank of the group's player: the only rank whose replay queries this keeper answers.
    private let playerRank: Int?
    private let bulk: any BulkTransport
    /// Pieces offered to the grapher and not read yet; at most ``ChronoConfig/keeperTransferSlots``.
    private var unreadPieces = 0
    private let logger: Logger
    /// Event time (the clock's watermark, replay answers) and elapsed time (sweeps, reports, held
    /// acknowledgements).
    let clock: any RoleClock
    /// Deliberate misbehaviour for tests (a slow keeper); none in the product.
    package var faults: any RoleFaults = NoFaults()
    private(set) var stories: [StoryID: Story] = [:]
    private var tracked = RecordedStories()
    private(set) var waiting: Deque<StoryChunk> = []
    /// Events of `waiting.first` already shipped (a chunk larger than `keeper.transferSlotBytes`
    /// leaves in pieces, each read where it lies); the rest of it is still waiting.
    private(set) var shippedOfFirst = 0
    /// `waiting.first` once a piece of it has left: kept with its pieces in flight (for replays)
    /// until every piece is durable.
    private var shipping: ShippedChunk?
    private(set) var inFlight: [UInt64: InFlight] = [:]
    private var nextSequence: UInt64 = 1
    private var heldAcks: Deque<(rank: Int, ack: BatchAck, due: ContinuousClock.Instant)> = []
    /// Which of each writer's events are durable, and the durable flushes waiting on them.
    private var durability = DurabilityLedger()
    private var draining = false
    private var stats: Counters = [:]
    private var retired = PipelineStats()
    /// The world rank of every client the visor named a holder, kept for the whole job (client ids
    /// are never reused): a batch naming one of them from another rank is forged.
    private var clientRanks: [ClientID: Int32] = [:]
    /// The highest `completeBefore` this keeper answered for each story, kept for the whole job:
    /// a later recording of the story here starts sealed up to it (``StoryPipeline/startSealed(at:)``),
    /// and a writer joining a recording under way seals up to it (``StoryPipeline/sealBelow(_:)``),
    /// so a writer whose clock lags cannot log behind what a follow was told is complete (its
    /// events count late instead of being archived unseen by the follow).
    var answeredComplete: [StoryID: UInt64] = [:]
    private var peakMemory: UInt64 = 0
    private let reportInterval: Duration

    /// - Parameters:
    ///   - grapherRank: world rank of the group's grapher.
    ///   - playerRank: world rank of the group's player (nil: none; no query is answered).
    ///   - bulk: the bulk plane (this keeper lends its sealed chunks on it).
    ///   - clock: event and elapsed time (the system's unless a test or the simulator steps its own).
    public init(config: ChronoConfig, rank: Int, grapherRank: Int, playerRank: Int?, bulk: any BulkTransport,
                logger: Logger, clock: any RoleClock = SystemRoleClock()) {
        self.config = config
        self.clock = clock
        self.nextFullSweep = clock.instant()
        self.rank = Int32(rank)
        self.grapherRank = grapherRank
        self.playerRank = playerRank
        self.bulk = bulk
        self.logger = logger
        self.reportInterval = max(.milliseconds(1), config.watermarkInterval)
    }

    private var slotBytes: Int { config.transferSlotBytes }

    func bump(_ key: Counter, _ n: UInt64 = 1) { stats[key, default: 0] += n }

    // MARK: - Recording

    public func startRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.start(notice)
        touched.insert(notice.storyId)
        let story: Story
        if let s = stories[notice.storyId] {
            // Restarted before the previous recording finished: the grapher has re-registered
            // this keeper (watermark 0), so report watermarks again from the current frontier.
            s.stopping = false
            s.recording = notice.ticket
            s.reported = 0
            s.lastReportAt = clock.instant() - reportInterval
            story = s
        } else {
            var pipeline = StoryPipeline(storyId: notice.storyId, config: config, pool: storage)
            // A sealed range leaves in chunks of one slot each: reused storage, one piece each.
            pipeline.maxChunkBytes = slotBytes
            pipeline.minSharedBytes = faults.keepsReceivedBytesFrom()
            story = Story(notice: notice, pipeline: pipeline, at: clock.instant(), time: clock.now())
            if let answered = answeredComplete[notice.storyId] { story.pipeline.startSealed(at: answered) }
            stories[notice.storyId] = story
        }
        // A start follows the last release: its acquirer is the only holder.
        story.holders = [:]
        if notice.holder != .none { hold(story, by: notice.holder, at: notice.holderRank, writesHere: notice.holderKeeper == rank) }
        return .success
    }

    public func stopRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.stop(notice)
        if let story = stories[notice.storyId] {
            story.stopping = true
            for client in story.holders.keys { unhold(story, client) }
            // Readers ask the visor again: the story may be recorded by another group next.
            story.readers = [:]
        }
        touched.insert(notice.storyId)
        return .success
    }

    public func holderChanged(_ notice: HolderNotice) -> ReturnCode {
        guard let story = stories[notice.storyId] else { return .notExist }
        if notice.holds {
            hold(story, by: notice.clientId, at: notice.clientRank, writesHere: notice.writerKeeper == rank)
        } else {
            unhold(story, notice.clientId)
        }
        return .success
    }

    public func readGranted(_ grant: ReadGrant) -> ReturnCode {
        guard let story = stories[grant.storyId], !story.stopping else { return .notExist }
        faults.keeperTakesGrant()
        story.readers[grant.clientId] = grant.clientRank
        return .success
    }

    /// Forgets a reader's grant of the story (the visor withdrew it: the reader disconnected),
    /// counting it (`replays.direct.revoked`) when it was still held.
    public func readRevoked(_ grant: ReadGrant) {
        guard let story = stories[grant.storyId], story.readers.removeValue(forKey: grant.clientId) != nil else { return }
        bump(.replaysDirectRevoked)
    }

    /// Makes `client` a holder of the story. When it `writesHere` (this is the keeper of the group
    /// it sends the story's events to), it is also a writer the story's ranges wait for from now
    /// on, not only from its first batch: the clock alone would seal the ranges of the events it
    /// logs before that batch arrives (its flusher may not run for a while on a loaded node), and
    /// they would be late. The visor answers the client's acquire only after this keeper took the
    /// notice, so every event it logs is later than now; its watermark starts a restart margin
    /// behind (the error of its measured clock offset) and rises with its first batch or idle
    /// watermark, which every holder sends.
    private func hold(_ story: Story, by client: ClientID, at rank: Int32, writesHere: Bool) {
        story.holders[client] = rank
        clientRanks[client] = rank
        guard writesHere else { return }
        let now = clock.now()
        story.pipeline.addContributor(client.rawValue, watermark: now > StoryPipeline.restartMargin ? now - StoryPipeline.restartMargin : 0)
        // A writer joining a story recorded here (another writer holds it) may log events older
        // than the completeness this keeper already answered, when its clock lags the others':
        // they must count late, not land unseen behind a follow's cursor. What was answered
        // complete is sealed now, before the newcomer's first batch (the visor answers its acquire
        // only once this notice is acknowledged).
        if let answered = answeredComplete[story.notice.storyId], answered > story.pipeline.sealedFrontier {
            let before = story.pipeline.bufferedBytes
            waiting += story.pipeline.sealBelow(answered)
            bufferedBytes -= before - story.pipeline.bufferedBytes
            touched.insert(story.notice.storyId)
        }
    }

    /// Ends `client`'s hold (it released the story, or the recording stopped). It sent its last
    /// batch and had every one acknowledged before asking the visor to release (a batch after
    /// this is refused), so its ranges no longer wait for it.
    private func unhold(_ story: Story, _ client: ClientID) {
        story.holders[client] = nil
        story.pipeline.removeContributor(client.rawValue)
        touched.insert(story.notice.storyId)
    }

    // MARK: - Messages

    public func handle(_ message: ControlMessage, from source: Int, tag: ControlTag, channel: any ControlTransport) throws -> Bool {
        switch message {
        case .eventBatch(let batch):
            try ingest(batch, from: source, channel: channel)
            return true
        case .watermarks(let set):
            bump(.watermarkSetsReceived)
            // A story with buffered events may seal now: visit it at the next poll. An idle one waits
            // for the full sweep (its report to the grapher is not urgent). Only a holder moves its
            // own watermark, from its own rank: any other entry is refused and counted.
            for e in set.entries {
                guard let s = stories[e.storyId] else { continue }
                guard s.holders[ClientID(set.contributor)] == Int32(source) else {
                    bump(.watermarksRefused)
                    continue
                }
                guard s.pipeline.raiseWatermark(of: set.contributor, to: e.watermark), s.pipeline.hasOpenBuffers else { continue }
                touched.insert(e.storyId)
            }
            return true
        case .chunkAck(let ack):
            // Only the grapher frees slots: an acknowledgement from elsewhere would drop a chunk.
            guard source == grapherRank else {
                bump(.chunkAcksRefused)
                return true
            }
            try acknowledged(ack, channel: channel)
            return true
        case .durableRequest(let request):
            bump(.durableRequests)
            if let rank = clientRanks[request.clientId], rank != Int32(source) {
                // In another client's name: says nothing about anyone's events.
                bump(.durableRefused)
                let refusal = DurableReply(storyId: request.storyId, clientId: request.clientId, sequence: request.sequence,
                                           durableEvents: 0, failedEvents: 0, rc: .notAuthorized)
                try channel.post(ControlMessage.durableReply(refusal).encode(), to: source, tag: .flow)
            } else if let reply = durability.request(request, from: source) {
                try channel.post(ControlMessage.durableReply(reply).encode(), to: source, tag: .flow)
            } else if request.watermark > 0, request.watermark < UInt64.max, let s = stories[request.storyId],
                      s.pipeline.contributors[request.clientId.rawValue] != nil {
                // The writer's events lie below the watermark it sent, its later ones at or after
                // it: cut the open range there (once every other watermark passed it), not at its end.
                s.pipeline.advanceWatermark(of: request.clientId.rawValue, to: request.watermark)
                s.durableCut = max(s.durableCut ?? 0, request.watermark)
                touched.insert(request.storyId)
            }
            return true
        case .replayRequest(let query):
            // The player asks on behalf of a reader the visor checked (access.read), and so does a
            // reader the visor granted direct "last N" queries; anyone else asking directly would
            // read the story unchecked.
            if source == playerRank {
                try answerReplay(query, from: source, channel: channel)
            } else if query.lastCount > 0 {
                try answerDirect(query, from: source, channel: channel)
            } else {
                bump(.replaysRefused)
            }
            return true
        default:
            return false
        }
    }

    /// Why a batch is refused: it names a client that sends from another rank (forged), or a
    /// client that does not hold the story (unauthorized).
    enum Refusal: String {
        case forged, unauthorized

        /// The counter of refused batches.
        var batches: Counter { self == .forged ? .batchesForged : .batchesUnauthorized }
        /// The counter of their events.
        var events: Counter { self == .forged ? .eventsRefusedForged : .eventsRefusedUnauthorized }
    }

    /// Checks a batch's sender: its client must hold the story (as the visor told this keeper) and
    /// send from the rank it connected from. `nil` when accepted, or when the story is not recorded
    /// here (answered with −3 as before).
    func refusal(of batch: EventBatch, from source: Int) -> Refusal? {
        if let rank = clientRanks[batch.clientId], rank != Int32(source) { return .forged }
        guard let story = stories[batch.storyId] else { return nil }
        return story.holders[batch.clientId] == Int32(source) ? nil : .unauthorized
    }

    /// Answers a refused batch with −9 (not authorized) and counts it and its events; nothing of it
    /// is buffered.
    private func refuse(_ batch: EventBatch, from source: Int, because why: Refusal, channel: any ControlTransport) throws {
        bump(why.batches)
        bump(why.events, UInt64(batch.count))
        let refused = stats[why.batches] ?? 0
        if refused & (refused - 1) == 0 {  // the 1st, 2nd, 4th, 8th…: a forger cannot flood the log
            logger.warning("""
                refused \(why.rawValue) batch #\(refused) from rank \(source): client \(batch.clientId), story \(batch.storyId), \
                \(batch.count) event(s)
                """)
        }
        let ack = BatchAck(storyId: batch.storyId, clientId: batch.clientId, firstIndex: batch.firstIndex,
                           count: UInt32(batch.count), rejected: UInt32(batch.count), rc: .notAuthorized)
        try channel.post(ControlMessage.batchAck(ack).encode(), to: source, tag: .flow)
    }

    private func ingest(_ batch: EventBatch, from source: Int, channel: any ControlTransport) throws {
        bump(.batchesReceived)
        if let why = refusal(of: batch, from: source) {
            try refuse(batch, from: source, because: why, channel: channel)
            return
        }
        // Stories are objects: the insert mutates the stored pipeline in place, no range buffer is copied.
        let before = stories[batch.storyId]?.pipeline.bufferedBytes ?? 0
        guard let report = stories[batch.storyId]?.pipeline.insert(batch) else {
            bump(.eventsRejectedNotRecorded, UInt64(batch.count))
            let ack = BatchAck(storyId: batch.storyId, clientId: batch.clientId, firstIndex: batch.firstIndex,
                               count: UInt32(batch.count), rejected: UInt32(batch.count), rc: .notExist)
            try channel.post(ControlMessage.batchAck(ack).encode(), to: source, tag: .flow)
            return
        }
        if batch.watermark == UInt64.max { stories[batch.storyId]?.pipeline.removeContributor(batch.clientId.rawValue) }
        touched.insert(batch.storyId)
        bufferedBytes += (stories[batch.storyId]?.pipeline.bufferedBytes ?? 0) - before
        bump(.eventsReceived, UInt64(batch.count))
        durability.received(UInt64(batch.count - report.rejected.count), story: batch.storyId, client: batch.clientId.rawValue,
                            nextIndex: UInt64(batch.firstIndex) + UInt64(batch.count))
        bump(.bytesReceived, UInt64(batch.payloadCount))
        if !report.rejected.isEmpty { bump(.eventsRejected, UInt64(report.rejected.count)) }
        let ack = BatchAck(storyId: batch.storyId, clientId: batch.clientId, firstIndex: batch.firstIndex,
                           count: UInt32(batch.count), rejected: UInt32(report.rejected.count),
                           rc: report.error?.returnCode ?? .success)
        let delay = faults.keeperAckDelay()
        let due = clock.instant() + delay
        if heldAcks.isEmpty && !overMemoryBound && delay == .zero {
            try channel.post(ControlMessage.batchAck(ack).encode(), to: source, tag: .flow)
        } else {
            heldAcks.append((source, ack, due))
            bump(.acksHeld)
        }
    }

    private func acknowledged(_ ack: ChunkAck, channel: any ControlTransport) throws {
        if ack.received {
            try read(ack)
            return
        }
        guard let done = inFlight.removeValue(forKey: ack.sequence) else {
            bump(.chunkAcksUnknown)
            return
        }
        if done.unread { unreadPieces -= 1 }
        inFlightBytes -= done.heldBytes
        let answers = durability.settled(done.byClient, records: done.source.chunk.records[done.positions], story: done.storyId,
                                         durable: ack.isDurable)
        // The piece's events were needed up to here (the ledger reads their indices); the story's
        // latest durable piece stays for "last N" queries until a later one is durable.
        if ack.isDurable, let story = stories[done.storyId], (story.kept?.completesBelow ?? 0) <= done.completesBelow {
            dropKept(of: story)
            keep(done, in: story)
        } else {
            letGo(done)
        }
        for reply in answers {
            try channel.post(ControlMessage.durableReply(reply.reply).encode(), to: reply.rank, tag: .flow)
        }
        if ack.isDurable {
            bump(.chunksDurable)
            bump(.eventsDurable, UInt64(done.events))
        } else {
            // The grapher could not archive it: report, never silently drop.
            bump(.chunksFailed)
            bump(.eventsFailed, UInt64(done.events))
            // Once: after an archive failure every later chunk fails alike (a line each would flood the log).
            if stats[.chunksFailed] == 1 {
                logger.error("grapher failed chunk \(ack.sequence) of \(ack.storyId): \(ack.rc) \(ack.detail) (further failed chunks are only counted: chunks.failed, events.failed)")
            }
        }
    }

    /// The grapher has read a piece: the next one can be offered; its events stay here, in the
    /// sealed chunk itself, for replays until durable.
    private func read(_ ack: ChunkAck) throws {
        guard var c = inFlight[ack.sequence], c.unread else {
            bump(.chunkAcksUnknown)
            return
        }
        c.unread = false
        unreadPieces -= 1
        inFlight[ack.sequence] = c
        bump(.chunksRead)
    }

    /// Keeps a durable piece for "last N" queries if its chunk's storage fits under the memory bound
    /// beside everything else held; lets it go otherwise.
    private func keep(_ piece: InFlight, in story: Story) {
        let charge = piece.source.bytes(of: 0..<piece.source.chunk.count)
        guard heldBytes + charge <= config.keeper.memoryLimitBytes else {
            letGo(piece)
            bump(.keptPiecesDropped)
            return
        }
        story.kept = piece
        story.keptCharge = charge
        keptBytes += charge
        keptStories.insert(piece.storyId)
    }

    /// Lets go of the story's kept piece, if any.
    private func dropKept(of story: Story) {
        guard let kept = story.kept else { return }
        story.kept = nil
        keptBytes -= story.keptCharge
        story.keptCharge = 0
        keptStories.remove(kept.storyId)
        letGo(kept)
    }

    /// Lets kept pieces go until everything held fits under `keeper.memoryLimitBytes` again (or none
    /// is left): the buffered events that arrived since they were kept come first.
    private func trimKept() {
        while heldBytes > config.keeper.memoryLimitBytes, let id = keptStories.min(), let story = stories[id] {
            dropKept(of: story)
            bump(.keptPiecesDropped)
        }
    }

    /// Lets go of a settled piece's events: the story's memory no longer covers them, and its chunk's
    /// storage goes back to the pool once nothing else needs it.
    private func letGo(_ piece: InFlight) {
        if let story = stories[piece.storyId] { story.releasedBelow = max(story.releasedBelow, piece.completesBelow) }
        piece.source.outstanding -= 1
        retireIfDone(piece.source)
    }

    /// Gives a shipped chunk's storage back to the pool once every piece of it left and is settled,
    /// after ending its loans (no peer can read it any more).
    private func retireIfDone(_ source: ShippedChunk) {
        guard source.isDone else { return }
        guard source.endLoans() else {
            // A registration that would not close may still be readable: never reuse its storage.
            bump(.loansUnclosed)
            source.chunk = .empty(storyId: source.chunk.storyId, range: source.chunk.range)
            return
        }
        storage.give(&source.chunk)
    }

    // MARK: - Memory

    /// Bytes buffered in the pipelines: kept up to date by each batch's insert and each visited
    /// story's sealing (the only changes), and counted over every story at each full sweep, so the
    /// bound costs nothing per batch or poll however many stories the keeper records.
    private var bufferedBytes = 0
    /// Bytes in chunks waiting for a slot, counted once per poll.
    private var waitingBytes = 0

    private func recountWaiting() {
        waitingBytes = waiting.reduce(0) { $0 + $1.encodedByteCount } - (waiting.first?.encodedByteCount(of: 0..<shippedOfFirst) ?? 0)
    }

    /// Whether writers' acknowledgements wait: kept pieces do not count here (``trimKept()`` lets them
    /// go first), so a bound filled with them can never hold writers back.
    private var overMemoryBound: Bool {
        bufferedBytes + waitingBytes + inFlightBytes > config.keeper.memoryLimitBytes
    }

    /// Everything held against `keeper.memoryLimitBytes`, kept pieces included.
    private var heldBytes: Int { bufferedBytes + waitingBytes + inFlightBytes + keptBytes }

    /// Storage held by the stories' kept pieces (``Story/kept``), and the stories that have one.
    private var keptBytes = 0
    private var keptStories: Set<StoryID> = []

    /// Storage of range buffers, sealed chunks and retained pieces this keeper is done with, reused
    /// for the next ones: at most half of `keeper.memoryLimitBytes` idle.
    private lazy var storage = ChunkStoragePool(capacityLimit: config.keeper.memoryLimitBytes / 2)

    /// Memory held by chunks shipped and not durable yet: their events' bytes (read by the grapher
    /// in place, and kept for replays).
    private var inFlightBytes = 0

    // MARK: - Work

    public func poll(channel: any ControlTransport) throws -> Bool {
        var didWork = false
        trimKept()
        let held = UInt64(heldBytes)
        if held > peakMemory { peakMemory = held }
        try progressBulk()
        didWork = try releaseAcks(channel: channel) || didWork
        didWork = try sealAndShip(channel: channel) || didWork
        recountWaiting()
        return didWork
    }

    /// Keepers are RMA targets: a manual-progress provider moves a peer's read of their memory
    /// only when they poll. With nothing offered nothing is read, and there is nothing to poll for;
    /// while pieces are offered, at the pace of ``BulkPollPacer``.
    private func progressBulk() throws {
        guard unreadPieces > 0, bulkPolls.isDue(at: clock.instant()) else { return }
        _ = try bulk.progress()
    }

    private var bulkPolls = BulkPollPacer()

    private func releaseAcks(channel: any ControlTransport) throws -> Bool {
        guard !heldAcks.isEmpty else { return false }
        var did = false
        let now = clock.instant()
        while let first = heldAcks.first, first.due <= now, !overMemoryBound {
            heldAcks.removeFirst()
            try channel.post(ControlMessage.batchAck(first.ack).encode(), to: first.rank, tag: .flow)
            did = true
        }
        return did
    }

    /// At the bound with nothing shipped or waiting, memory is all in open ranges, and what lay
    /// below the writers' watermarks has left: the rest waits for the watermark of a writer whose
    /// window is full of held acknowledgements. That writer gets its oldest one back (its next
    /// batch moves its watermark on, and the others' events seal), or two writers of a story wait
    /// for each other for ever. The bound is passed by at most that writer's window
    /// (`client.maxPendingBatches` batches).
    private func acknowledgeHoldingWriter(channel: any ControlTransport) throws -> Bool {
        let now = clock.instant()
        guard let i = heldAcks.firstIndex(where: { $0.due <= now && holdsBack($0.ack) }) else { return false }
        let held = heldAcks.remove(at: i)
        try channel.post(ControlMessage.batchAck(held.ack).encode(), to: held.rank, tag: .flow)
        bump(.acksReleasedAtBound)
        return true
    }

    /// Whether the writer of `ack` has its story's lowest watermark, the clock's included: the one
    /// its open ranges wait for. While the keeper's clock is lower (its writers' clocks run ahead of
    /// it), the ranges wait for the clock, which moves on by itself: an acknowledgement given back
    /// then would seal nothing, and the writer's next batch would only add to memory, one batch per
    /// poll, far past the bound.
    private func holdsBack(_ ack: BatchAck) -> Bool {
        guard let s = stories[ack.storyId], let w = s.pipeline.contributors[ack.clientId.rawValue],
              let low = s.pipeline.lowWatermark else { return false }
        return w <= low
    }

    /// Stories that received a batch or a watermark, or shipped a chunk, since they were last
    /// visited: visited at the next poll. The others are visited by the full sweep.
    private var touched: Set<StoryID> = []
    /// The touched stories of the current poll (storage reused from poll to poll).
    private var visit: [Story] = []
    private var nextFullSweep: ContinuousClock.Instant

    /// How often every story is visited (sealed by the clock, its watermark reported, retired when
    /// finished): every millisecond, less often with more than 100 stories (10 µs per story, so
    /// 25 ms with 2500), so a keeper recording many idle stories spends a few percent of its time
    /// visiting them (a visit costs well under a microsecond). Stories with traffic, and stories
    /// holding events whose watermarks moved, are visited at the next poll.
    private var fullSweepInterval: Duration {
        max(.milliseconds(1), .microseconds(10 * Int64(stories.count)))
    }

    private func sealAndShip(channel: any ControlTransport) throws -> Bool {
        var did = false
        let now = clock.instant()
        let clockNow = clock.now()
        let full = draining || now >= nextFullSweep
        if full { nextFullSweep = now + fullSweepInterval }
        visit.removeAll(keepingCapacity: true)
        if !full {
            for id in touched { if let story = stories[id] { visit.append(story) } }
        }
        touched.removeAll(keepingCapacity: true)
        defer { visit.removeAll(keepingCapacity: true) }  // holds no story past the poll
        func forEachVisited(_ body: (Story) throws -> Void) rethrows {
            if full {
                for story in stories.values { try body(story) }
            } else {
                for story in visit { try body(story) }
            }
        }
        // At its memory bound a keeper withholds acknowledgements, so its writers stop and their
        // watermarks with them. Chunks in a slot or waiting for one free memory as they become
        // durable; with none left, the bound is all in open ranges, which would never complete.
        // Then the part of each range below its writers' watermarks seals on its own, and leaves.
        let pressed = !draining && waiting.isEmpty && inFlight.isEmpty && overMemoryBound
        if full { bufferedBytes = 0 }
        forEachVisited { s in
            // The clock is a contributor too (id 0, never a client id): with no writer, ranges
            // seal once time has passed them, and a new writer's events are not late.
            // It stands `writerClockMargin` behind the clock: a writer joining the story, its clock a
            // few milliseconds behind this one's, finds the range its first events fall in still open
            // even when the other writers' watermarks (their clocks ahead) have passed it.
            let margin = faults.keeperClockMargin()
            s.pipeline.advanceWatermark(of: Self.clockContributor, to: clockNow > margin ? clockNow - margin : 0)
            let before = full ? 0 : s.pipeline.bufferedBytes
            // With no writer, the clock alone seals only what lies `restartMargin` behind it (cutting
            // the range there): a writer acquiring the story next registers a second behind this
            // clock, and its first events, a little older than this clock when its measured offset
            // errs (milliseconds on a loaded node), must find their range open. Sealing whole ranges
            // up to the clock's range instead made such events late, rejected under `reject`.
            // A released story still ships what it holds within about a second.
            let writing = s.pipeline.lowWatermark(excluding: Self.clockContributor) != nil
            let sealed = draining ? s.pipeline.drain()
                : pressed && s.pipeline.hasOpenBuffers ? s.pipeline.sealReady(splittingExcept: Self.clockContributor)
                : writing ? sealReady(s)
                : s.pipeline.sealBehind(clock: Self.clockContributor, margin: StoryPipeline.restartMargin)
            for chunk in sealed {
                waiting.append(chunk)
                did = true
            }
            bufferedBytes += (full || !sealed.isEmpty ? s.pipeline.bufferedBytes : before) - before
        }
        if pressed && waiting.isEmpty { did = try acknowledgeHoldingWriter(channel: channel) || did }
        did = try shipWaiting(channel: channel) || did
        // Watermarks: tell the grapher how far this keeper's chunks are complete, in one message
        // for every story whose report is due. A story's watermark goes out every `reportInterval`,
        // spaced out with many stories so this keeper reports at most `reportsPerSecond` of them.
        let interval = max(reportInterval, .nanoseconds(Int64(stories.count) * (1_000_000_000 / Self.reportsPerSecond)))
        var reports: [WatermarkSet.Entry] = []
        var retiring: [StoryID] = []
        forEachVisited { s in
            let id = s.notice.storyId
            let finished = (s.stopping || draining) && s.pipeline.bufferedEventCount == 0
                && s.pipeline.contributors.keys.allSatisfy { $0 == Self.clockContributor }
                && !waiting.contains { $0.storyId == id }
            let target = finished ? UInt64.max : reportableWatermark(of: s)
            if target > s.reported && (finished || now >= s.lastReportAt + interval) {
                reports.append(WatermarkSet.Entry(storyId: id, watermark: target, recording: s.recording))
                s.reported = target
                s.lastReportAt = now
            }
            if finished && s.reported == UInt64.max && !inFlight.values.contains(where: { $0.storyId == id }) {
                retire(s.pipeline.stats)
                retiring.append(id)
            }
        }
        if !reports.isEmpty {
            bump(.watermarksReported, UInt64(reports.count))
            try channel.post(ControlMessage.watermarks(WatermarkSet(contributor: UInt64(rank), entries: reports)).encode(),
                             to: grapherRank, tag: .bulk)
            did = true
        }
        for id in retiring {
            if let story = stories[id] { dropKept(of: story) }
            stories[id] = nil
        }
        return did
    }

    static let clockContributor: UInt64 = 0
    /// Watermark reports per second a keeper sends its grapher at most (see `sealAndShip`).
    static let reportsPerSecond: Int64 = 100_000

    /// Seals the ranges of a story with writers that are complete, and cuts the open range where
    /// a durable flush waits (``Story/durableCut``) once every watermark has passed that point.
    private func sealReady(_ s: Story) -> [StoryChunk] {
        guard let cut = s.durableCut else { return s.pipeline.sealReady() }
        let sealed = s.pipeline.sealReady(cuttingAt: cut)
        if s.pipeline.sealedFrontier >= cut { s.durableCut = nil }
        return sealed
    }

    /// The watermark this keeper can promise the grapher for a story: everything before it has
    /// been shipped (late events still come as revisions); with no writer it follows the clock.
    private func reportableWatermark(of s: Story) -> UInt64 {
        // A first-time range not yet shipped holds the watermark back, so the grapher waits for
        // it; a waiting revision (late events of a range the grapher already sealed) does not.
        let held = heldWatermark(of: s)
        guard held < s.pipeline.sealedFrontier, mustReleaseWatermarks() else { return held }
        bump(.watermarksReleased)
        return s.pipeline.sealedFrontier
    }

    /// The story's watermark held back by its first waiting first-time chunk: at that chunk's
    /// first event not shipped yet. A chunk larger than the slots leaves in pieces in event order,
    /// so while it does the watermark moves through its range and the grapher can archive (and
    /// acknowledge) the part received instead of waiting for the whole range.
    private func heldWatermark(of s: Story) -> UInt64 {
        var w = s.pipeline.sealedFrontier
        if let i = waiting.firstIndex(where: { $0.storyId == s.notice.storyId && $0.revision == 0 }) {
            let chunk = waiting[i]
            let next = i == waiting.startIndex ? shippedOfFirst : 0
            w = min(w, next < chunk.count ? chunk.records[next].time : chunk.range.start)
        }
        return w
    }

    /// Whether holding watermarks back could deadlock. With every piece the keeper may offer
    /// unread, the waiting chunk that holds a watermark back cannot leave until the grapher reads
    /// a piece in flight (the count goes down at the read, not at durability). The grapher reads
    /// below its memory bound, and at the bound it still reads the next piece of the keeper its story's watermark waits for
    /// (`GrapherRole.nextHoldingBack`), so in a group of several keepers the one holding the
    /// others back is read first, however long an archive round takes: no timer, no guess.
    ///
    /// What remains is a run of events with one time filling every piece: no piece in flight can
    /// complete below this keeper's own held-back watermark, so the grapher cannot archive (and
    /// free memory) before it has the held-back chunk. Then the watermark goes to the sealed
    /// frontier and the held-back chunk reaches the grapher as a revision: counted late, never lost.
    private func mustReleaseWatermarks() -> Bool {
        guard unreadPieces >= config.keeperTransferSlots else { return false }
        return !inFlight.values.contains { c in
            guard c.unread else { return false }  // read by the grapher: no longer offered
            guard let s = stories[c.storyId] else { return true }
            return c.completesBelow <= heldWatermark(of: s)
        }
    }

    private func shipWaiting(channel: any ControlTransport) throws -> Bool {
        var did = false
        let limit = config.keeperTransferSlots
        if !waiting.isEmpty && unreadPieces >= limit { bump(.slotsExhausted) }
        while !waiting.isEmpty, unreadPieces < limit {
            let source = shipping ?? ShippedChunk(waiting[waiting.startIndex])  // shares the storage
            try source.lend(on: bulk)
            shipping = source
            let start = shippedOfFirst
            let piece = try nextPiece()
            if piece.end < piece.total {
                shippedOfFirst = piece.end
            } else {
                // The whole chunk is out: it lives on in `source` until its pieces are durable.
                shippedOfFirst = 0
                waiting.removeFirst()
                source.allShipped = true
                shipping = nil
            }
            guard let story = stories[piece.storyId] else {
                retireIfDone(source)
                bump(.chunksOrphaned)
                continue
            }
            let sequence = nextSequence
            nextSequence += 1
            source.outstanding += 1
            let positions = start..<piece.end
            let shipped = InFlight(storyId: piece.storyId, unread: true, source: source, positions: positions,
                                   eventBytes: source.bytes(of: positions), events: piece.events, range: piece.range,
                                   completesBelow: piece.completesBelow, byClient: piece.byClient)
            inFlight[sequence] = shipped
            inFlightBytes += shipped.heldBytes
            unreadPieces += 1
            try post(descriptorFor: (piece.range, piece.revision, positions, sequence), of: source, story: story.notice,
                     watermark: reportableWatermark(of: story), channel: channel)
            touched.insert(piece.storyId)  // its watermark may move on now
            bump(.chunksShipped)
            bump(.eventsShipped, UInt64(piece.events))
            did = true
        }
        return did
    }

    /// The next piece of `waiting.first`: the whole chunk when its encoding fits
    /// `keeper.transferSlotBytes` (the grapher reads each piece into a slot of that size), else
    /// the events from `shippedOfFirst` on that fit.
    private func nextPiece() throws -> (storyId: StoryID, range: TimeRange, revision: UInt32, events: Int, end: Int, total: Int,
                                        completesBelow: UInt64, byClient: [(client: UInt64, events: UInt64)]) {
        guard let chunk = waiting.first else { throw FabricError.invalidArgument(call: "shipWaiting", detail: "nothing waiting") }
        let start = shippedOfFirst
        let end = chunk.encodedByteCount <= slotBytes ? chunk.count : chunk.pieceEnd(from: start, maxEncodedBytes: slotBytes)
        let completesBelow = end > start ? chunk.records[end - 1].time &+ 1 : chunk.range.end
        return (chunk.storyId, chunk.range, chunk.revision, end - start, end, chunk.count, completesBelow,
                DurabilityLedger.eventsByClient(chunk.records[start..<end]))
    }

    private func post(descriptorFor shipped: (range: TimeRange, revision: UInt32, positions: Range<Int>, sequence: UInt64),
                      of source: ShippedChunk, story: RecordingNotice, watermark: UInt64, channel: any ControlTransport) throws {
        let remote = source.remote(of: shipped.positions)
        let d = ChunkDescriptor(storyId: story.storyId, keeperRank: rank, sequence: shipped.sequence, range: shipped.range,
                                revision: shipped.revision, watermark: watermark, records: remote.records, payload: remote.payload,
                                payloadBytes: remote.payloadBytes, payloadBase: remote.payloadBase,
                                eventCount: UInt64(shipped.positions.count))
        try channel.post(ControlMessage.chunkDescriptor(d).encode(), to: grapherRank, tag: .bulk)
    }

    // MARK: - Shutdown

    public func drain(channel: any ControlTransport) throws -> Bool {
        draining = true
        _ = try poll(channel: channel)
        let done = stories.isEmpty && waiting.isEmpty && inFlight.isEmpty && heldAcks.isEmpty
        if done {
            // Nothing is left to become durable: a flush still waiting learns what its events came to.
            for reply in durability.closeAll() {
                try channel.post(ControlMessage.durableReply(reply.reply).encode(), to: reply.rank, tag: .flow)
            }
        }
        return done
    }

    public var undrainedEvents: UInt64 {
        UInt64(stories.values.reduce(0) { $0 + $1.pipeline.bufferedEventCount } + waiting.reduce(0) { $0 + $1.count } - shippedOfFirst
            + inFlight.values.reduce(0) { $0 + $1.events })
    }

    public var drainState: String {
        let held = stories.values.map { s in
            RecordedStories.describe(s.notice, s.pipeline, stopping: s.stopping) + " reported=\(s.reported)"
        }
        return "stories=[\(held.joined(separator: "; "))] waiting=\(waiting.count) inFlight=\(inFlight.keys.sorted()) heldAcks=\(heldAcks.count)"
    }

    public var counters: Counters {
        var total = retired
        for s in stories.values { total.add(s.pipeline.stats) }
        var c = stats.merging(tracked.counters(pipelines: total)) { $1 }
        c[.memoryPeakBytes] = peakMemory
        (c[.storageReused], c[.storageFresh]) = storage.counts
        c[.storageShared] = storage.sharedCount
        return c
    }

    private func retire(_ s: PipelineStats) { retired.add(s) }

    public func close() throws {
        // Loans still open end with the endpoint; the chunks are not reused after this.
    }
}
