import ChronoModel
import DequeModule
import Fabric
import Logging

/// ChronoKeeper: ingests clients' event batches into one story pipeline per recorded story,
/// seals ranges by watermark, and hands sealed chunks to the group's grapher by RMA.
///
/// Memory is bounded: pipelines plus chunks in flight must stay under `keeper.memoryLimitBytes`;
/// above it the keeper withholds batch acknowledgements, so clients (who keep at most
/// `client.maxPendingBatches` batches unacknowledged) wait. A chunk's registered slot is
/// reused only after the grapher acknowledged it durable; nothing is ever dropped.
public final class KeeperRole: RecordingBehavior {
    public let role = ProcessRole.keeper
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
        var lastReportAt: ContinuousClock.Instant = .now

        init(notice: RecordingNotice, pipeline: StoryPipeline) {
            self.notice = notice
            self.pipeline = pipeline
        }
    }

    struct InFlight {
        let storyId: StoryID
        let buffer: RegisteredBuffer
        let events: Int
        /// The chunk's range and encoded length (a replay decodes the chunk from the slot).
        let range: TimeRange
        let length: Int
        /// Just past the piece's last event (its range's end when it has none): the grapher
        /// acknowledges the piece once its archive is complete below this time.
        let completesBelow: UInt64
    }

    let config: ChronoConfig
    private let rank: Int32
    private let grapherRank: Int
    private let bulk: BulkPlane
    private let pool: RegisteredMemoryPool
    private let logger: Logger
    let clock = SystemClock()
    private(set) var stories: [StoryID: Story] = [:]
    private var tracked = RecordedStories()
    private(set) var waiting: Deque<StoryChunk> = []
    /// Events of `waiting.first` already shipped (a chunk larger than a slot leaves in pieces, each
    /// encoded in place into its slot); the rest of it is still waiting.
    private var shippedOfFirst = 0
    private(set) var inFlight: [UInt64: InFlight] = [:]
    private var nextSequence: UInt64 = 1
    private var heldAcks: Deque<(rank: Int, ack: BatchAck, due: ContinuousClock.Instant)> = []
    private var draining = false
    private var stats: [String: UInt64] = [:]
    private var retired = PipelineStats()
    private var peakMemory: UInt64 = 0
    private let reportInterval: Duration
    /// Last time a slot was free or a chunk was acknowledged: how long the pool has been stuck.
    private var lastSlotProgress = ContinuousClock.now
    /// A full pool with no acknowledgement for this long releases held-back watermarks.
    static let stallLimit: Duration = .milliseconds(500)

    /// - Parameters:
    ///   - grapherRank: world rank of the group's grapher.
    ///   - bulk: the bulk plane (this keeper exposes registered memory on it).
    /// - Throws: `FabricError` when the registered pool cannot be created.
    public init(config: ChronoConfig, rank: Int, grapherRank: Int, bulk: BulkPlane, logger: Logger) throws {
        self.config = config
        self.rank = Int32(rank)
        self.grapherRank = grapherRank
        self.bulk = bulk
        self.logger = logger
        let slot = max(config.keeper.transferSlotBytes, config.story.maxEventBytes + StoryChunk.headerByteCount + 64)
        let slots = max(4, config.keeper.memoryLimitBytes / 2 / slot)
        self.pool = try RegisteredMemoryPool(endpoint: bulk.endpoint, slotSize: slot, slotCount: slots)
        self.reportInterval = .milliseconds(max(1, config.story.chunkDurationMs / 4))
    }

    private var slotBytes: Int { max(config.keeper.transferSlotBytes, config.story.maxEventBytes + StoryChunk.headerByteCount + 64) }

    func bump(_ key: String, _ n: UInt64 = 1) { stats[key, default: 0] += n }

    // MARK: - Recording

    public func startRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.start(notice)
        touched.insert(notice.storyId)
        if let s = stories[notice.storyId] {
            // Restarted before the previous recording finished: the grapher has re-registered
            // this keeper (watermark 0), so report watermarks again from the current frontier.
            s.stopping = false
            s.reported = 0
            s.lastReportAt = .now - reportInterval
        } else {
            stories[notice.storyId] = Story(notice: notice, pipeline: StoryPipeline(storyId: notice.storyId, config: config))
        }
        return .success
    }

    public func stopRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.stop(notice)
        stories[notice.storyId]?.stopping = true
        touched.insert(notice.storyId)
        return .success
    }

    // MARK: - Messages

    public func handle(_ message: ControlMessage, from source: Int, tag: ControlTag, channel: ControlChannel) throws -> Bool {
        switch message {
        case .eventBatch(let batch):
            try ingest(batch, from: source, channel: channel)
            return true
        case .watermarks(let set):
            bump("watermarkSets.received")
            // A story with buffered events may seal now: visit it at the next poll. An idle one waits
            // for the full sweep (its report to the grapher is not urgent).
            for e in set.entries {
                guard let s = stories[e.storyId], s.pipeline.raiseWatermark(of: set.contributor, to: e.watermark),
                      s.pipeline.hasOpenBuffers else { continue }
                touched.insert(e.storyId)
            }
            return true
        case .chunkAck(let ack):
            try acknowledged(ack)
            return true
        case .replayRequest(let query):
            try answerReplay(query, from: source, channel: channel)
            return true
        default:
            return false
        }
    }

    private func ingest(_ batch: EventBatch, from source: Int, channel: ControlChannel) throws {
        bump("batches.received")
        // Stories are objects: the insert mutates the stored pipeline in place, no range buffer is copied.
        let before = stories[batch.storyId]?.pipeline.bufferedBytes ?? 0
        guard let report = stories[batch.storyId]?.pipeline.insert(batch) else {
            bump("events.rejected.notRecorded", UInt64(batch.count))
            let ack = BatchAck(storyId: batch.storyId, clientId: batch.clientId, firstIndex: batch.firstIndex,
                               count: UInt32(batch.count), rejected: UInt32(batch.count), rc: .notExist)
            try channel.post(ControlMessage.batchAck(ack).encode(), to: source, tag: .flow)
            return
        }
        if batch.watermark == UInt64.max { stories[batch.storyId]?.pipeline.removeContributor(batch.clientId.rawValue) }
        touched.insert(batch.storyId)
        bufferedBytes += (stories[batch.storyId]?.pipeline.bufferedBytes ?? 0) - before
        bump("events.received", UInt64(batch.count))
        bump("bytes.received", UInt64(batch.payload.count))
        if !report.rejected.isEmpty { bump("events.rejected", UInt64(report.rejected.count)) }
        let ack = BatchAck(storyId: batch.storyId, clientId: batch.clientId, firstIndex: batch.firstIndex,
                           count: UInt32(batch.count), rejected: UInt32(report.rejected.count),
                           rc: report.error?.returnCode ?? .success)
        let due = ContinuousClock.now + .microseconds(config.keeper.ackDelayMicroseconds)
        if heldAcks.isEmpty && !overMemoryBound && config.keeper.ackDelayMicroseconds == 0 {
            try channel.post(ControlMessage.batchAck(ack).encode(), to: source, tag: .flow)
        } else {
            heldAcks.append((source, ack, due))
            bump("acks.held")
        }
    }

    private func acknowledged(_ ack: ChunkAck) throws {
        guard let done = inFlight.removeValue(forKey: ack.sequence) else {
            bump("chunkAcks.unknown")
            return
        }
        try pool.free(done.buffer)
        lastSlotProgress = .now
        if ack.isDurable {
            bump("chunks.durable")
            bump("events.durable", UInt64(done.events))
        } else {
            // The grapher could not archive it: report, never silently drop.
            bump("chunks.failed")
            bump("events.failed", UInt64(done.events))
            // Once: after an archive failure every later chunk fails alike (a line each would flood the log).
            if stats["chunks.failed"] == 1 {
                logger.error("grapher failed chunk \(ack.sequence) of \(ack.storyId): \(ack.rc) \(ack.detail) (further failed chunks are only counted: chunks.failed, events.failed)")
            }
        }
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

    private var overMemoryBound: Bool {
        bufferedBytes + waitingBytes + inFlight.count * slotBytes > config.keeper.memoryLimitBytes
    }

    // MARK: - Work

    public func poll(channel: ControlChannel) throws -> Bool {
        var didWork = false
        let held = UInt64(bufferedBytes + waitingBytes + inFlight.count * slotBytes)
        if held > peakMemory { peakMemory = held }
        _ = try bulk.endpoint.progress()  // keepers are RMA targets: manual-progress providers need this
        didWork = try releaseAcks(channel: channel) || didWork
        didWork = try sealAndShip(channel: channel) || didWork
        recountWaiting()
        return didWork
    }

    private func releaseAcks(channel: ControlChannel) throws -> Bool {
        guard !heldAcks.isEmpty else { return false }
        var did = false
        let now = ContinuousClock.now
        while let first = heldAcks.first, first.due <= now, !overMemoryBound {
            heldAcks.removeFirst()
            try channel.post(ControlMessage.batchAck(first.ack).encode(), to: first.rank, tag: .flow)
            did = true
        }
        return did
    }

    /// Stories that received a batch or a watermark, or shipped a chunk, since they were last
    /// visited: visited at the next poll. The others are visited by the full sweep.
    private var touched: Set<StoryID> = []
    /// The touched stories of the current poll (storage reused from poll to poll).
    private var visit: [Story] = []
    private var nextFullSweep = ContinuousClock.now

    /// How often every story is visited (sealed by the clock, its watermark reported, retired when
    /// finished): every millisecond, less often with more than 100 stories (10 µs per story, so
    /// 25 ms with 2500), so a keeper recording many idle stories spends a few percent of its time
    /// visiting them (a visit costs well under a microsecond). Stories with traffic, and stories
    /// holding events whose watermarks moved, are visited at the next poll.
    private var fullSweepInterval: Duration {
        max(.milliseconds(1), .microseconds(10 * Int64(stories.count)))
    }

    private func sealAndShip(channel: ControlChannel) throws -> Bool {
        var did = false
        let now = ContinuousClock.now
        let clockNow = clock.now()
        if pool.availableSlots > 0 { lastSlotProgress = now }
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
            s.pipeline.advanceWatermark(of: Self.clockContributor, to: clockNow)
            let before = full ? 0 : s.pipeline.bufferedBytes
            let sealed = draining ? s.pipeline.drain()
                : pressed && s.pipeline.hasOpenBuffers ? s.pipeline.sealReady(splittingExcept: Self.clockContributor)
                : s.pipeline.sealReady()
            for chunk in sealed {
                waiting.append(chunk)
                did = true
            }
            bufferedBytes += (full || !sealed.isEmpty ? s.pipeline.bufferedBytes : before) - before
        }
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
                reports.append(WatermarkSet.Entry(storyId: id, watermark: target))
                s.reported = target
                s.lastReportAt = now
            }
            if finished && s.reported == UInt64.max && !inFlight.values.contains(where: { $0.storyId == id }) {
                retire(s.pipeline.stats)
                retiring.append(id)
            }
        }
        if !reports.isEmpty {
            bump("watermarks.reported", UInt64(reports.count))
            try channel.post(ControlMessage.watermarks(WatermarkSet(contributor: UInt64(rank), entries: reports)).encode(),
                             to: grapherRank, tag: .bulk)
            did = true
        }
        for id in retiring { stories[id] = nil }
        return did
    }

    static let clockContributor: UInt64 = 0
    /// Watermark reports per second a keeper sends its grapher at most (see `sealAndShip`).
    static let reportsPerSecond: Int64 = 100_000

    /// The watermark this keeper can promise the grapher for a story: everything before it has
    /// been shipped (late events still come as revisions); with no writer it follows the clock.
    private func reportableWatermark(of s: Story) -> UInt64 {
        // A first-time range not yet shipped holds the watermark back, so the grapher waits for
        // it; a waiting revision (late events of a range the grapher already sealed) does not.
        let held = heldWatermark(of: s)
        guard held < s.pipeline.sealedFrontier, mustReleaseWatermarks() else { return held }
        bump("watermarks.released")
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

    /// Whether holding watermarks back could deadlock. In-flight chunks are acknowledged only once
    /// the grapher's archive is complete below their last event; with every slot taken, the
    /// waiting chunk that holds a watermark back cannot leave. That is a deadlock when no chunk in
    /// flight can complete by this keeper's own held-back watermarks (a run of events with one
    /// time filling every slot), and may be one when no acknowledgement came for ``stallLimit``
    /// (in a group of several keepers, each may hold back what another's chunks wait for). Then
    /// the watermark goes to the sealed frontier and the held-back chunk reaches the grapher as a
    /// revision: counted late, never lost. A full pool whose chunks can complete holds on (the
    /// single keeper of a busy group; a range larger than the pool, shipped in pieces), so a
    /// saturated keeper does not turn its own events into late revisions.
    private func mustReleaseWatermarks() -> Bool {
        guard pool.availableSlots == 0 else { return false }
        if ContinuousClock.now - lastSlotProgress >= Self.stallLimit { return true }
        return !inFlight.values.contains { c in
            guard let s = stories[c.storyId] else { return true }
            return c.completesBelow <= heldWatermark(of: s)
        }
    }

    private func shipWaiting(channel: ControlChannel) throws -> Bool {
        var did = false
        if !waiting.isEmpty && pool.availableSlots == 0 { bump("slots.exhausted") }
        while !waiting.isEmpty, pool.availableSlots > 0 {
            let piece = try stageNextPiece()
            if piece.end < piece.total {
                shippedOfFirst = piece.end
            } else {
                // The whole chunk is out: its storage becomes a later range's buffer.
                shippedOfFirst = 0
                var done = waiting.removeFirst()
                stories[piece.storyId]?.pipeline.recycle(&done)
            }
            guard let story = stories[piece.storyId] else {
                try pool.free(piece.buffer)
                bump("chunks.orphaned")
                continue
            }
            let sequence = nextSequence
            nextSequence += 1
            inFlight[sequence] = InFlight(storyId: piece.storyId, buffer: piece.buffer, events: piece.events, range: piece.range,
                                          length: piece.buffer.length, completesBelow: piece.completesBelow)
            try post(descriptorFor: (piece.range, piece.revision, piece.events, piece.buffer, sequence), story: story.notice,
                     watermark: reportableWatermark(of: story), channel: channel)
            touched.insert(piece.storyId)  // its watermark may move on now
            bump("chunks.shipped")
            bump("events.shipped", UInt64(piece.events))
            did = true
        }
        return did
    }

    /// Encodes the next piece of `waiting.first` that fits a slot (the whole chunk when it fits)
    /// straight into a newly allocated slot. Holds no reference to the chunk afterwards, so the
    /// caller can recycle its storage.
    private func stageNextPiece() throws -> (buffer: RegisteredBuffer, storyId: StoryID, range: TimeRange, revision: UInt32,
                                             events: Int, end: Int, total: Int, completesBelow: UInt64) {
        guard let chunk = waiting.first else { throw FabricError.invalidArgument(call: "shipWaiting", detail: "nothing waiting") }
        let start = shippedOfFirst
        let end = chunk.encodedByteCount <= slotBytes ? chunk.count : chunk.pieceEnd(from: start, maxEncodedBytes: slotBytes)
        let piece = ChunkPiece(chunk: chunk, positions: start..<end)
        let buffer = try pool.allocate(byteCount: piece.encodedByteCount)
        do {
            try buffer.store(piece)
        } catch {
            try? pool.free(buffer)
            throw error
        }
        let completesBelow = end > start ? chunk.records[end - 1].time &+ 1 : chunk.range.end
        return (buffer, chunk.storyId, chunk.range, chunk.revision, piece.count, end, chunk.count, completesBelow)
    }

    private func post(descriptorFor shipped: (range: TimeRange, revision: UInt32, events: Int, buffer: RegisteredBuffer, sequence: UInt64),
                      story: RecordingNotice, watermark: UInt64, channel: ControlChannel) throws {
        let remote = shipped.buffer.remoteDescriptor
        let d = ChunkDescriptor(storyId: story.storyId, keeperRank: rank, sequence: shipped.sequence, range: shipped.range,
                                revision: shipped.revision, watermark: watermark, address: remote.address, key: remote.key,
                                length: UInt64(shipped.buffer.length), eventCount: UInt64(shipped.events))
        try channel.post(ControlMessage.chunkDescriptor(d).encode(), to: grapherRank, tag: .bulk)
    }

    // MARK: - Shutdown

    public func drain(channel: ControlChannel) throws -> Bool {
        draining = true
        _ = try poll(channel: channel)
        return stories.isEmpty && waiting.isEmpty && inFlight.isEmpty && heldAcks.isEmpty
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

    public var counters: [String: UInt64] {
        var total = retired
        for s in stories.values { total.add(s.pipeline.stats) }
        var c = stats.merging(tracked.counters(pipelines: total)) { $1 }
        c["memory.peak.bytes.max"] = peakMemory
        return c
    }

    private func retire(_ s: PipelineStats) { retired.add(s) }

    public func close() throws {
        try pool.close()
    }
}
