import ChronoRuntime
import ChronoArchive
import ChronoModel
import ChronoSystem
import DequeModule
import Fabric
import Foundation
import Histogram
import Logging
import MPI

/// ChronoGrapher: reads its keepers' sealed chunks by RMA, merges them per story into complete
/// time ranges (a range is complete when every keeper's watermark has passed it), and archives
/// them with the other graphers in collective rounds of parallel HDF5.
///
/// A keeper's chunk is acknowledged durable only after the round that wrote every range it
/// touched has flushed the file. Above `grapher.memoryLimitBytes` the grapher stops reading
/// new chunks, so keepers keep theirs (and, in turn, slow their writers).
public final class GrapherRole: RecordingBehavior {
    public let role = Role.grapher
    public var dataTags: [ControlTag] { [.bulk, .replay] }

    private struct PendingAck {
        let keeper: Int
        let sequence: UInt64
        let storyId: StoryID
        /// Just past the chunk's last event (its range's end when it has none): durable once the
        /// story's archive is complete below it.
        let completesBelow: UInt64
    }

    private struct Story {
        var notice: RecordingNotice
        var pipeline: StoryPipeline
        var stopping = false
        /// The current recording: the ticket of its start notice (see ``WatermarkSet/Entry/recording``).
        var recording: UInt64 = 0
        var pending: [PendingAck] = []
        /// Sealed ranges not archived yet: a round archives at most `roundByteLimit` bytes, the rest
        /// waits here for the next round (oldest first).
        var held: Deque<StoryChunk> = []
    }

    private struct Read {
        let descriptor: ChunkDescriptor
        let buffer: any BulkSlot
    }

    /// A round being written: its chunks and the acknowledgements due once it is flushed.
    private struct RoundInFlight {
        var chunks: [ArchiveChunk]
        let durable: [PendingAck]
        let events: UInt64
        let bytes: Int
        /// When it was handed to the round thread (the role's clock).
        let started: ContinuousClock.Instant
        var warned = false
    }

    private let config: ChronoConfig
    private let keepers: [Int]
    private let bulk: any BulkTransport
    private let pool: any BulkSlotPool
    private let graphers: any CollectiveGroup
    /// The archive, `nil` when it could not be opened (then nothing is archived).
    private let archive: (any ArchiveStore)?
    /// The thread that writes rounds while this one reads and merges the next (nil: rounds are
    /// written here, when MPI is not initialised with `MPI_THREAD_MULTIPLE` or there is no archive).
    private let roundThread: ArchiveRoundThread?
    /// The archive's own duplicate of `graphers` when rounds are written on `roundThread`.
    private let archiveCommunicator: Communicator?
    /// A round handed to `roundThread` and not finished yet.
    private var roundInFlight: RoundInFlight?
    /// The archive file's path, for messages.
    private let archivePath: String
    /// Why archiving stopped (the first failed open or round), or `nil` while it works.
    private var archiveFailure: String?
    /// This grapher gave up on a round its thread is stuck in: the thread is never joined and the
    /// writer never used again (it holds HDF5 inside a collective call).
    private var roundStuck = false
    /// A grapher's round was given up (this one's or another's): the archive is left as its last
    /// flush made it, never closed (closing is collective), and this rank leaves without
    /// `MPI_Finalize` (``StuckCollective``).
    private var archiveAbandoned = false
    /// This grapher gave up on its round and has not told the others yet (at the next agreement).
    private var stuckToTell = false
    private let logger: Logger
    /// Event time (the clock's watermark, durable latency) and elapsed time (rounds, leases, read time).
    private let clock: any RoleClock
    /// Deliberate misbehaviour for tests (a slow archive); none in the product.
    package var faults: any RoleFaults = NoFaults()
    private var stories: [StoryID: Story] = [:]
    /// A keeper and a story: watermarks are per keeper and story.
    private struct Source: Hashable {
        let keeper: Int
        let story: StoryID
    }
    /// A descriptor (or watermark report) of a source not applied yet: its watermark applies once
    /// its own chunk and every chunk the keeper sent before it are merged, so RMA completions in
    /// any order never make an event late, and a keeper's watermark moves on with each piece merged
    /// (a range shipped in pieces can be archived in parts while the rest is still queued).
    private struct Arrival {
        let sequence: UInt64?
        let watermark: UInt64
        /// The recording a watermark report belongs to (0 for a chunk's own watermark).
        var recording: UInt64 = 0
        var merged: Bool
    }
    private var arrivals: [Source: Deque<Arrival>] = [:]
    /// Which recording each keeper's "finished" report ends (reports and the visor's notices travel apart).
    private var epochs = RecordingEpochs()
    private var tracked = RecordedStories()
    private var queued: Deque<ChunkDescriptor> = []
    private var reads: [OperationID: Read] = [:]
    /// Storage of archived chunks and merged-away inputs, reused by the next reads, merges and range
    /// buffers (no fresh pages per chunk): at most a quarter of `grapher.memoryLimitBytes` idle.
    private lazy var storage = ChunkStoragePool(capacityLimit: config.grapher.memoryLimitBytes / 4)
    /// Time during which at least one read was outstanding (archive rounds excluded): the chunk
    /// transfer bandwidth is `bytes.transferred` over it.
    private var readBusySince: ContinuousClock.Instant?
    private var readBusy: Duration = .zero
    private var barrier: (any CollectiveWait)?
    private var barrierStarted: ContinuousClock.Instant?
    private var nextRoundAt: ContinuousClock.Instant
    /// The start of the last round that wrote ``streamingRoundBytes`` or more (nil before one).
    private var lastStreamed: ContinuousClock.Instant?
    private var draining = false
    private var closed = false
    /// Archive leases: while one is held no round starts, so a player reads a consistent file.
    private var leases = ArchiveLeases()
    private var stats: Counters = [:]
    private var durableLatency = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    private var retired = PipelineStats()

