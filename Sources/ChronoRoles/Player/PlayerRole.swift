import ChronoRuntime
import ChronoArchive
import ChronoModel
import ChronoSystem
import DequeModule
import Fabric
import Logging

/// ChronoPlayer: answers `ReplayStory` queries with every event of a story in a time range, in
/// event order, from the archive **and** from the events not archived yet.
///
/// A query (forwarded by the visor with the keepers that may hold the story's events) runs in
/// three steps:
/// 1. **Keepers.** Each keeper answers with the events it still holds in the range. A keeper frees
///    a chunk only after the grapher acknowledged it durable, so an event the keepers no longer
///    hold is already in the archive.
/// 2. **Archive.** Under a lease from the group's grapher (no archive round runs meanwhile, so the
///    file is consistent on disk) the player reads the range window by window through the
///    per-story time index, merging each window with the keepers' events of that window and
///    dropping duplicates (an event archived while the keepers answered is seen twice). The
///    archive is opened once per lease, and the lease is kept while queries still have windows
///    to read — until the grapher recalls it for a round that is due, or ``maxLeaseHold``.
/// 3. **Pieces.** The answer goes to the client in pieces of at most `player.pieceBytes`, at most
///    `player.piecesInFlight` unacknowledged; the last piece says up to when the answer is complete.
///    A piece larger than ``inlinePieceBytes`` is encoded into the player's registered memory and
///    the client reads it by RMA (the bulk plane); its slot is reused once the client acknowledged it.
///
/// Each query has its own id and deadline (`timeoutMilliseconds`, answered with
/// `CL_ERR_QUERY_TIMED_OUT`); up to `player.maxConcurrentQueries` run at once, the others wait
/// their turn. Memory: one archive window per query being read, plus the keepers' events.
public final class PlayerRole: RecordingBehavior {
    public let role = Role.player
    public var dataTags: [ControlTag] { [.replay] }

    struct QueryKey: Hashable {
        let clientRank: Int
        let queryId: UInt64
    }

    enum Phase {
        case waiting, keepers, archive, done
    }

    final class Query {
        let key: QueryKey
        let request: ReplayRequest
        let deadline: ContinuousClock.Instant
        /// Not served before (``RoleFaults/playerQueryDelay()``; never in the product).
        var startAt: ContinuousClock.Instant
        var phase = Phase.waiting
        var localId: UInt64 = 0
        var pendingKeepers: Set<Int> = []
        var fresh: [StoryChunk] = []
        var completeBefore = UInt64.max
        var recording = false
        /// The latest of the keepers' ``ReplayPiece/coveredFrom`` ("last N" queries).
        var coveredFrom: UInt64 = 0
        /// A "last N" query's state (nil for a whole range).
        var last: LastEvents?
        /// Where the next archive window starts.
        var cursor: UInt64
        /// Where archive windows end: the range's end, or for a "last N" query the part not in memory.
        var end: UInt64
        var foundInArchive = false
        /// Whether earlier writers' tails were checked (``PlayerRole/checkTails(of:in:)``).
        var tailsChecked = false
        /// Whether everything the archive committed for the range was read (damaged rows are left
        /// out and answered with `CL_ERR_PARTIAL_RESULT`, after the events that could be read).
        var completeness = ArchiveCompleteness()
        var ready: Deque<ReadyPiece> = []
        var nextPiece: UInt32 = 0
        var unacked = 0

        init(key: QueryKey, request: ReplayRequest, deadline: ContinuousClock.Instant, startAt: ContinuousClock.Instant) {
            self.key = key
            self.request = request
            self.deadline = deadline
            self.startAt = startAt
            self.cursor = request.range.start
            self.end = request.range.end
        }

        var archiveDone: Bool { cursor >= end }
    }

    /// A piece of an answer waiting to be sent: events in memory, or an encoded chunk read straight
    /// from the archive into a registered slot (lent to the client when sent) — with its payload
    /// left in the mapped archive file when `payload` is set (the slot then holds the header and
    /// record table; the payload is lent where it lies).
    enum ReadyPiece {
        case chunk(StoryChunk)
        case staged(any BulkSlot, byteCount: Int, eventCount: Int, payload: InPlacePayload?)
    }