    /// Opens the archive collectively. Collective over `graphers` (every grapher constructs its role at once).
    /// - Parameters:
    ///   - keepers: world ranks of this group's keepers (the contributors of every story).
    ///   - graphers: the communicator of all graphers (archive writes are collective over it).
    ///   - clock: event and elapsed time (the system's unless a test steps its own).
    public convenience init(config: ChronoConfig, keepers: [Int], bulk: BulkPlane, graphers: Communicator, logger: Logger,
                            clock: any RoleClock = SystemRoleClock()) throws {
        // Rounds overlap the next round's reads when MPI allows a second thread: the archive's MPI
        // calls then go over a duplicate, never meeting this thread's barriers and reductions.
        let overlapped = MPIRuntime.threadLevel >= .multiple
        let archiveCommunicator = overlapped ? try graphers.duplicate() : nil
        let (archive, failure) = Self.openArchive(config: config, graphers: archiveCommunicator ?? graphers)
        try self.init(config: config, keepers: keepers, bulk: bulk, graphers: graphers, archive: archive,
                      archiveFailure: failure, overlapRounds: overlapped, archiveCommunicator: archiveCommunicator,
                      logger: logger, clock: clock)
    }

    /// A grapher over the given seams (the simulator's, or the real ones opened by the convenience initializer).
    /// - Parameters:
    ///   - keepers: world ranks of this group's keepers (the contributors of every story).
    ///   - graphers: every grapher (rounds start together; the last round is agreed).
    ///   - archive: where rounds go, `nil` when it could not be opened (`archiveFailure` says why).
    ///   - overlapRounds: whether rounds are written on a thread of their own while this one reads.
    ///   - archiveCommunicator: the archive's own communicator, freed when the archive is closed.
    ///   - clock: event and elapsed time (the system's unless a test or the simulator steps its own).
    /// - Throws: `FabricError` when the read slots cannot be created.
    public init(config: ChronoConfig, keepers: [Int], bulk: any BulkTransport, graphers: any CollectiveGroup,
                archive: (any ArchiveStore)?, archiveFailure failure: String? = nil, overlapRounds: Bool = false,
                archiveCommunicator: Communicator? = nil, logger: Logger, clock: any RoleClock = SystemRoleClock()) throws {
        self.config = config
        self.keepers = keepers
        self.bulk = bulk
        self.graphers = graphers
        self.logger = logger
        self.clock = clock
        self.pool = try bulk.makeSlotPool(slotSize: config.transferSlotBytes, slotCount: config.grapherReadSlots)
        self.archive = archive
        self.archiveCommunicator = archiveCommunicator
        self.roundThread = overlapRounds ? archive.map { ArchiveRoundThread(writer: $0) } : nil
        self.archivePath = config.archive.directory + "/" + ArchiveLayout.defaultFileName
        archive?.maxRowBytes = config.archive.maxRowBytes
        archive?.pageCacheBytes = config.archive.pageCacheBytes
        self.nextRoundAt = clock.instant() + .milliseconds(config.grapher.archiveIntervalMs)
        if let failure { stopArchiving(because: failure) }
    }

    private func bump(_ key: Counter, _ n: UInt64 = 1) { stats[key, default: 0] += n }

    /// Opens the archive collectively; when that fails on any grapher, none archives (the job
    /// still runs, drains and counts what it could not archive).
    /// - Returns: the writer, or `nil` and the reason.
    private static func openArchive(config: ChronoConfig, graphers: Communicator) -> (ArchiveWriter?, String?) {
        var writer: ArchiveWriter?
        var failure: String?
        do {
            writer = try ArchiveWriter.open(directory: config.archive.directory, communicator: graphers)
        } catch {
            failure = "\(error)"
        }
        // A writer opened here but not on another grapher cannot be closed collectively: drop it.
        let failedAnywhere = (try? graphers.allreduce(Int64(failure == nil ? 0 : 1), op: .max)) ?? 1
        if failedAnywhere != 0 {
            return (nil, failure ?? "the archive could not be opened on another grapher")
        }
        return (writer, nil)
    }

    // MARK: - Recording

    /// A story's pipeline: chunks of `RoleFaults.keepsReceivedBytesFrom()` bytes or more (16 KiB)
    /// are kept as they came, so a range of one keeper's chunks seals as they are.
    private func newPipeline(_ story: StoryID) -> StoryPipeline {
        var pipeline = StoryPipeline(storyId: story, config: config, pool: storage)
        pipeline.minSharedBytes = faults.keepsReceivedBytesFrom()
        return pipeline
    }