    /// A piece lent to a client until it acknowledges it: its slot, and the loans of its payload
    /// in the mapped archive file (kept mapped by `payload`'s owner until the loans are closed).
    private struct LentPiece {
        let buffer: any BulkSlot
        let expires: ContinuousClock.Instant
        var loans: [any BulkLoan] = []
        var payload: InPlacePayload? = nil
    }

    private enum LeaseState {
        case none
        case requested(UInt64, at: ContinuousClock.Instant)
        /// Held since `since`, with the archive opened once for the whole lease (nil: no archive yet).
        case held(UInt64, since: ContinuousClock.Instant, reader: (any ArchiveSource)?)
    }

    /// A registered slot lent to a client until it acknowledges the piece.
    private struct LentKey: Hashable {
        let clientRank: Int
        let queryId: UInt64
        let pieceNumber: UInt32
    }

    /// Pieces up to this size travel inline in the piece message (no RMA round trip).
    public static let inlinePieceBytes = 64 << 10
    /// Registered slots of `player.pieceBytes` shared by all queries.
    static let slotCount = 16
    /// The longest a lease is kept without being recalled (``ChronoConfig/archiveLeaseHold``, under
    /// the grapher's expiry); the player then releases it and asks again.
    static let maxLeaseHold = ChronoConfig.archiveLeaseHold

    let config: ChronoConfig
    private let visorRank: Int
    private let grapherRank: Int?
    private let logger: Logger
    /// Event time (answers' completeness) and elapsed time (deadlines, leases, lent slots).
    let clock: any RoleClock
    /// Deliberate misbehaviour for tests (a slow player); none in the product.
    package var faults: any RoleFaults = NoFaults()
    private var tracked = RecordedStories()
    private var queries: [QueryKey: Query] = [:]
    private var turn: Deque<QueryKey> = []
    private var active = 0
    private var byLocalId: [UInt64: QueryKey] = [:]
    private var nextLocalId: UInt64 = 1
    private var lease = LeaseState.none
    private var nextLeaseId: UInt64 = 1
    private var stats: Counters = [:]
    private let bulk: (any BulkTransport)?
    /// Opens the archive for a lease's reads.
    private let openArchiveSource: () throws -> any ArchiveSource
    private let pool: (any BulkSlotPool)?
    private var lent: [LentKey: LentPiece] = [:]
    private var bulkPolls = BulkPollPacer()
    /// Mapped archive payloads whose loans would not close: never unmapped (a peer may still read them).
    private var unclosed: [InPlacePayload] = []
    /// Where earlier jobs' writers' archived events end, per story ("chronicle/story"): found once
    /// per job (nothing of theirs is archived while this job runs).
    private var writerEnds: [String: ArchivedWriterEnds] = [:]

    /// - Parameters:
    ///   - visorRank: world rank of the visor, the only rank queries are taken from (it routes them
    ///     and names the keepers to ask).
    ///   - grapherRank: world rank of the group's grapher, which grants archive leases (nil: read
    ///     the archive without one — only where no grapher writes it).
    ///   - bulk: the bulk plane; large pieces are lent from a pool registered on it (nil: every
    ///     piece travels inline).
    ///   - clock: event and elapsed time (the system's unless a test steps its own).
    ///   - archive: opens the archive to replay from, under a lease (`ArchiveError.notFound` when there is none
    ///     yet); by default the HDF5 files of `archive.directory`.
    /// - Throws: `FabricError` when the registered pool cannot be created.
    public init(config: ChronoConfig, visorRank: Int, grapherRank: Int?, bulk: (any BulkTransport)?, logger: Logger,
                clock: any RoleClock = SystemRoleClock(),
                archive: (() throws -> any ArchiveSource)? = nil) throws {
        self.config = config
        let directory = config.archive.directory
        self.openArchiveSource = archive ?? { try ArchiveReader(path: directory) }
        self.clock = clock
        self.visorRank = visorRank
        self.grapherRank = grapherRank
        self.logger = logger
        self.bulk = bulk
        self.pool = try bulk.map { try $0.makeSlotPool(slotSize: config.replayPieceSlotBytes, slotCount: Self.slotCount) }
    }

    func bump(_ key: Counter, _ n: UInt64 = 1) { stats[key, default: 0] += n }