    public func startRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.start(notice)
        var s = stories[notice.storyId] ?? Story(notice: notice, pipeline: newPipeline(notice.storyId))
        s.stopping = false
        s.recording = notice.ticket
        for k in keepers where epochs.registers(keeper: UInt64(k), story: notice.storyId, ticket: notice.ticket) {
            s.pipeline.addContributor(UInt64(k))
        }
        stories[notice.storyId] = s
        return .success
    }

    public func stopRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.stop(notice)
        stories[notice.storyId]?.stopping = true
        return .success
    }

    // MARK: - Messages

    public func handle(_ message: ControlMessage, from source: Int, tag: ControlTag, channel: any ControlTransport) throws -> Bool {
        if case .archiveLease(let lease) = message {
            leases.receive(lease, from: source)
            return true
        }
        switch message {
        case .watermarks, .chunkDescriptor:
            // Only this group's keepers offer chunks and watermarks: another rank's would be archived
            // as theirs, or hold the group's stories back.
            guard keepers.contains(source) else {
                bump(.bulkRefused)
                return true
            }
        default: break
        }
        if case .watermarks(let set) = message {
            // Each entry counts as a watermark-only descriptor, in the order the keeper sent them.
            for e in set.entries {
                guard stories[e.storyId] != nil || e.watermark == UInt64.max else {
                    bump(.watermarksUnknownStory)
                    continue
                }
                note(watermark: e.watermark, recording: e.recording, of: Source(keeper: source, story: e.storyId))
            }
            return true
        }
        guard case .chunkDescriptor(let d) = message else { return false }
        guard stories[d.storyId] != nil else {
            bump(.chunksUnknownStory)
            if d.eventCount > 0 {
                try ack(keeper: source, storyId: d.storyId, sequence: d.sequence, rc: .notExist,
                        detail: "story \(d.storyId) is not recorded by this grapher", channel: channel)
            }
            return true
        }
        let key = Source(keeper: source, story: d.storyId)
        if d.eventCount > 0 {
            queued.append(d)
            arrivals[key, default: []].append(Arrival(sequence: d.sequence, watermark: d.watermark, merged: false))
        } else {
            note(watermark: d.watermark, of: key)
        }
        return true
    }

    /// Records a keeper's watermark report for a story: applied now, or after the chunks sent before it.
    private func note(watermark: UInt64, recording: UInt64 = 0, of key: Source) {
        if arrivals[key]?.isEmpty ?? true {
            apply(watermark: watermark, recording: recording, of: key)
        } else {
            arrivals[key]?.append(Arrival(sequence: nil, watermark: watermark, recording: recording, merged: true))
        }
    }

    private func apply(watermark w: UInt64, recording: UInt64 = 0, of key: Source) {
        if w == UInt64.max {
            // The keeper finished a recording: the current one, an earlier one (the story was started
            // again since, and the keeper records it again), or one not started here yet.
            switch epochs.finished(keeper: UInt64(key.keeper), story: key.story, recording: recording,
                                   current: stories[key.story]?.recording) {
            case .current: break
            case .stale:
                bump(.watermarksStale)
                return
            case .ahead:
                bump(.watermarksAhead)
                return
            }
        }
        guard stories[key.story] != nil else { return }
        // In place: a copy of the story would share its buffers and make the mutation copy them.
        if w == UInt64.max {
            stories[key.story]?.pipeline.removeContributor(UInt64(key.keeper))
        } else {
            stories[key.story]?.pipeline.advanceWatermark(of: UInt64(key.keeper), to: w)
        }
    }

    /// Takes a chunk read from `keeper` into its story's pipeline: decoded into pooled storage,
    /// which the pipeline adopts as its range's buffer (the range's first chunk) or keeps as it is
    /// beside it (a later chunk of the range: sealed, they leave as they came, no copy).
    /// - Returns: nil when the story is no longer recorded here.
    /// - Throws: ``ChronoLogError/malformedMessage(_:)`` when the bytes do not decode (nothing taken).
    private func take(_ read: Read, _ d: ChunkDescriptor, from keeper: Int) throws(ChronoLogError)
        -> (report: InsertReport, events: Int, completesBelow: UInt64)? {
        let length = Int(d.length)
        // Room for what the piece can hold (each event takes at least its record in the encoding),
        // whatever count the descriptor claims.
        let records = min(Int(clamping: d.eventCount), length / EventRecord.byteSize)
        var chunk = storage.takeChunk(storyId: d.storyId, range: d.range, records: records, bytes: length)
        let decoded: Result<Void, ChronoLogError> = read.buffer.withUnsafeMutableBytes { raw in
            Result { () throws(ChronoLogError) in
                try chunk.assign(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
            }
        }
        do { try decoded.get() } catch {
            storage.give(&chunk)
            throw error
        }
        let completesBelow = chunk.records.last.map { $0.time &+ 1 } ?? chunk.range.end
        let events = chunk.count
        // In place: a copy of the story would share its range buffers and force copies of them.
        guard let report = stories[d.storyId]?.pipeline.insert(taking: &chunk, from: UInt64(keeper), watermark: nil) else {
            storage.give(&chunk)
            return nil
        }
        return (report, events, completesBelow)
    }

    /// A chunk was merged (or failed): applies the watermarks it no longer holds back.
    private func settle(_ d: ChunkDescriptor) {
        let key = Source(keeper: Int(d.keeperRank), story: d.storyId)
        guard var list = arrivals.removeValue(forKey: key) else { return }
        if let i = list.firstIndex(where: { $0.sequence == d.sequence }) { list[i].merged = true }
        while let first = list.first, first.merged {
            apply(watermark: first.watermark, recording: first.recording, of: key)
            list.removeFirst()
        }
        if !list.isEmpty { arrivals[key] = list }
    }

    private func ack(keeper: Int, storyId: StoryID, sequence: UInt64, rc: ReturnCode, detail: String = "",
                     channel: any ControlTransport) throws {
        let m = ControlMessage.chunkAck(ChunkAck(storyId: storyId, sequence: sequence, rc: rc, detail: detail))
        try channel.post(m.encode(), to: keeper, tag: .bulk)
    }

    // MARK: - Work

    private var bufferedBytes: Int {
        stories.values.reduce(roundInFlight?.bytes ?? 0) {
            $0 + $1.pipeline.bufferedBytes + $1.held.reduce(0) { $0 + $1.encodedByteCount }
        }
    }

    public func poll(channel: any ControlTransport) throws -> Bool {
        // Leases are granted between rounds, and after the archive was closed too. A lease held
        // when a round falls due is recalled, and then no lease is granted until the round ran.
        let roundDue = !closed && barrier == nil && roundInFlight == nil && clock.instant() >= nextRoundAt
        if roundDue && leases.isHeld { try leases.recall(channel: channel) }
        // After a round was given up no lease is granted: the file may be half written, on a file
        // system that hangs whoever opens it; the player's archive reads time out instead.
        let roundInProgress = barrier != nil || roundInFlight != nil || archiveAbandoned
        let granted = try leases.grant(roundInProgress: roundInProgress || (roundDue && leases.roundWaiting),
                                       now: clock.instant(), channel: channel, logger: logger)
        guard !closed else { return granted }
        var did = try completeReads(channel: channel) || granted
        did = try postReads(channel: channel) || did
        did = try runRound(channel: channel) || did
        return did
    }

    private func completeReads(channel: any ControlTransport) throws -> Bool {
        guard !reads.isEmpty else { return false }
        let done = try bulk.progress()
        let observedAt = clock.instant()
        for completion in done {
            guard let read = reads.removeValue(forKey: completion.operation) else { continue }
            let d = read.descriptor
            let keeper = Int(d.keeperRank)
            defer {
                try? pool.free(read.buffer)
                settle(d)
            }
            if let error = completion.error {
                bump(.chunksReadFailed)
                logger.error("RMA read of chunk \(d.sequence) from keeper \(keeper) failed: \(error)")
                try ack(keeper: keeper, storyId: d.storyId, sequence: d.sequence, rc: .unknown, detail: "\(error)", channel: channel)
                continue
            }
            let taken: (report: InsertReport, events: Int, completesBelow: UInt64)?
            do {
                read.buffer.withUnsafeMutableBytes { raw in
                    StoryChunk.rebaseRecordOffsets(in: raw, count: Int(d.eventCount), by: d.payloadBase)
                }
                taken = try take(read, d, from: keeper)
            } catch {
                bump(.chunksMalformed)
                try ack(keeper: keeper, storyId: d.storyId, sequence: d.sequence, rc: .invalidArgument, detail: "\(error)",
                        channel: channel)
                continue
            }
            guard let (report, events, completesBelow) = taken else { continue }
            // Read: the keeper may offer its next piece now (it keeps the events until durable).
            try channel.post(ControlMessage.chunkAck(ChunkAck(storyId: d.storyId, sequence: d.sequence, rc: .success,
                                                              received: true)).encode(), to: keeper, tag: .bulk)
            stories[d.storyId]?.pending.append(PendingAck(keeper: keeper, sequence: d.sequence, storyId: d.storyId,
                                                          completesBelow: completesBelow))
            bump(.chunksReceived)
            if roundInFlight != nil { bump(.chunksReceivedDuringRounds) }
            bump(.eventsReceived, UInt64(events))
            bump(.bytesTransferred, d.length)
            if !report.rejected.isEmpty { bump(.eventsRejected, UInt64(report.rejected.count)) }
        }
        if reads.isEmpty, let since = readBusySince {
            readBusy += observedAt - since  // decoding and merging do not count as transfer time
            readBusySince = nil
        }
        return !done.isEmpty
    }

    private func postReads(channel: any ControlTransport) throws -> Bool {
        var did = false
        guard !queued.isEmpty, pool.availableSlots > 0 else { return false }
        // Counted once per call (a sum over every story): posting reads does not change it, their
        // chunks join the pipelines when they complete.
        let buffered = bufferedBytes
        let limit = config.grapher.memoryLimitBytes
        while let d = queued.first, pool.availableSlots > 0, buffered < limit {
            try post(d, channel: channel)
            queued.removeFirst()
            did = true
        }
        // At the bound, what is buffered waits for keepers whose chunks may be queued behind it: a
        // range larger than the bound would never complete. So one read at a time goes on, of the
        // next chunk of the keeper a story waits for; its watermark moves on when it is merged, and
        // the next round archives (and frees) what lies below. Per round, each waiting story takes
        // one such chunk, and more while those reads stay within a quarter of the bound: so the
        // bound is passed by at most a quarter of it plus one slot per waiting story, and a keeper
        // far behind the others catches up in a few rounds, not one chunk per round.
        if !did, buffered >= limit, reads.isEmpty, let i = nextHoldingBack(budgetLeft: bytesReadAtBound < limit / 4) {
            readAtBound.insert(queued[i].storyId)
            bytesReadAtBound += Int(clamping: queued[i].length)
            try post(queued[i], channel: channel)
            queued.remove(at: i)
            bump(.readsAtBound)
            did = true
        }
        // A provider that copies at once (shm with CMA) has completed them already: take them now,
        // not after the rest of the loop (and perhaps an archive round).
        if did { _ = try completeReads(channel: channel) }
        return did
    }

    private func post(_ d: ChunkDescriptor, channel: any ControlTransport) throws {
        guard bulk.hasPeer(worldRank: Int(d.keeperRank)) else {
            bump(.chunksUnknownKeeper)
            settle(d)
            return
        }
        // A piece is read into one slot as the chunk it is (header, record table, payload): the
        // header is written here, the record table and the payload come from where they lie in
        // the keeper's sealed chunk, and the records' offsets are rebased once they are in.
        guard d.length <= UInt64(pool.slotSize) else {
            bump(.chunksMalformed)
            try ack(keeper: Int(d.keeperRank), storyId: d.storyId, sequence: d.sequence, rc: .invalidArgument,
                    detail: "a piece of \(d.eventCount) events and \(d.payloadBytes) payload bytes does not fit a slot of \(pool.slotSize) bytes",
                    channel: channel)
            settle(d)
            return
        }
        let count = Int(d.eventCount), tableBytes = count * EventRecord.byteSize
        let buffer = try pool.allocate(byteCount: Int(d.length))
        buffer.withUnsafeMutableBytes { raw in
            StoryChunk.storeHeader(into: raw, storyId: d.storyId, range: d.range, revision: d.revision, eventCount: count,
                                   payloadBytes: Int(d.payloadBytes))
        }
        let segments = [
            BulkReadSegment(offset: StoryChunk.headerByteCount, remoteAddress: d.recordsAddress, key: d.recordsKey, length: tableBytes),
            BulkReadSegment(offset: StoryChunk.headerByteCount + tableBytes, remoteAddress: d.payloadAddress, key: d.payloadKey,
                            length: Int(d.payloadBytes)),
        ].filter { $0.length > 0 }  // events of no bytes have no payload to read
        let op: OperationID
        do {
            op = try bulk.postRead(into: buffer, fromWorldRank: Int(d.keeperRank), segments: segments)
        } catch {
            try? pool.free(buffer)
            throw error
        }
        if readBusySince == nil { readBusySince = clock.instant() }
        reads[op] = Read(descriptor: d, buffer: buffer)
    }

    /// Stories that had a chunk read past the memory bound since the last round, and the bytes
    /// all such reads took.
    private var readAtBound: Set<StoryID> = []
    private var bytesReadAtBound = 0

    /// The queue position of the first chunk of a keeper whose watermark is its story's lowest
    /// (the keeper every range of the story waits for), for a story not read past the bound since
    /// the last round, or for any story while `budgetLeft` (the reads past the bound this round
    /// are still within their budget).
    private func nextHoldingBack(budgetLeft: Bool) -> Int? {
        var seen: Set<Source> = []
        for (i, d) in queued.enumerated() where budgetLeft || !readAtBound.contains(d.storyId) {
            let key = Source(keeper: Int(d.keeperRank), story: d.storyId)
            guard seen.insert(key).inserted else { continue }  // only a keeper's first queued chunk
            guard let pipeline = stories[d.storyId]?.pipeline, let w = pipeline.contributors[UInt64(d.keeperRank)],
                  let low = pipeline.lowWatermark(excluding: 0) else { continue }
            if w <= low { return i }
        }
        return nil
    }

    // MARK: - Archive rounds

    /// One step of the archive rounds: finishes the round in flight when its outcome is there;
    /// else, when a round is due and the graphers met, seals what the stories can, takes the
    /// round's chunks and the acknowledgements it makes durable, and starts writing them.
    private func runRound(channel: any ControlTransport) throws -> Bool {
        if roundInFlight != nil { return try finishRoundInFlight(channel: channel) }
        guard try graphersMet(at: clock.instant()) else { return false }
        sealStories(at: clock.now())
        var chunks = try takeRoundChunks()
        let durable = takeDurableAcks()
        let flight = RoundInFlight(chunks: chunks, durable: durable, events: UInt64(chunks.reduce(0) { $0 + $1.chunk.count }),
                                   bytes: chunks.reduce(0) { $0 + $1.chunk.encodedByteCount }, started: clock.instant())
        chunks.removeAll()
        if let roundThread, archiveFailure == nil {
            // Reads, merges and the next round's sealing go on while it is written and flushed.
            roundThread.submit(flight.chunks, faults: faults)
            roundInFlight = flight
            return true
        }
        let readsOutstanding = !reads.isEmpty
        let writeStarted = clock.instant()
        // Else on the round thread, as part of the write; a round that writes nothing is not delayed.
        if roundThread == nil, archive != nil, archiveFailure == nil { faults.archiveRoundStarts(events: Int(flight.events)) }
        let outcome = write(flight.chunks)
        if readsOutstanding, let since = readBusySince { readBusySince = since + (clock.instant() - writeStarted) }
        try finish(consume flight, outcome: outcome, channel: channel)
        return true
    }

    /// The round written on the round thread is finished once its outcome is there (or given up
    /// when it is stuck). The flight is taken out, not copied: a copy would share its chunks'
    /// storage, which then could not go back to the pool.
    private func finishRoundInFlight(channel: any ControlTransport) throws -> Bool {
        guard let outcome = roundThread?.takeOutcome() else {
            guard watchStuckRound(), let flight = roundInFlight.take() else { return false }
            try finishStuck(consume flight, channel: channel)
            return true
        }
        guard let flight = roundInFlight.take() else { return false }
        try finish(consume flight, outcome: outcome, channel: channel)
        return true
    }

    /// Whether a round may start at `now`: it is due, no archive lease is held, and every grapher
    /// reached the round's barrier (started here when due; a grapher alone waits for nobody).
    private func graphersMet(at now: ContinuousClock.Instant) throws -> Bool {
        if barrier == nil {
            guard now >= nextRoundAt, !leases.isHeld else { return false }
            if graphers.size == 1 {
                barrierStarted = nil  // alone: nobody to wait for
            } else {
                barrier = try graphers.startBarrier()
                barrierStarted = now
            }
        }
        if let b = barrier {
            guard try b.isComplete() else {
                if let started = barrierStarted, now - started > .seconds(5) {
                    logger.warning("archive round waiting for the other graphers for \(now - started)")
                    barrierStarted = now
                }
                return false
            }
            barrier = nil
        }
        return true
    }

    /// Seals what each story's keepers' watermarks (and the clock, at `clockNow`) allow, holding
    /// the sealed chunks for the rounds.
    private func sealStories(at clockNow: UInt64) {
        for id in Array(stories.keys) {
            guard var s = stories.removeValue(forKey: id) else { continue }  // unshared while sealing
            // As at the keepers, the clock is a contributor (id 0, never a keeper's rank), so a
            // stopped story seals by time instead of all at once, and a restart is not late.
            s.pipeline.advanceWatermark(of: 0, to: clockNow)
            let finishing = draining && s.pipeline.contributors.keys.allSatisfy { $0 == 0 }
            // A keeper shipping a range in pieces (or cutting it at its memory bound) reports a
            // watermark inside it: the part below is archived now, so that keeper's offers come back.
            var sealed = finishing ? s.pipeline.drain() : s.pipeline.sealReady(splittingExcept: 0)
            // Every keeper finished the story: what they sent is archived now, not when the clock
            // leaves its range (a day later with day-long chunks), so their slots come back.
            sealed += s.pipeline.sealBehind(clock: 0, margin: StoryPipeline.restartMargin)
            for chunk in sealed where !chunk.isEmpty { s.held.append(chunk) }
            stories[id] = s
        }
    }

    /// The round's chunks. Bounded work per round: the stories' oldest sealed ranges first, up to
    /// `roundByteLimit` bytes (at least one chunk), so a backlog never makes one round long; reads
    /// and acknowledgements go on between rounds, and the next round follows at once.
    private func takeRoundChunks() throws -> [ArchiveChunk] {
        var chunks: [ArchiveChunk] = []
        var roundBytes = 0
        let order = stories.filter { !$0.value.held.isEmpty }
            .sorted { ($0.value.held[0].range.start, $0.key.rawValue) < ($1.value.held[0].range.start, $1.key.rawValue) }.map(\.key)
        for id in order {
            guard var s = stories.removeValue(forKey: id) else { continue }
            var taken: [StoryChunk] = []
            while let next = s.held.first, roundBytes == 0 || roundBytes + next.encodedByteCount <= roundByteLimit {
                roundBytes += next.encodedByteCount
                taken.append(s.held.removeFirst())
            }
            try archiveChunks(of: &taken, story: id, notice: s.notice, into: &chunks)
            stories[id] = s
        }
        return chunks
    }

    /// Appends the archive chunks a story's `taken` chunks become: as they are where they follow
    /// one another in time and are large, merged otherwise. Inputs merged into new storage go
    /// back to the pool.
    private func archiveChunks(of taken: inout [StoryChunk], story id: StoryID, notice: RecordingNotice,
                               into chunks: inout [ArchiveChunk]) throws {
        if let groups = Self.archiveGroups(taken, rowBytes: config.archive.maxRowBytes) {
            // Chunks one after the other in time: each of half a row or more archived as it is,
            // without the copy of every byte a merge into one chunk costs (issue 17); a run of
            // smaller ones merged into one, so they do not each take an index row.
            var next = 0
            for group in groups {
                // Moved out of `taken`, not copied: a copy left there would share each chunk's
                // storage, and the pool could not reuse it.
                var inputs: [StoryChunk] = []
                for k in next..<(next + group) {
                    var moved = StoryChunk.empty(storyId: id, range: taken[k].range)
                    swap(&moved, &taken[k])
                    inputs.append(moved)
                }
                next += group
                if inputs.count == 1 {
                    chunks.append(ArchiveChunk(chronicle: notice.chronicle, story: notice.story, chunk: inputs.removeFirst()))
                } else {
                    if let merged = try StoryChunk.merge(inputs, pool: storage) {
                        chunks.append(ArchiveChunk(chronicle: notice.chronicle, story: notice.story, chunk: merged))
                    }
                    while var input = inputs.popLast() { storage.give(&input) }
                }
            }
        } else {
            // One archive chunk per story per round: many small chunks (pieces, late revisions)
            // would each cost index rows and HDF5 selections; readers merge by time anyway.
            if let merged = try StoryChunk.merge(taken, pool: storage) {
                chunks.append(ArchiveChunk(chronicle: notice.chronicle, story: notice.story, chunk: merged))
            }
            // Merged into new storage: the inputs' storage serves the next reads.
            if taken.count > 1 {
                while var input = taken.popLast() { storage.give(&input) }
            }
        }
    }

    /// The acknowledgements this round makes durable: each story's chunks wholly before the first
    /// range still buffered or held back (all of them once nothing is).
    private func takeDurableAcks() -> [PendingAck] {
        var durable: [PendingAck] = []
        for id in Array(stories.keys) {
            guard var s = stories[id] else { continue }
            var frontier = s.pipeline.sealedFrontier
            for c in s.held { frontier = min(frontier, c.range.start) }
            let settled = s.pipeline.bufferedEventCount == 0 && s.held.isEmpty
            let (now, later) = s.pending.reduce(into: ([PendingAck](), [PendingAck]())) { acc, p in
                if p.completesBelow <= frontier || settled { acc.0.append(p) } else { acc.1.append(p) }
            }
            durable += now
            s.pending = later
            stories[id] = s
        }
        return durable
    }

    /// Ends a round once written (or failed): counts it, acknowledges what it made durable, forgets
    /// finished stories, agrees with the other graphers whether the last round has been written,
    /// and schedules the next round.
    /// A round that does not finish is stuck in a collective HDF5 or MPI-IO call on some grapher
    /// (a hung file system or I/O server on one node, a grapher failing inside the call), and would
    /// hold every grapher, and the job, for ever. The thread in it cannot be called back, so at
    /// `timeouts.archiveRoundMs` the grapher gives the round up (a warning comes at half of it):
    /// see ``finishStuck(_:channel:)``.
    /// - Returns: whether the round was given up.
    private func watchStuckRound() -> Bool {
        guard let flight = roundInFlight else { return false }
        let limit = Duration.milliseconds(config.timeouts.archiveRoundMs)
        let running = clock.instant() - flight.started
        if running >= limit { return true }
        if running >= limit / 2, !flight.warned {
            roundInFlight?.warned = true
            logger.warning("archive round \((stats[.rounds] ?? 0) + 1) (\(flight.events) events) has run for \(running); it is given up (its events counted as lost, the job drained and ended) if it has not finished after \(limit) (timeouts.archiveRoundMs)")
        }
        return false
    }

    /// Gives up a round stuck on the round thread, as a failed round: archiving stops, the round's
    /// events count as not archived and its chunks are acknowledged failed to the keepers, and
    /// the job drains and ends. The thread stays in its call holding HDF5 and the archive's
    /// communicator, so neither is used again on this rank: the writer is never closed, the
    /// thread never joined, the round's chunks (which it may still read) never reused, and the
    /// rank leaves the job without `MPI_Finalize` (``StuckCollective``). The other graphers hear
    /// of it at the round's agreement and leave the archive alike. The file keeps the rounds
    /// flushed before, which is everything acknowledged durable.
    private func finishStuck(_ flight: consuming RoundInFlight, channel: any ControlTransport) throws {
        var flight = consume flight
        let running = clock.instant() - flight.started
        roundStuck = true
        archiveAbandoned = true
        stuckToTell = true
        StuckCollective.giveUp()
        stopArchiving(because: "archive round \((stats[.rounds] ?? 0) + 1) (\(flight.events) events) has not finished after \(running) (timeouts.archiveRoundMs=\(config.timeouts.archiveRoundMs)): a collective HDF5/MPI-IO call is stuck on some grapher (a hung or failing file system?); the round is given up, the job drains and ends, and this rank leaves without MPI_Finalize")
        flight.chunks = []  // still the round thread's: dropped here, never recycled
        try finish(flight, outcome: nil, channel: channel)
    }

    /// Another grapher gave up a stuck round: this one stops archiving too and leaves the archive
    /// as its last flush made it (closing it is collective, and the other grapher never will).
    private func abandonArchive() {
        guard !archiveAbandoned else { return }
        archiveAbandoned = true
        StuckCollective.giveUp()
        if archiveFailure == nil {
            stopArchiving(because: "the archive round of another grapher is stuck in a collective HDF5/MPI-IO call (timeouts.archiveRoundMs=\(config.timeouts.archiveRoundMs)); the job drains and ends, and this rank leaves without MPI_Finalize")
        }
    }

    private func finish(_ flight: consuming RoundInFlight, outcome: ArchiveRoundThread.Outcome?, channel: any ControlTransport) throws {
        var flight = consume flight  // the only reference to the round's chunks: their storage is reused
        var report: ArchiveRoundReport?
        switch outcome {
        case .success(let r): report = r
        case .failure(let error):
            // The writer agreed the failure with every grapher (all stop in the same round). The
            // file keeps its last flushed round; nothing more is written to it by this job.
            stopArchiving(because: "\(error)")
        case nil: break
        }
        if report == nil { bump(.eventsNotArchived, flight.events) }
        let durable = flight.durable
        leases.roundRan()
        readAtBound.removeAll(keepingCapacity: true)
        bytesReadAtBound = 0
        if let report { account(report, chunks: flight.chunks) }
        let archivedChunks = flight.chunks.count
        recycle(&flight.chunks)
        bump(.rounds)
        if logger.logLevel <= .debug {
            let pending = stories.values.map { s in
                "\(s.notice.story)=\(s.pending.count)/\(s.pending.map(\.completesBelow).min() ?? 0)@\(s.pipeline.sealedFrontier)"
                    + "\(s.pipeline.contributors.sorted { $0.key < $1.key })"
            }
            let timing = report.map { r in
                "\(r.bytesWritten >> 10) KiB written in \(Int(r.elapsedSeconds * 1000)) ms (flush and commit \(Int(r.flushSeconds * 1000)) ms)"
            } ?? "not written"
            logger.debug("archive round \(stats[.rounds] ?? 0): \(archivedChunks) chunks, \(report?.events ?? 0) events, \(timing), \(durable.count) acks, \(queued.count) queued, \(reads.count) reading, pending \(pending)")
        }
        // Without a report nothing of the round is durable: the keepers hear so (they count
        // `events.failed`), and the events count as lost in the job's summary.
        let rc: ReturnCode = report == nil ? .unknown : .success
        let detail = archiveFailure.map { "not archived: \($0)" } ?? ""
        for p in durable {
            try ack(keeper: p.keeper, storyId: p.storyId, sequence: p.sequence, rc: rc, detail: detail, channel: channel)
        }
        // Forget finished stories.
        for id in Array(stories.keys) {
            guard let s = stories[id] else { continue }
            if s.stopping && s.pipeline.contributors.keys.allSatisfy({ $0 == 0 }) && s.pipeline.bufferedEventCount == 0
                && s.pending.isEmpty && s.held.isEmpty
                && !queued.contains(where: { $0.storyId == id }) && !reads.values.contains(where: { $0.descriptor.storyId == id }) {
                retired.add(s.pipeline.stats)
                stories[id] = nil
            }
        }
        // Everyone agrees when the last round has been written, and hears of a round given up (2).
        let localDone = draining && queued.isEmpty && reads.isEmpty
            && stories.values.allSatisfy { $0.pipeline.bufferedEventCount == 0 && $0.pending.isEmpty && $0.held.isEmpty }
        let agreed = try graphers.agreeOnMaximum(stuckToTell ? 2 : localDone ? 0 : 1)
        stuckToTell = false
        if agreed == 2 { abandonArchive() }
        if agreed == 0 {
            closeArchive()
            closed = true
        }
        let backlog = stories.values.contains { !$0.held.isEmpty } || agreed == 2
        if flight.bytes >= Self.streamingRoundBytes { lastStreamed = flight.started }
        nextRoundAt = Self.nextRoundDue(now: clock.instant(), lastStarted: flight.started, lastBytes: flight.bytes,
                                        backlog: backlog, interval: .milliseconds(config.grapher.archiveIntervalMs),
                                        lastStreamed: lastStreamed)
    }

    /// Writes one round collectively on this thread (every grapher calls it in the same round,
    /// also after a failure), or nothing once archiving has stopped (`nil`).
    private func write(_ chunks: [ArchiveChunk]) -> ArchiveRoundThread.Outcome? {
        guard let archive, archiveFailure == nil else { return nil }
        do {
            return .success(try archive.writeRound(chunks))
        } catch {
            return .failure(error)
        }
    }

    /// Stops archiving for the rest of the job: says why, once, naming the file.
    private func stopArchiving(because reason: String) {
        archiveFailure = reason
        stats[.archiveFailed] = 1
        logger.critical("archive \(archivePath): writing failed, so this job archives nothing more; the rounds flushed before stay intact, events not yet durable are not archived (counted as lost): \(reason)")
    }

    /// Counts an archived round: events, bytes, durable latency, round time.
    private func account(_ report: ArchiveRoundReport, chunks: [ArchiveChunk]) {
        let writtenAt = clock.now()
        for c in chunks {
            for r in c.chunk.records {
                durableLatency.record(writtenAt > r.time ? (writtenAt - r.time) / 1000 : 0)
            }
        }
        let roundMs = UInt64(max(0, report.elapsedSeconds * 1000))
        if roundMs > stats[.roundMs, default: 0] { stats[.roundMs] = roundMs }
        bump(.eventsArchived, UInt64(report.events))
        bump(.bytesArchived, UInt64(report.payloadBytes))
    }

    /// Closes the archive collectively at the end of the job; a failure is reported, not thrown
    /// (the rounds that returned are durable regardless). An abandoned archive is left open:
    /// only an idle round thread is ended.
    private func closeArchive() {
        if archiveAbandoned {
            if !roundStuck { roundThread?.stop() }
            logger.notice("archive \(archivePath): left as its last flush made it (a round was given up), not closed")
            return
        }
        roundThread?.stop()
        do {
            try archive?.close()
        } catch {
            logger.error("archive \(archivePath): closing failed: \(error)")
            stats[.archiveCloseFailed] = 1
        }
        do {
            try archiveCommunicator?.free()
        } catch {
            logger.error("freeing the archive's communicator failed: \(error)")
        }
    }

    /// How a story's sealed chunks taken for one round go to the archive when each one's events all
    /// come before the next one's (consecutive ranges or parts of ranges, not revisions of the same):
    /// the sizes of consecutive groups, in order — a chunk of at least half a row's bytes
    /// (`archive.maxRowBytes`) alone, archived as it is; a run of smaller ones together, merged
    /// into one (each alone would take an index row a merge saves). Nil when some chunk is empty or
    /// the chunks overlap in time, or there is only one: they are merged into one chunk.
    public static func archiveGroups(_ chunks: [StoryChunk], rowBytes: Int) -> [Int]? {
        guard chunks.count > 1 else { return nil }
        var groups: [Int] = []
        var small = 0
        var previous: EventRecord? = nil
        for c in chunks {
            guard let first = c.records.first, let last = c.records.last else { return nil }
            if let p = previous, !EventRecord.precedes(p, first) { return nil }
            previous = last
            if 2 * c.encodedByteCount >= rowBytes {
                if small > 0 { groups.append(small) }
                small = 0
                groups.append(1)
            } else {
                small += 1
            }
        }
        if small > 0 { groups.append(small) }
        return groups
    }

    /// A round writing at least this much (encoded bytes) is followed at once by the next one.
    public static let streamingRoundBytes = 4 << 20

    /// When the next archive round is due, once the last one (started at `lastStarted`, writing
    /// `lastBytes` encoded bytes) has finished at `now`.
    ///
    /// Under a steady stream the next round follows at once (group commit): it writes what arrived
    /// while the last one was written, so events wait about one round's length to become durable,
    /// not the interval on top of it. Keepers free memory only for durable events, so under
    /// saturation that wait divides their throughput (issue 17). After a round with little to
    /// write the interval applies, counted from that round's start, so a trickle of events still
    /// makes one round per interval, not one per event. A `backlog` (sealed ranges a round left
    /// for lack of room, or a round given up) is written at once.
    ///
    /// A stream has pauses between rounds: a round that follows at once can come before the next
    /// ranges have sealed, and find little or nothing to write. While the last round of a stream
    /// (`lastStreamed`, the start of the last round that wrote ``streamingRoundBytes`` or more) is
    /// less than an interval ago, the next round is due ``streamRecheck`` later, not an interval
    /// after the small one: waiting the interval there held every writer's memory for up to
    /// 100 ms after one round in four or five (issue 17).
    public static func nextRoundDue(now: ContinuousClock.Instant, lastStarted: ContinuousClock.Instant, lastBytes: Int,
                                    backlog: Bool, interval: Duration,
                                    lastStreamed: ContinuousClock.Instant? = nil) -> ContinuousClock.Instant {
        if backlog || lastBytes >= streamingRoundBytes { return now }
        let due = max(now, lastStarted + interval)
        if let streamed = lastStreamed, now - streamed < interval { return min(due, now + streamRecheck) }
        return due
    }

    /// How soon a round follows one that found little to write while a stream is on
    /// (``nextRoundDue(now:lastStarted:lastBytes:backlog:interval:lastStreamed:)``).
    public static let streamRecheck = Duration.milliseconds(5)

    /// The most chunk bytes one archive round writes: a sixteenth of `grapher.memoryLimitBytes`,
    /// at least 16 MiB (64 MiB with the defaults).
    private var roundByteLimit: Int { max(16 << 20, config.grapher.memoryLimitBytes / 16) }

    /// Keeps the storage of archived chunks (emptying `chunks`) for the next reads and merges.
    private func recycle(_ chunks: inout [ArchiveChunk]) {
        while var c = chunks.popLast() { storage.give(&c.chunk) }
    }

    // MARK: - Shutdown

    public func drain(channel: any ControlTransport) throws -> Bool {
        if !draining {
            draining = true
            // Every keeper has drained: nothing more will come, so every range can be completed.
            for id in Array(stories.keys) {
                for k in keepers { stories[id]?.pipeline.removeContributor(UInt64(k)) }
            }
            nextRoundAt = clock.instant()
        }
        _ = try poll(channel: channel)
        return closed
    }

    public var undrainedEvents: UInt64 {
        stories.values.reduce(roundInFlight?.events ?? 0) {
            $0 + UInt64($1.pipeline.bufferedEventCount + $1.held.reduce(0) { $0 + $1.count })
        }
    }

    public var drainState: String {
        let held = stories.values.map { s in
            RecordedStories.describe(s.notice, s.pipeline, stopping: s.stopping) + " pendingAcks=\(s.pending.count) held=\(s.held.count)"
        }
        return "stories=[\(held.joined(separator: "; "))] queued=\(queued.count) reads=\(reads.count) "
            + "roundInFlight=\(roundInFlight?.events ?? 0) closed=\(closed)"
    }

    public var counters: Counters {
        var total = retired
        for s in stories.values { total.add(s.pipeline.stats) }
        var c = stats.merging(tracked.counters(pipelines: total)) { $1 }
        var busy = readBusy
        if let since = readBusySince { busy += clock.instant() - since }
        c[.readBusyUs] = UInt64(max(0, busy / .microseconds(1)))
        c[.leasesGranted] = leases.granted
        c[.leasesExpired] = leases.expired
        c[.leasesRecalled] = leases.recalled
        (c[.storageReused], c[.storageFresh]) = storage.counts
        c[.storageShared] = storage.sharedCount
        if durableLatency.totalCount > 0 {
            c[.durableLatencyP50Us] = durableLatency.valueAtPercentile(50)
            c[.durableLatencyP99Us] = durableLatency.valueAtPercentile(99)
        }
        return c
    }

    public func close() throws {
        if !closed {
            logger.error("grapher closing before its archive was closed collectively")
        }
        // A round still being written (or given up) may wait in a collective call for ever.
        if roundInFlight == nil && !roundStuck { roundThread?.stop() }
        try pool.close()
    }
}