    // MARK: - Recording (players only track which stories their group records)

    public func startRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.start(notice)
        return .success
    }

    public func stopRecording(_ notice: RecordingNotice) -> ReturnCode {
        tracked.stop(notice)
        return .success
    }

    // MARK: - Messages

    public func handle(_ message: ControlMessage, from source: Int, tag: ControlTag, channel: any ControlTransport) throws -> Bool {
        switch message {
        case .replayRequest(let request):
            guard source == visorRank else {
                // Only the visor knows where a story is recorded; a request from elsewhere could
                // name any rank as a keeper.
                bump(.queriesRefused)
                logger.warning("ignored a replay request sent by rank \(source) instead of the visor")
                return true
            }
            try accept(request, channel: channel)
        case .replayPiece(let piece):
            keeperAnswered(piece, from: source, channel: channel)
        case .replayAck(let ack):
            acknowledged(ack, from: source)
        case .archiveLease(let l):
            switch (l.action, lease) {
            case (.grant, .requested(l.leaseId, let asked)):
                bump(.leasesUsed)
                bump(.leasesWaitUs, UInt64((clock.instant() - asked) / .microseconds(1)))
                guard let reader = try openArchive(channel: channel) else {
                    lease = .none
                    try post(.archiveLease(ArchiveLease(leaseId: l.leaseId, action: .release)), to: source, channel: channel)
                    return true
                }
                lease = .held(l.leaseId, since: clock.instant(), reader: reader)
                try readArchive(from: reader, channel: channel)
                try releaseLeaseUnlessNeeded(channel: channel)
            case (.recall, .held(l.leaseId, _, _)):
                // A round is due: give the file back now; ask again when there is more to read.
                bump(.leasesRecalled)
                try releaseLease(channel: channel)
            default:
                bump(.leasesStray)
            }
        default:
            return false
        }
        return true
    }

    func post(_ message: ControlMessage, to rank: Int, channel: any ControlTransport) throws {
        try channel.post(message.encode(), to: rank, tag: .replay)
    }

    private func accept(_ request: ReplayRequest, channel: any ControlTransport) throws {
        bump(.queriesReceived)
        let key = QueryKey(clientRank: Int(request.clientRank), queryId: request.queryId)
        guard queries[key] == nil else {
            bump(.queriesDuplicate)
            return
        }
        let timeout = Duration.milliseconds(Int64(clamping: request.timeoutMilliseconds))
        let now = clock.instant()
        let q = Query(key: key, request: request, deadline: now + timeout, startAt: now + faults.playerQueryDelay())
        if request.range.isEmpty {
            // Nothing can be in an empty range: answer at once.
            q.completeBefore = clock.now()
            try finish(q, rc: .success, channel: channel)
            return
        }
        queries[key] = q
        turn.append(key)
        try startWaiting(channel: channel)
    }

    /// Starts queries waiting for their turn while fewer than `player.maxConcurrentQueries` run.
    private func startWaiting(channel: any ControlTransport) throws {
        while active < config.player.maxConcurrentQueries, let key = turn.first {
            guard let q = queries[key], q.phase == .waiting else {
                turn.removeFirst()
                continue
            }
            guard clock.instant() >= q.startAt else { break }
            turn.removeFirst()
            active += 1
            q.localId = nextLocalId
            nextLocalId += 1
            byLocalId[q.localId] = key
            q.pendingKeepers = Set(q.request.keeperRanks.map { Int($0) })
            q.phase = q.pendingKeepers.isEmpty ? .archive : .keepers
            // A reader that has the keepers' last-N answers already asks for the part below them:
            // read as a whole range (their events there, then the archive), no first round.
            let below = q.request.lastCount > 0 && q.request.belowKeepers
            if below { bump(.lastFromArchive) }
            if q.pendingKeepers.isEmpty || below {
                q.completeBefore = clock.now()
                if q.request.lastCount > 0 { beginLastFromArchive(q, memory: nil, end: q.request.range.end) }
            }
            var ask = q.request
            ask.queryId = q.localId
            if q.last != nil { ask.lastCount = 0 }
            for keeper in q.pendingKeepers { try post(.replayRequest(ask), to: keeper, channel: channel) }
        }
    }

    private func keeperAnswered(_ piece: ReplayPiece, from keeper: Int, channel: any ControlTransport) {
        guard let key = byLocalId[piece.queryId], let q = queries[key], q.phase == .keepers,
              q.pendingKeepers.contains(keeper) else {
            bump(.keeperPiecesStray)
            return
        }
        if let chunk = piece.chunk, !chunk.isEmpty { q.fresh.append(chunk) }
        guard piece.isLast else { return }
        q.pendingKeepers.remove(keeper)
        q.completeBefore = min(q.completeBefore, piece.completeBefore)
        q.recording = q.recording || piece.recording
        q.coveredFrom = max(q.coveredFrom, piece.coveredFrom)
        if q.pendingKeepers.isEmpty {
            // One chunk to slice per archive window (all pieces belong to the query's story).
            if let merged = try? StoryChunk.merge(q.fresh) { q.fresh = [merged] }
            q.phase = .archive
            if q.request.lastCount > 0 && q.last == nil { keepersAnsweredLast(q, channel: channel) }
        }
    }

    private func acknowledged(_ ack: ReplayAck, from client: Int) {
        // The client has read the piece (or gave the query up): its slot can be reused.
        for key in lent.keys where key.clientRank == client && key.queryId == ack.queryId
            && (key.pieceNumber == ack.pieceNumber || ack.cancel) {
            if let l = lent.removeValue(forKey: key) { release(l) }
        }
        guard let q = queries[QueryKey(clientRank: client, queryId: ack.queryId)] else { return }
        if ack.cancel {
            bump(.queriesCancelled)
            retire(q)
            return
        }
        q.unacked = max(0, q.unacked - 1)
    }

    // MARK: - Work

    public func poll(channel: any ControlTransport) throws -> Bool {
        if !lent.isEmpty {
            // Clients read lent slots by RMA: manual-progress providers need the target to poll
            // (at the pace of ``BulkPollPacer``).
            if bulkPolls.isDue(at: clock.instant()) { _ = try bulk?.progress() }
            reclaimExpiredSlots()
        }
        guard !queries.isEmpty else {
            try releaseLeaseUnlessNeeded(channel: channel)
            return false
        }
        var did = try expire(channel: channel)
        did = try sendPieces(channel: channel) || did
        if queries.values.contains(where: needsArchive) {
            switch lease {
            case .held(_, _, let reader):
                try readArchive(from: reader, channel: channel)
                did = true
            case .none:
                if let grapher = grapherRank {
                    let id = nextLeaseId
                    nextLeaseId += 1
                    lease = .requested(id, at: clock.instant())
                    try post(.archiveLease(ArchiveLease(leaseId: id, action: .request)), to: grapher, channel: channel)
                } else if let reader = try openArchive(channel: channel) {
                    try readArchive(from: reader, channel: channel)  // no grapher writes this archive
                }
                did = true
            case .requested:
                break
            }
        }
        try releaseLeaseUnlessNeeded(channel: channel)
        try startWaiting(channel: channel)
        return did
    }

    /// Releases a held lease once no query has archive windows left to read, or after ``maxLeaseHold``.
    private func releaseLeaseUnlessNeeded(channel: any ControlTransport) throws {
        guard case .held(_, let since, _) = lease else { return }
        let reading = queries.values.contains { $0.phase == .archive && !$0.archiveDone }
        if !reading || clock.instant() - since >= Self.maxLeaseHold { try releaseLease(channel: channel) }
    }

    /// Closes the archive and tells the grapher that rounds may run again.
    private func releaseLease(channel: any ControlTransport) throws {
        guard case .held(let id, _, _) = lease, let grapher = grapherRank else { return }
        lease = .none  // the reader goes with it
        try post(.archiveLease(ArchiveLease(leaseId: id, action: .release)), to: grapher, channel: channel)
    }

    /// Whether a query has an archive window to read (and room for its pieces).
    private func needsArchive(_ q: Query) -> Bool {
        q.phase == .archive && !q.archiveDone && q.ready.count < config.player.piecesInFlight
    }

    /// Answers overdue queries with `CL_ERR_QUERY_TIMED_OUT`.
    private func expire(channel: any ControlTransport) throws -> Bool {
        let now = clock.instant()
        let overdue = queries.values.filter { now >= $0.deadline }
        for q in overdue {
            bump(.queriesTimedOut)
            try finish(q, rc: .queryTimedOut, detail: "query \(q.request.queryId) did not complete within \(q.request.timeoutMilliseconds) ms",
                       channel: channel)
        }
        return !overdue.isEmpty
    }

    /// Opens the archive for reading under a lease (it is consistent on disk while the lease
    /// holds rounds off).
    /// - Returns: `.some(nil)` when there is no archive yet (nothing archived), nil when it cannot
    ///   be opened: the queries reading it are then answered with the error.
    private func openArchive(channel: any ControlTransport) throws -> (any ArchiveSource)?? {
        do {
            return .some(try openArchiveSource())
        } catch {
            if case .notFound? = error as? ArchiveError { return .some(nil) }
            logger.error("cannot open the archive for replay: \(error)")
            for q in queries.values where q.phase == .archive {
                try finish(q, rc: .unknown, detail: "cannot open the archive: \(error)", channel: channel)
            }
            return nil
        }
    }

    /// Reads archive windows for every query that has room for more pieces.
    private func readArchive(from reader: (any ArchiveSource)?, channel: any ControlTransport) throws {
        // Windows of one piece each (no re-splitting), up to `piecesInFlight` pieces per query, so
        // the next read overlaps the client's work.
        for q in queries.values where needsArchive(q) {
            do {
                // A "last N" query keeps what it reads instead of sending it: at most as many windows per poll.
                var windows = 0
                while needsArchive(q) && (q.last == nil || windows < config.player.piecesInFlight) {
                    try readWindow(of: q, from: reader, maxBytes: config.player.pieceBytes)
                    windows += 1
                }
            } catch {
                logger.error("replay of \(q.request.chronicle)/\(q.request.story) failed reading the archive: \(error)")
                try finish(q, rc: .unknown, detail: "reading the archive: \(error)", channel: channel)
            }
        }
    }

    private func readWindow(of q: Query, from reader: (any ArchiveSource)?, maxBytes: Int) throws {
        let r = q.request
        checkTails(of: q, in: reader)
        if let reader, q.last != nil { positionLast(q, in: reader) }
        let rest = TimeRange(start: q.cursor, end: q.end)
        var window = rest
        var archive: (any ArchiveSource)?
        if let reader {
            do throws(ArchiveError) {
                window = try reader.firstWindow(chronicle: r.chronicle, story: r.story, range: rest, maxBytes: maxBytes,
                                                toleratingDamage: true)
                archive = reader
                if !q.foundInArchive {
                    // The story's damaged index rows and crash tail (no events are read for an empty range).
                    q.completeness.add(try reader.read(chronicle: r.chronicle, story: r.story,
                                                       range: TimeRange(start: rest.start, end: rest.start)).completeness)
                }
                q.foundInArchive = true
            } catch {
                guard case .storyNotFound = error else { throw error }
            }
        }
        var parts = q.fresh.map { $0.slice(window) }.filter { !$0.isEmpty }
        if let archive {
            // A window with hidden events is read and filtered the general way.
            if parts.isEmpty, r.hidden.isEmpty, r.lastCount == 0, q.completeness.damaged.isEmpty,
               let staged = try? readStraight(q, window: window, from: archive) {
                // No keeper events here and no merging needed: the window went straight from the file.
                if case .chunk(let small) = staged { parts = [small] } else { q.ready.append(staged) }
            } else {
                // Damaged rows are left out and reported (the answer is then partial), the rest is read.
                let answer = try archive.read(chronicle: r.chronicle, story: r.story, range: window)
                if !answer.completeness.isComplete { bump(.windowsPartial) }
                q.completeness.add(answer.completeness)
                if !answer.events.isEmpty { parts.append(answer.events) }
            }
        }
        if var merged = try StoryChunk.merge(parts) {
            if !r.hidden.isEmpty { merged = merged.filter { !r.hides($0) } }
            if q.last != nil {
                try collectLast(merged, of: q)
                merged = .empty(storyId: merged.storyId, range: merged.range)
            }
            for piece in merged.isEmpty ? [] : merged.pieces(maxEncodedBytes: config.player.pieceBytes) { q.ready.append(.chunk(piece)) }
            bump(.eventsReplayed, UInt64(merged.count))
        }
        q.cursor = window.end
        if q.archiveDone, try readyLast(q) { q.fresh = [] }
    }

    /// Once per query: whether writers of earlier jobs (``ReplayRequest/earlierWriters``, from the
    /// catalog) have tails the archive lacks where the range reaches; if so the answer is partial
    /// and says why (``ArchivedWriterEnds/missingTails(of:before:)``). Their events can only be in
    /// the archive; writers of this job are not listed (their events are archived or in keepers' memory).
    private func checkTails(of q: Query, in reader: (any ArchiveSource)?) {
        guard !q.tailsChecked else { return }
        q.tailsChecked = true
        let r = q.request
        guard !r.earlierWriters.isEmpty else { return }
        let reasons: [String]
        do {
            reasons = try writerEnds(of: r, in: reader).missingTails(of: r.earlierWriters, before: r.range.end)
        } catch {
            // Not known to be complete: say so rather than claim it.
            logger.error("replay of \(r.chronicle)/\(r.story): cannot find where earlier writers' archived events end: \(error)")
            reasons = ["cannot tell whether earlier writers' tails are archived: \(error)"]
        }
        if !reasons.isEmpty { bump(.queriesTailMissing) }
        q.completeness.missingTails += reasons
    }

    /// Where the archived events of the request's earlier writers end: cached per story for the job
    /// (nothing of theirs is archived while it runs), read backwards from the story's end otherwise.
    /// - Throws: `ArchiveError` when the story's archive cannot be read.
    private func writerEnds(of r: ReplayRequest, in reader: (any ArchiveSource)?) throws(ArchiveError) -> ArchivedWriterEnds {
        let key = "\(r.chronicle)/\(r.story)"
        let clients = Set(r.earlierWriters.map(\.client))
        if let cached = writerEnds[key], clients.isSubset(of: cached.clients) { return cached }
        guard let reader else { return ArchivedWriterEnds(clients: clients) }  // nothing archived yet
        let ends = try ArchivedWriterEnds.scan(reader, chronicle: r.chronicle, story: r.story, clients: clients)
        writerEnds[key] = ends
        return ends
    }

    /// Reads `window` straight from the archive file into a registered slot, in the encoding the
    /// client reads by RMA — no arrays, no copies — when the query's pieces travel by RMA, a slot
    /// is free, and the window needs no merging (``ArchiveReader/readEncoded(chronicle:story:window:into:)``).
    /// - Returns: the staged piece (a small one decoded to go inline, its slot given back), or nil
    ///   when the window must be read and merged the general way.
    private func readStraight(_ q: Query, window: TimeRange, from reader: any ArchiveSource) throws -> ReadyPiece? {
        guard let pool, !q.request.readerAddress.isEmpty, pool.availableSlots > 0 else { return nil }
        let buffer = try pool.allocate(byteCount: pool.slotSize)
        var keep = false
        defer { if !keep { try? pool.free(buffer) } }
        let r = q.request
        // Large windows leave their payload in the mapped file, lent from there when sent.
        let encoded = try buffer.withUnsafeMutableBytes { raw in
            try reader.readEncoded(chronicle: r.chronicle, story: r.story, window: window, into: raw,
                                   lendingPayloadAbove: Self.inlinePieceBytes)
        }
        guard let encoded else { return nil }
        guard encoded.byteCount > Self.inlinePieceBytes else {
            return .chunk(try buffer.withUnsafeMutableBytes { raw in
                try StoryChunk.decode(raw: UnsafeRawBufferPointer(rebasing: raw[0..<encoded.byteCount]))
            })
        }
        keep = true
        bump(.piecesStraight)
        bump(.eventsReplayed, UInt64(encoded.eventCount))
        return .staged(buffer, byteCount: encoded.byteCount, eventCount: encoded.eventCount, payload: encoded.payloadInPlace)
    }

    /// Slots lent to a client that never acknowledged (it died or gave up) come back after the
    /// query's deadline plus a margin.
    private func reclaimExpiredSlots() {
        let now = clock.instant()
        for (key, l) in lent where now >= l.expires {
            lent[key] = nil
            release(l)
            bump(.slotsReclaimed)
        }
    }

    /// Ends a lent piece's loans, then gives its slot back; a payload whose loans would not close
    /// stays mapped for good (a peer might still read it).
    private func release(_ l: LentPiece) {
        var closed = true
        for loan in l.loans {
            do { try loan.close() } catch { closed = false }
        }
        if !closed, let payload = l.payload {
            bump(.loansUnclosed)
            unclosed.append(payload)
        }
        try? pool?.free(l.buffer)
    }

    /// Whether `piece` goes by RMA: large, the client has an endpoint, and it fits a slot.
    private func travelsByRMA(_ piece: ReadyPiece, for q: Query) -> Bool {
        guard case .chunk(let chunk) = piece else { return true }
        guard let pool, !q.request.readerAddress.isEmpty else { return false }
        let size = chunk.encodedByteCount
        return size > Self.inlinePieceBytes && size <= pool.slotSize
    }

    /// Sends ready pieces within each query's window; ends finished queries with their last piece.
    private func sendPieces(channel: any ControlTransport) throws -> Bool {
        var did = false
        for q in Array(queries.values) where q.phase == .archive {
            while q.unacked < config.player.piecesInFlight, let piece = q.ready.first {
                let byRMA = travelsByRMA(piece, for: q)
                if case .chunk = piece, byRMA, pool!.availableSlots == 0 { break }  // wait for a client to return a slot
                q.ready.removeFirst()
                if case .chunk(let chunk) = piece, q.archiveDone && q.ready.isEmpty && !byRMA {
                    try finish(q, rc: .success, chunk: chunk, channel: channel)
                    break
                }
                var message = ReplayPiece(queryId: q.request.queryId, rc: .success, pieceNumber: q.nextPiece, isLast: false, chunk: nil)
                switch piece {
                case .chunk(let chunk) where !byRMA:
                    message.chunk = chunk
                case .chunk(let chunk):
                    let buffer = try pool!.allocate(byteCount: chunk.encodedByteCount)
                    _ = try buffer.store(ChunkPiece(chunk: chunk, positions: 0..<chunk.count))
                    message.remote = lend(buffer, byteCount: chunk.encodedByteCount, eventCount: chunk.count, of: q)
                case .staged(let buffer, let byteCount, let eventCount, let payload):
                    message.remote = lend(buffer, byteCount: byteCount, eventCount: eventCount, payload: payload, of: q)
                }
                try post(.replayPiece(message), to: q.key.clientRank, channel: channel)
                q.nextPiece += 1
                q.unacked += 1
                bump(.piecesSent)
                did = true
            }
            if q.phase == .archive && q.archiveDone && q.ready.isEmpty {
                if !q.foundInArchive && !q.request.storyKnown && q.nextPiece == 0 {
                    try finish(q, rc: .notExist, detail: ChronoLogError.storyNotFound(chronicle: q.request.chronicle, story: q.request.story).replyDetail,
                               channel: channel)
                } else {
                    try finish(q, rc: .success, channel: channel)
                }
                did = true
            }
        }
        return did
    }

    /// Lends `buffer` (holding an encoded piece of `byteCount` bytes, or its header and records
    /// when `payload` lies in the mapped archive file) to the query's client until it acknowledges
    /// the piece. A payload that cannot be lent in place is copied into the slot behind the records.
    /// - Returns: where the client reads it.
    private func lend(_ buffer: any BulkSlot, byteCount: Int, eventCount: Int, payload: InPlacePayload? = nil,
                      of q: Query) -> RemotePiece {
        let d = buffer.remoteDescriptor
        var piece = LentPiece(buffer: buffer, expires: q.deadline + .seconds(30))
        var segments: [RemoteSegment] = []
        var file: RemoteFile?
        if let payload {
            do {
                guard payload.parts.count <= RemotePiece.maxPayloadSegments else {
                    throw FabricError.invalidArgument(call: "PlayerRole.lend", detail: "\(payload.parts.count) payload segments")
                }
                for part in payload.parts {
                    let loan = try bulk!.lend(part)
                    piece.loans.append(loan)
                    segments.append(RemoteSegment(address: loan.remoteDescriptor.address, key: loan.remoteDescriptor.key,
                                                  length: UInt64(part.count)))
                }
                piece.payload = payload
                bump(.piecesMapped)
                file = Self.payloadFile(of: payload, for: q)
            } catch {
                // Not lent in place (more segments than a piece may name, or the transport refused
                // to register them): close what was, and copy the payload behind the records.
                for loan in piece.loans { try? loan.close() }
                piece.loans = []
                segments = []
                bump(.piecesLendRefused)
                buffer.withUnsafeMutableBytes { raw in
                    var at = byteCount - payload.byteCount
                    for part in payload.parts {
                        UnsafeMutableRawBufferPointer(rebasing: raw[at..<(at + part.count)]).copyMemory(from: part)
                        at += part.count
                    }
                }
            }
        }
        lent[LentKey(clientRank: q.key.clientRank, queryId: q.request.queryId, pieceNumber: q.nextPiece)] = piece
        bump(.piecesRma)
        bump(.bytesRma, UInt64(byteCount))
        return RemotePiece(address: d.address, key: d.key, length: UInt64(byteCount), eventCount: UInt64(eventCount),
                           playerAddress: bulk!.localAddress, payloadSegments: segments, payloadFile: file)
    }

    /// The archive file a lent payload lies in, with each part's offset in it, for a reader on
    /// this node (``ReplayRequest/readerOnPlayerNode``): it may copy the parts from the file
    /// mapped read-only, faster than an RMA read of the same pages. Nil for a reader elsewhere,
    /// a payload not in a mapped file (a simulator's archive), or where the boot id is unknown.
    private static func payloadFile(of payload: InPlacePayload, for q: Query) -> RemoteFile? {
        guard q.request.readerOnPlayerNode, let mapped = payload.owner as? MappedFile, let boot = HostBoot.id else { return nil }
        var offsets: [UInt64] = []
        offsets.reserveCapacity(payload.parts.count)
        for part in payload.parts {
            guard let offset = mapped.offset(of: part) else { return nil }
            offsets.append(UInt64(offset))
        }
        // Absolute: the reader's working directory may not be the player's.
        return RemoteFile(bootId: boot, path: mapped.absolutePath,
                          identity: mapped.identity, offsets: offsets)
    }

    /// Sends the query's last piece and forgets it.
    private func finish(_ q: Query, rc: ReturnCode, chunk: StoryChunk? = nil, detail: String = "", channel: any ControlTransport) throws {
        // An answer that left damaged rows out says so, after every event that could be read.
        let partial = rc == .success && !q.completeness.isComplete
        let last = ReplayPiece(queryId: q.request.queryId, rc: partial ? .partialResult : rc, pieceNumber: q.nextPiece, isLast: true,
                               chunk: rc == .success ? chunk : nil,
                               completeBefore: q.completeBefore == .max ? clock.now() : q.completeBefore,
                               recording: q.recording, detail: partial ? q.completeness.description : detail)
        try post(.replayPiece(last), to: q.key.clientRank, channel: channel)
        bump(rc == .success ? .queriesServed : .queriesFailed)
        if partial { bump(.queriesPartial) }
        bump(.piecesSent)
        retire(q)
    }

    private func retire(_ q: Query) {
        guard q.phase != .done else { return }
        for case .staged(let buffer, _, _, _) in q.ready { try? pool?.free(buffer) }
        q.ready = []
        if q.phase != .waiting { active -= 1 }
        q.phase = .done
        queries[q.key] = nil
        byLocalId[q.localId] = nil
    }

    // MARK: - Shutdown

    public func drain(channel: any ControlTransport) throws -> Bool {
        _ = try poll(channel: channel)
        return queries.isEmpty
    }

    public var undrainedEvents: UInt64 { 0 }

    public var drainState: String {
        "queries=\(queries.count) active=\(active) waiting=\(turn.count) lease=\(leaseDescription)"
    }

    private var leaseDescription: String {
        switch lease {
        case .none: return "none"
        case .requested(let id, _): return "requested(\(id))"
        case .held(let id, let since, _): return "held(\(id), \(clock.instant() - since))"
        }
    }

    public var counters: Counters {
        stats.merging(tracked.counters(pipelines: PipelineStats())) { $1 }
    }

    public func close() throws {
        for l in lent.values { release(l) }
        lent = [:]
        try pool?.close()
    }
}
