/// The story pipeline shared by keepers and graphers (ARCHITECTURE §5).
///
/// Time is cut into ranges of `chunkDuration` ns aligned on multiples of it since the epoch
/// (`[k·d, (k+1)·d)`), so every keeper and grapher agrees on range boundaries.
///
/// - **Contributors** are the sources whose data the pipeline waits for: client ids at a keeper,
///   keeper ranks at a grapher. Each has a **watermark** `W`: its promise that it will not send an
///   event with time < `W`. Inserting a batch registers its client and raises its watermark to the
///   batch's; a grapher raises a keeper's watermark from its chunk descriptors (or ``advanceWatermark(of:to:)``).
/// - **Sealing**: ``sealReady()`` seals every range whose end ≤ the smallest watermark of the
///   registered contributors (all watermarks have passed it) and returns its chunk. A removed contributor
///   no longer holds sealing back; with no contributor left, every open range is sealed.
///   ``sealedFrontier`` is the end of the sealed prefix of time: every range before it is complete.
/// - **Late events** (time < ``sealedFrontier``) follow ``LatePolicy``: `revise` buffers them for a
///   revision chunk of their range (revision 1, 2, …), emitted by the next ``sealReady()``; `reject`
///   refuses them, counts them and lists them in the ``InsertReport``. Nothing is dropped silently.
/// - **Merging**: events of a range from several sources (batches, keepers' partial chunks) are merged in
///   event order and each key is kept once (copies counted in ``PipelineStats/duplicatesDropped``).
///   A retransmission arriving after its range was sealed reappears in a revision; readers merge
///   revisions with ``StoryChunk/merged(with:)``, which removes it.
///
/// Events are buffered as record tables + payload bytes per range (no per-event allocation).
/// The pipeline is a value with no clock of its own: watermarks drive it.
public struct StoryPipeline: Sendable {
    /// The story.
    public let storyId: StoryID
    /// Range length in ns.
    public let chunkDuration: UInt64
    /// What happens to late events.
    public let latePolicy: LatePolicy
    /// Largest record accepted.
    public let maxEventBytes: Int

    /// Every range ending at or before this time is sealed. Starts at 0; never decreases.
    public private(set) var sealedFrontier: UInt64 = 0
    /// Counters.
    public private(set) var stats = PipelineStats()

    /// The largest first-time chunk a seal makes, encoded (``StoryChunk/encodedByteCount``): a
    /// range holding more leaves as several chunks, each of its own consecutive part of the range
    /// (as a range cut below a watermark does), in event order. A keeper sets its transfer slot
    /// size, so that each chunk ships whole and its storage, of about one size, is reused from
    /// its pool; a range sealed as one chunk of tens of MiB took fresh memory from the heap at
    /// every seal. Revisions are never cut. Default: no bound.
    public var maxChunkBytes = Int.max

    /// The smallest batch array kept rather than copied from (see ``insert(_:)-(EventBatch)``):
    /// a keeper takes it from its `RoleFaults` (the simulator lowers it to keep its small batches
    /// too), tests set it.
    public var minSharedBytes = defaultMinSharedBytes
    /// 16 KiB: a smaller batch is copied, as its message would cost more to keep than its bytes.
    public static let defaultMinSharedBytes = 16 << 10

    private var watermarks: [UInt64: UInt64] = [:]
    private var open: [UInt64: RangeBuffer] = [:]
    /// Size of the last sealed range: a new range's buffer reserves this much, so a busy story
    /// does not regrow (copy and fault in) its buffers range after range.
    private var sizeHint = (records: 0, bytes: 0)
    /// The role's shared storage pool, when it has one: new range buffers and their growth take
    /// storage from it, and the role gives shipped chunks back to it (``ChunkStoragePool/give(_:)``),
    /// so a busy story reuses memory it has already touched instead of faulting in fresh pages.
    private let pool: ChunkStoragePool?
    private var revisionBuffers: [UInt64: RangeBuffer] = [:]
    private var nextRevision: [UInt64: UInt32] = [:]
    private var highestSealedIndex: [UInt64: UInt32] = [:]

    /// Creates a pipeline.
    /// - Parameters:
    ///   - chunkDuration: range length in ns (a value of 0 is raised to 1).
    ///   - latePolicy: see ``LatePolicy``.
    ///   - maxEventBytes: larger records are refused and reported.
    ///   - pool: storage shared with the role's other pipelines (nil: every buffer is allocated afresh).
    public init(storyId: StoryID, chunkDuration: UInt64, latePolicy: LatePolicy = .revise, maxEventBytes: Int = 1 << 24,
                pool: ChunkStoragePool? = nil) {
        self.storyId = storyId
        self.pool = pool
        self.chunkDuration = max(chunkDuration, 1)
        self.latePolicy = latePolicy
        self.maxEventBytes = maxEventBytes
    }

    /// Creates a pipeline configured by `config.story`.
    public init(storyId: StoryID, config: ChronoConfig, pool: ChunkStoragePool? = nil) {
        self.init(storyId: storyId, chunkDuration: config.chunkDurationNanoseconds, latePolicy: config.story.latePolicy,
                  maxEventBytes: config.story.maxEventBytes, pool: pool)
    }

    // MARK: Contributors

    /// The registered contributors and their watermarks.
    public var contributors: [UInt64: UInt64] { watermarks }

    /// Registers a contributor (no effect if already registered) with an initial watermark.
    /// Until its watermark passes a range's end, that range stays open.
    public mutating func addContributor(_ id: UInt64, watermark: UInt64 = 0) {
        if watermarks[id] == nil { watermarks[id] = watermark }
    }

    /// Unregisters a contributor (finished, released, or dead): it no longer holds sealing back.
    public mutating func removeContributor(_ id: UInt64) {
        watermarks[id] = nil
    }

    /// Raises a contributor's watermark (registering it if needed). Watermarks never go down.
    public mutating func advanceWatermark(of id: UInt64, to watermark: UInt64) {
        watermarks[id] = max(watermarks[id] ?? 0, watermark)
    }

    /// Raises the watermark of a registered contributor; does nothing for one that is not registered
    /// (a watermark that crossed the contributor's removal on the wire must not register it again).
    /// - Returns: whether the contributor is registered.
    @discardableResult
    public mutating func raiseWatermark(of id: UInt64, to watermark: UInt64) -> Bool {
        guard let current = watermarks[id] else { return false }
        if watermark > current { watermarks[id] = watermark }
        return true
    }

    /// The smallest watermark of the registered contributors (nil when there are none).
    public var lowWatermark: UInt64? { watermarks.values.min() }

    /// The smallest watermark of the registered contributors other than `id` (nil when there are
    /// none): the writers' (or keepers') promise, without the clock a role registers as `id`.
    public func lowWatermark(excluding id: UInt64) -> UInt64? {
        var low: UInt64? = nil
        for (c, w) in watermarks where c != id { low = min(low ?? w, w) }
        return low
    }

    // MARK: Inserting

    /// Inserts a client batch (keeper side): registers the client, buffers its events, then raises the
    /// client's watermark to the batch's. The bytes of a batch of ``minSharedBytes`` or more are not copied:
    /// each range its events fall in keeps the batch's array (for a received batch, the whole
    /// message) until it seals, and the seal copies them, once, into the chunk.
    @discardableResult
    public mutating func insert(_ batch: EventBatch) -> InsertReport {
        let contributor = batch.clientId.rawValue
        addContributor(contributor)
        var report = InsertReport()
        insertRecords(batch.records, payload: batch.storage, at: batch.payloadStart, count: batch.payloadCount,
                      sharing: true, report: &report)
        advanceWatermark(of: contributor, to: batch.watermark)
        return report
    }

    /// Inserts a chunk from `contributor` (grapher side: a keeper's sealed chunk, any revision),
    /// then raises the contributor's watermark to `watermark` if given.
    @discardableResult
    public mutating func insert(_ chunk: StoryChunk, from contributor: UInt64, watermark: UInt64? = nil) -> InsertReport {
        insertChunk(chunk, from: contributor, watermark: watermark).report
    }

    /// Inserts a chunk like ``insert(_:from:watermark:)``, taking its storage (`chunk` is left
    /// empty): adopted as its range's buffer when it can be; else its payload is kept as it is
    /// (``minSharedBytes`` or more) or copied in, and what the range does not keep goes back to the
    /// pool for the next chunk, so a role that reads chunks into pooled storage gets it back.
    @discardableResult
    public mutating func insert(taking chunk: inout StoryChunk, from contributor: UInt64, watermark: UInt64? = nil) -> InsertReport {
        let (report, adopted) = insertChunk(chunk, from: contributor, watermark: watermark)
        if adopted {
            _ = chunk.takeStorage()  // the range's buffer now: the caller must not share it
        } else if keeps(chunk.payload) {
            // Its payload is kept by the range: only the record table (copied in) goes back.
            let (records, _) = chunk.takeStorage()
            pool?.give(table: consume records)
        } else if let pool {
            pool.give(&chunk)
        }
        return report
    }

    private mutating func insertChunk(_ chunk: StoryChunk, from contributor: UInt64,
                                      watermark: UInt64?) -> (report: InsertReport, adopted: Bool) {
        addContributor(contributor)
        var report = InsertReport()
        let adopted = adopt(chunk, report: &report)
        if !adopted {
            // Kept, not copied, like a keeper's batches: a range taking a keeper's chunks one
            // after another then seals them as they came (``RangeBuffer/canonicalPieces(pool:maxEncodedBytes:asTheyCame:)``).
            // Counted like kept batches (their bytes and a record each besides the range's own
            // table), though the chunk's own table goes back to the pool: a grapher's bound then
            // holds a little less than it could, never more.
            insertRecords(chunk.records, payload: chunk.payload, at: 0, count: chunk.payload.count, sharing: true, report: &report)
        }
        if let watermark { advanceWatermark(of: contributor, to: watermark) }
        return (report, adopted)
    }

    /// Takes a chunk's storage as the buffer of its range, without copying, when it is the first
    /// data of a range that is still open and every event is acceptable (the usual case at a
    /// grapher: each keeper ships one chunk per range). A chunk is canonical, so its buffer is
    /// already in canonical form when sealed. - Returns: false when the chunk must be copied in.
    private mutating func adopt(_ chunk: StoryChunk, report: inout InsertReport) -> Bool {
        guard let first = chunk.records.first, let last = chunk.records.last, first.time >= sealedFrontier,
              last.time != UInt64.max else { return false }
        let start = rangeStart(of: first.time)
        guard rangeStart(of: last.time) == start, open[start] == nil else { return false }
        var bytes: UInt64 = 0
        for r in chunk.records {
            if Int(r.length) > maxEventBytes { return false }
            bytes += UInt64(r.length)
        }
        open[start] = RangeBuffer(records: chunk.records, payload: chunk.payload)
        report.accepted += chunk.count
        stats.eventsAccepted += UInt64(chunk.count)
        stats.bytesAccepted += bytes
        return true
    }

    /// A new, empty range buffer sized like the last range: from the pool when there is one, and
    /// then, before this story sealed a range, like the pool's last range. Its payload gets room
    /// only when events are `copying` in (a keeper's batches stay where they were received).
    private mutating func newBuffer(copying: Bool = true) -> RangeBuffer {
        let hint = sizeHint.records > 0 ? sizeHint : pool?.lastRange ?? sizeHint
        let bytes = copying ? hint.bytes : 0
        guard let pool else { return RangeBuffer(reserving: (hint.records, bytes)) }
        return RangeBuffer(records: pool.takeTable(capacity: hint.records + hint.records / 4),
                           payload: bytes > 0 ? pool.takePayload(capacity: bytes + bytes / 4) : [])
    }

    /// Inserts events given as values (tests and small tools) from `contributor`.
    @discardableResult
    public mutating func insert(_ events: [Event], from contributor: UInt64) -> InsertReport {
        addContributor(contributor)
        var report = InsertReport()
        for e in events {
            let record = EventRecord(time: e.time, clientId: e.clientId.rawValue, index: e.index,
                                     length: UInt32(clamping: e.record.count), offset: 0)
            insertRecords([record], payload: e.record, at: 0, count: e.record.count, sharing: false, report: &report)
        }
        return report
    }

    /// Whether an array offered to be kept (a batch's message, a chunk's payload) is kept rather
    /// than copied from: a small one is copied, as kept it would cost more (a heap block each, held
    /// by every range it reaches) than its bytes, which is all a role's bound counts.
    private func keeps(_ array: [UInt8]) -> Bool { array.count >= minSharedBytes }

    /// Buffers `records`, whose bytes lie in `payload` from `base` on (`count` bytes; an offset is
    /// relative to `base`). `sharing`: the buffers keep `payload` itself and point into it, instead
    /// of copying the bytes (a keeper's received batches: the copy out of the message and the copy
    /// into the range were two of the seven copies of each byte between a writer and the archive).
    private mutating func insertRecords(_ records: [EventRecord], payload: [UInt8], at base: Int, count: Int, sharing: Bool,
                                        report: inout InsertReport) {
        let sharing = sharing && keeps(payload)
        var i = 0
        let n = records.count
        while i < n {
            let r = records[i]
            if r.time == UInt64.max {
                reject(r, .invalidTime, &report)
                i += 1
                continue
            }
            if Int(r.length) > maxEventBytes || !Self.fits(r, count) {
                reject(r, .tooLarge(bytes: Int(r.length)), &report)
                i += 1
                continue
            }
            let start = rangeStart(of: r.time)
            let isLate = r.time < sealedFrontier
            if isLate && latePolicy == .reject {
                reject(r, .lateUnderRejectPolicy(sealedUpTo: sealedFrontier), &report)
                i += 1
                continue
            }
            // Copy the run of consecutive valid records that fall in the same range with one lookup.
            var j = i + 1
            let end = start &+ chunkDuration
            // A range sealed in part (``sealBelow(_:)``, a split) is late only below the frontier.
            while j < n, records[j].time >= start, records[j].time < end, records[j].time != UInt64.max,
                (records[j].time < sealedFrontier) == isLate,
                Int(records[j].length) <= maxEventBytes, Self.fits(records[j], count) {
                j += 1
            }
            let run = j - i
            var runBytes = 0
            for k in i..<j { runBytes += Int(records[k].length) }
            if isLate {
                if !sharing || !revisionBuffers[start, default: RangeBuffer()].append(records, i..<j, sharing: payload, at: base) {
                    revisionBuffers[start, default: RangeBuffer()].append(records, i..<j, payload: payload, at: base)
                }
                stats.lateEvents += UInt64(run)
                report.late += run
            } else {
                if open[start] == nil { open[start] = newBuffer(copying: !sharing) }
                makeRoom(inRange: start, records: run, bytes: sharing ? 0 : runBytes)
                if !sharing || !open[start, default: RangeBuffer()].append(records, i..<j, sharing: payload, at: base) {
                    makeRoom(inRange: start, records: run, bytes: runBytes)
                    open[start, default: RangeBuffer()].append(records, i..<j, payload: payload, at: base)
                }
                report.accepted += run
            }
            stats.eventsAccepted += UInt64(run)
            stats.bytesAccepted += UInt64(runBytes)
            i = j
        }
    }

    /// With a pool, grows the open buffer of the range at `start` before it overflows: into pooled
    /// storage of twice the size at least, giving the old storage back (an array growing by itself
    /// would take fresh memory each time).
    private mutating func makeRoom(inRange start: UInt64, records n: Int, bytes: Int) {
        guard let pool else { return }
        // Measured through a temporary, not a named copy: a copy alive below would share the
        // storage given back to the pool, which then could not reuse it.
        guard let (needRecords, needBytes, recordRoom, byteRoom) = open[start].map({ b in
            (b.records.count + n, b.payload.count + bytes, b.records.capacity, b.payload.capacity)
        }), recordRoom < needRecords || byteRoom < needBytes else { return }
        guard var buffer = open.removeValue(forKey: start) else { return }  // unshared from here on
        if buffer.records.capacity < needRecords {
            var grown = pool.takeTable(capacity: max(needRecords, 2 * buffer.records.capacity))
            grown.append(contentsOf: buffer.records)
            swap(&grown, &buffer.records)
            pool.give(table: consume grown)
        }
        if buffer.payload.capacity < needBytes {
            var grown = pool.takePayload(capacity: max(needBytes, 2 * buffer.payload.capacity))
            grown.append(contentsOf: buffer.payload)
            swap(&grown, &buffer.payload)
            pool.give(payload: consume grown)
        }
        open[start] = buffer
    }

    /// Whether the record's bytes lie inside a payload of `count` bytes.
    private static func fits(_ r: EventRecord, _ count: Int) -> Bool {
        r.offset <= UInt64(count) && UInt64(count) - r.offset >= UInt64(r.length)
    }

    private mutating func reject(_ r: EventRecord, _ reason: InsertReport.Reason, _ report: inout InsertReport) {
        switch reason {
        case .lateUnderRejectPolicy: stats.rejectedLateEvents += 1
        case .invalidTime, .tooLarge: stats.rejectedInvalidEvents += 1
        }
        report.rejected.append(InsertReport.Rejection(key: r.key, reason: reason))
    }

    /// The start of the range holding `time`.
    public func rangeStart(of time: UInt64) -> UInt64 { time - time % chunkDuration }

    /// The range holding `time` (its end is clamped to `UInt64.max`).
    public func range(of time: UInt64) -> TimeRange {
        let s = rangeStart(of: time)
        let (e, overflow) = s.addingReportingOverflow(chunkDuration)
        return TimeRange(start: s, end: overflow ? UInt64.max : e)
    }

    // MARK: Sealing

    /// Seals every range that is complete (see the type's documentation) and every pending revision.
    /// - Returns: the sealed chunks, sorted by range start then revision; empty ranges yield no chunk.
    public mutating func sealReady() -> [StoryChunk] {
        let target: UInt64
        if let low = lowWatermark {
            target = rangeStart(of: low)
        } else {
            target = open.keys.max().map { range(of: $0).end } ?? sealedFrontier
        }
        return seal(upTo: target)
    }

    /// Seals like ``sealReady()``, then also the events below the lowest watermark when it lies
    /// inside an open range and belongs to a writer (a client at a keeper, a keeper at a grapher),
    /// not to `clock`: they leave as a chunk of that range's first part (`[sealedFrontier,
    /// watermark)`), the rest of the range stays open, and ``sealedFrontier`` becomes the
    /// watermark. A grapher uses it while a keeper ships a range too large for its slots in pieces
    /// (its watermark then stands at its first unshipped event): the part already received is
    /// archived, its slots come back, and the rest of the range can follow; a keeper at its memory
    /// bound, whose writers wait and whose ranges would never complete. The clock's watermark never
    /// cuts a range: it stands for writers not registered yet, whose first events may be a little
    /// older than it, so it seals whole ranges only.
    /// - Parameter clock: the contributor id a role registers its clock as.
    public mutating func sealReady(splittingExcept clock: UInt64) -> [StoryChunk] {
        var out = sealReady()
        guard let target = lowWatermark(excluding: clock), target == lowWatermark, target > sealedFrontier else { return out }
        out += split(at: target, counted: true)
        return out
    }

    /// Seals like ``sealReady()``, then, once every contributor's watermark (a role's clock
    /// included) has reached `target`, also the events below `target` in the range holding it:
    /// they leave as a chunk of that range's first part, the rest stays open, and
    /// ``sealedFrontier`` becomes `target`. A keeper uses it for a durable flush: the flushing
    /// writer's events, all below its watermark + 1, leave about `writerClockMargin` after the
    /// flush instead of when their range ends. As safe as sealing whole ranges: no contributor
    /// will send anything below `target`, and a writer not registered yet is covered by the
    /// clock's margin as it is for a whole range. Does nothing more when `target` is not past
    /// ``sealedFrontier``.
    public mutating func sealReady(cuttingAt target: UInt64) -> [StoryChunk] {
        var out = sealReady()
        guard target > sealedFrontier, let low = lowWatermark, low >= target else { return out }
        out += split(at: target, counted: true)
        return out
    }

    /// The margin keepers and graphers give ``sealBehind(clock:margin:)``: one second, far above
    /// the error of a client's measured clock offset.
    public static let restartMargin: UInt64 = 1_000_000_000

    /// How far a keeper's clock watermark stands behind its clock (10 ms): a range seals only once
    /// both its writers' watermarks and this point have passed it, so a writer joining a story whose
    /// other writers' clocks run ahead of its own is not late as long as its clock lags its keeper's
    /// by less (measured offset errors stay within a few milliseconds: 4–6 ms seen on this 2-core
    /// machine at load 14, 12 ms once at load 26). It delays a range's sealing, and what `follow`
    /// and `tail` see, by at most this much after the writers' watermarks: 20 ms put `tail`'s p99
    /// at 46–47 ms, against its 50-ms target.
    public static let writerClockMargin: UInt64 = 10_000_000

    /// Once `clock` is the only contributor left (every writer finished: at a keeper, its clients
    /// released the story; at a grapher, each keeper reported its last watermark for it), seals
    /// what lies more than `margin` behind the clock's watermark, cutting the range holding that
    /// point: the events below leave as the range's first part, the rest stays open; pending
    /// revisions seal at once. Does nothing while a writer is registered. A grapher calls it after
    /// ``sealReady()``; a keeper calls it instead of ``sealReady()`` while its story has no writer.
    ///
    /// Without it a stopped story's events wait in an open range until the clock passes its end (up
    /// to `story.chunkDurationMs`, a day at most), and so do the acknowledgements of the chunks
    /// that brought them. `margin` keeps the cut behind the first events of a restart, which may be
    /// a little older than the clock (clients' clock offsets): such events would be late.
    public mutating func sealBehind(clock: UInt64, margin: UInt64) -> [StoryChunk] {
        guard watermarks.count == 1, let w = watermarks[clock] else { return [] }
        let target = w > margin ? w - margin : 0
        guard target > sealedFrontier else { return seal(upTo: sealedFrontier) }  // revisions only
        return sealBelow(target)
    }

    /// Seals the buffered events of the range holding `target` below it (`[sealedFrontier, target)`),
    /// leaves the rest open, and moves ``sealedFrontier`` to `target` (> ``sealedFrontier``).
    /// `counted`: a cut below a writer's watermark, counted in ``PipelineStats/rangesSplit``.
    private mutating func split(at target: UInt64, counted: Bool) -> [StoryChunk] {
        var out: [StoryChunk] = []
        let start = rangeStart(of: target)
        let from = max(start, sealedFrontier)
        if let buffer = open.removeValue(forKey: start) {
            // A range cut (a durable flush, a keeper at its bound) is as large as this at least: the
            // rest's buffer, and the next ranges', reserve that much instead of regrowing by copies
            // (of the payload, only what was copied in).
            let total = (records: buffer.records.count, bytes: buffer.payload.count)
            if total.records > sizeHint.records || total.bytes > sizeHint.bytes {
                sizeHint = (max(sizeHint.records, total.records), max(sizeHint.bytes, total.bytes))
                pool?.lastRange = sizeHint
            }
            var (pieces, duplicates) = buffer.canonicalPieces(pool: pool, maxEncodedBytes: maxChunkBytes)
            stats.duplicatesDropped += UInt64(duplicates)
            // The pieces below `target` leave, the one holding it cut short in place; what lies at or
            // after it is copied into the range's new buffer.
            var head: [(records: [EventRecord], payload: [UInt8])] = []
            var rest: RangeBuffer? = nil
            // The rest's storage, of its exact size, from the pool (grown by appends, it took fresh
            // memory at every durable flush's cut).
            // Pieces are in event order: those after the one holding `target` lie wholly at or after it.
            let cuts = pieces.map { $0.records.firstPosition(atOrAfter: target) }
            var restSize = (records: 0, bytes: 0)
            for (piece, cut) in zip(pieces, cuts) where cut < piece.records.count {
                restSize.records += piece.records.count - cut
                restSize.bytes += piece.payload.count - Int(piece.records[cut].offset)
            }
            func newRest() -> RangeBuffer {
                guard let pool else { return RangeBuffer() }
                return RangeBuffer(records: pool.takeTable(capacity: restSize.records), payload: pool.takePayload(capacity: restSize.bytes))
            }
            for i in pieces.indices {
                // Taken out of `pieces`, not copied: cutting a shared copy short would copy it whole.
                var records: [EventRecord] = [], payload: [UInt8] = []
                swap(&records, &pieces[i].records)
                swap(&payload, &pieces[i].payload)
                let cut = cuts[i]
                if cut < records.count {
                    if rest == nil { rest = newRest() }
                    rest?.append(records, cut..<records.count, payload: payload)
                    let cutByte = Int(records[cut].offset)
                    records.removeLast(records.count - cut)
                    payload.removeLast(payload.count - cutByte)
                }
                if !records.isEmpty {
                    head.append((records, payload))
                } else if let pool {
                    pool.give(table: consume records)
                    pool.give(payload: consume payload)
                }
            }
            if let rest { open[start] = rest }
            if !head.isEmpty {
                out += chunks(of: head, from: from, to: target)
                if counted { stats.rangesSplit += 1 }
            }
        }
        sealedFrontier = target
        return out
    }

    /// Seals every event older than `frontier`: the ranges ending by it whole, the range holding it
    /// up to it (the rest stays open); ``sealedFrontier`` becomes `frontier`, so later events older
    /// than it are late. A keeper uses it when a writer joins a story it records with the
    /// completeness it already answered: every registered writer's watermark was past that point
    /// (nothing of theirs can still arrive below it), and the newcomer's older events must count late.
    /// Does nothing when `frontier` is not past ``sealedFrontier``.
    public mutating func sealBelow(_ frontier: UInt64) -> [StoryChunk] {
        guard frontier > sealedFrontier else { return [] }
        var out = seal(upTo: rangeStart(of: frontier))
        if frontier > sealedFrontier { out += split(at: frontier, counted: false) }
        return out
    }

    /// Starts a pipeline that holds nothing yet as sealed up to `frontier`: events older than it
    /// are late. A keeper recording a story afresh uses it with the completeness it already
    /// answered for the story, so that no event lands behind what a follow was told is complete.
    public mutating func startSealed(at frontier: UInt64) {
        guard open.isEmpty, revisionBuffers.isEmpty, frontier > sealedFrontier else { return }
        sealedFrontier = frontier
    }

    /// Seals everything buffered regardless of watermarks (shutdown drain, or story stop).
    /// Afterwards ``sealedFrontier`` is past every buffered event, so later events for those ranges are late.
    public mutating func drain() -> [StoryChunk] {
        seal(upTo: open.keys.max().map { range(of: $0).end } ?? sealedFrontier)
    }

    private mutating func seal(upTo target: UInt64) -> [StoryChunk] {
        var out: [StoryChunk] = []
        for start in revisionBuffers.keys.sorted() {
            guard let buffer = revisionBuffers.removeValue(forKey: start) else { continue }
            let revision = nextRevision[start] ?? 1
            nextRevision[start] = revision &+ 1
            out.append(makeChunk(buffer, range: range(of: start), revision: revision))
            stats.revisionsSealed += 1
        }
        if target > sealedFrontier {
            // A range whose first part was sealed on its own (`sealReady(splittingExcept:)`) seals the rest.
            let from = sealedFrontier
            for start in open.keys.sorted() where range(of: start).end <= target {
                guard let buffer = open.removeValue(forKey: start) else { continue }
                sizeHint = (buffer.records.count, buffer.payload.count)
                pool?.lastRange = sizeHint
                let whole = range(of: start)
                let (pieces, duplicates) = buffer.canonicalPieces(pool: pool, maxEncodedBytes: maxChunkBytes)
                stats.duplicatesDropped += UInt64(duplicates)
                out += chunks(of: pieces, from: max(whole.start, from), to: whole.end)
            }
            sealedFrontier = target
        }
        out.sort { ($0.range.start, $0.revision) < ($1.range.start, $1.revision) }
        return out
    }

    /// First-time chunks of consecutive canonical pieces of one range, covering `[from, to)`: each
    /// piece's part runs from its first event's time (`from` for the first) to the next piece's
    /// first event's time (`to` for the last). Counts them sealed and their index gaps.
    private mutating func chunks(of pieces: [(records: [EventRecord], payload: [UInt8])], from: UInt64, to: UInt64) -> [StoryChunk] {
        var out: [StoryChunk] = []
        out.reserveCapacity(pieces.count)
        for (i, piece) in pieces.enumerated() {
            let start = i == 0 ? from : piece.records[0].time
            let end = i + 1 < pieces.count ? pieces[i + 1].records[0].time : to
            countIndexGaps(piece.records)
            out.append(StoryChunk(unchecked: storyId, range: TimeRange(start: start, end: end), revision: 0,
                                  records: piece.records, payload: piece.payload))
            stats.chunksSealed += 1
        }
        return out
    }

    private mutating func makeChunk(_ buffer: consuming RangeBuffer, range: TimeRange, revision: UInt32) -> StoryChunk {
        let (records, payload, duplicates) = buffer.canonical(pool: pool)
        stats.duplicatesDropped += UInt64(duplicates)
        if revision == 0 { countIndexGaps(records) }
        return StoryChunk(unchecked: storyId, range: range, revision: revision, records: records, payload: payload)
    }

    /// Raises each client's highest sealed index over `records` (in order), counting the indexes
    /// skipped (``PipelineStats/indexGaps``). A client's entry is looked up once per run of its
    /// records, not once per record: a range usually holds long runs of one writer's events.
    private mutating func countIndexGaps(_ records: [EventRecord]) {
        guard let first = records.first else { return }
        var client = first.clientId
        var high = highestSealedIndex[client]
        var gaps: UInt64 = 0
        for r in records {
            if r.clientId != client {
                if let high { highestSealedIndex[client] = high }
                client = r.clientId
                high = highestSealedIndex[client]
            }
            if let h = high {
                if r.index > h {
                    gaps += UInt64(r.index - h - 1)
                    high = r.index
                }
            } else {
                high = r.index
            }
        }
        if let high { highestSealedIndex[client] = high }
        stats.indexGaps += gaps
    }

    // MARK: Inspection

    /// Whether any range buffer is open (cheaper than ``bufferedEventCount`` > 0; an open buffer
    /// normally holds events).
    public var hasOpenBuffers: Bool { !open.isEmpty || !revisionBuffers.isEmpty }

    /// Events buffered and not yet sealed.
    public var bufferedEventCount: Int {
        open.values.reduce(0) { $0 + $1.records.count } + revisionBuffers.values.reduce(0) { $0 + $1.records.count }
    }

    /// Memory held by buffered events: 32 bytes per record, plus the record bytes, plus for events
    /// kept in the batch they came in (``insert(_:)-(EventBatch)``) 32 bytes more each: that batch's
    /// own record table.
    public var bufferedBytes: Int {
        open.values.reduce(0) { $0 + $1.byteCount } + revisionBuffers.values.reduce(0) { $0 + $1.byteCount }
    }

    /// The events buffered (not yet sealed) whose time is in `window`, as a chunk, so a player can
    /// serve fresh data. Revision buffers are included. Returns nil when `window` is empty.
    public func unsealedEvents(in window: TimeRange) -> StoryChunk? {
        guard !window.isEmpty else { return nil }
        var all = RangeBuffer()
        for buffer in open.values { all.appendFiltered(buffer, window) }
        for buffer in revisionBuffers.values { all.appendFiltered(buffer, window) }
        let (records, payload, _) = all.canonical(pool: nil)
        return StoryChunk(unchecked: storyId, range: window, revision: 0, records: records, payload: payload)
    }
}

/// The unsorted events of one range: a record table whose offsets point into `payload` (bytes
/// copied in) or into one of the `shared` arrays (received batches kept as they came).
///
/// A record's offset names its array in its top bits (``segmentShift``): 0 is `payload`, k is
/// `shared[k - 1]`; the low bits are the offset in that array. Only ``canonicalPieces(pool:maxEncodedBytes:asTheyCame:)``
/// and ``bytes(of:)`` read them; a sealed chunk's offsets are plain again.
struct RangeBuffer: Sendable {
    var records: [EventRecord] = []
    var payload: [UInt8] = []
    /// Arrays whose bytes this buffer's records point into without a copy.
    var shared: [[UInt8]] = []
    /// The bytes of the shared arrays the records take: their own bytes and a record each.
    var sharedBytes = 0

    /// Where a record's offset keeps the number of its array.
    static let segmentShift: UInt64 = 40
    static let localMask: UInt64 = (1 << segmentShift) - 1
    /// The most arrays one buffer shares; past it, bytes are copied in.
    static let maxShared = (1 << 24) - 1

    init() {}

    /// An empty buffer with room for `hint` records and payload bytes (plus a quarter).
    init(reserving hint: (records: Int, bytes: Int)) {
        reserve(hint)
    }

    /// A buffer holding `records` whose offsets point into `payload` (taken as they are).
    init(records: [EventRecord], payload: [UInt8]) {
        self.records = records
        self.payload = payload
    }

    /// Makes room for `hint` records and payload bytes plus a quarter (no effect when there is room).
    mutating func reserve(_ hint: (records: Int, bytes: Int)) {
        let wantRecords = hint.records + hint.records / 4, wantBytes = hint.bytes + hint.bytes / 4
        if records.capacity < wantRecords { records.reserveCapacity(wantRecords) }
        if payload.capacity < wantBytes { payload.reserveCapacity(wantBytes) }
    }

    var byteCount: Int { records.count * EventRecord.byteSize + payload.count + sharedBytes }

    /// Room for `n` more records, growing the table at least twofold (`reserveCapacity` alone
    /// allocates exactly what it is asked: called per batch, it would copy the table each time).
    private mutating func reserveRecords(_ n: Int) {
        let need = records.count + n
        if records.capacity < need { records.reserveCapacity(max(need, 2 * records.capacity)) }
    }

    /// The bytes of a record of this buffer.
    func bytes(of r: EventRecord) -> ArraySlice<UInt8> { Self.bytes(of: r, payload: payload, shared: shared) }

    /// The bytes of `r`, whose offset names `payload` or one of `shared` (see the type's doc).
    static func bytes(of r: EventRecord, payload: [UInt8], shared: [[UInt8]]) -> ArraySlice<UInt8> {
        let local = Int(r.offset & localMask), segment = Int(r.offset >> segmentShift)
        return (segment == 0 ? payload : shared[segment - 1])[local..<(local + Int(r.length))]
    }

    /// Appends `source[range]` pointing into `storage`, whose bytes the records' offsets (relative to
    /// `base`) locate, which the buffer keeps: no byte is copied. The bounds are checked already.
    /// The part of `storage` the run takes is counted held (``byteCount``): its bytes and a record
    /// each (a received batch's own table), so that ranges sharing one message count it once.
    /// - Returns: false, appending nothing, when the buffer shares as many arrays as it can.
    mutating func append(_ source: [EventRecord], _ range: Range<Int>, sharing storage: [UInt8], at base: Int) -> Bool {
        guard !range.isEmpty else { return true }
        let same = shared.last.map { last in
            last.withUnsafeBytes { a in storage.withUnsafeBytes { b in a.baseAddress == b.baseAddress && a.count == b.count } }
        } ?? false
        if !same {
            guard shared.count < Self.maxShared, UInt64(storage.count) <= Self.localMask else { return false }
            shared.append(storage)
        }
        let tag = UInt64(shared.count) << Self.segmentShift
        reserveRecords(range.count)
        for k in range {
            var r = source[k]
            sharedBytes += Int(r.length) + EventRecord.byteSize
            r.offset = tag | (UInt64(base) + r.offset)
            records.append(r)
        }
        return true
    }

    /// Appends `source[range]`, copying each record's bytes from `sourcePayload`, where they lie
    /// from `base` on (bounds already checked).
    mutating func append(_ source: [EventRecord], _ range: Range<Int>, payload sourcePayload: [UInt8], at sourceBase: Int = 0) {
        guard !range.isEmpty else { return }
        // Fast path (client batches and canonical chunks): the run's payloads lie back to back in
        // record order, so they move with one copy and the offsets shift by one delta.
        var end = source[range.lowerBound].offset
        var contiguous = true
        for k in range {
            if source[k].offset != end { contiguous = false; break }
            end += UInt64(source[k].length)
        }
        reserveRecords(range.count)
        if contiguous {
            let first = source[range.lowerBound].offset
            let delta = UInt64(payload.count) &- first
            payload.append(contentsOf: sourcePayload[(sourceBase + Int(first))..<(sourceBase + Int(end))])
            for k in range {
                var r = source[k]
                r.offset &+= delta
                records.append(r)
            }
            return
        }
        for k in range {
            var r = source[k]
            let from = sourceBase + Int(r.offset)
            r.offset = UInt64(payload.count)
            payload.append(contentsOf: sourcePayload[from..<(from + Int(r.length))])
            records.append(r)
        }
    }

    /// Appends the records of `other` whose time is in `window`.
    mutating func appendFiltered(_ other: RangeBuffer, _ window: TimeRange) {
        for var r in other.records where window.contains(r.time) {
            let bytes = other.bytes(of: r)
            r.offset = UInt64(payload.count)
            payload.append(contentsOf: bytes)
            records.append(r)
        }
    }

    /// Sorted, duplicate-free records with payload laid out in record order. For equal keys the copy
    /// whose bytes sort first is kept (the same rule as ``StoryChunk/merged(with:)``). Consumes the
    /// buffer: its record table is sorted in place and becomes the result's; the payload is copied
    /// once, in record order, into storage from `pool` (when given), and the old payload goes back
    /// to it. A shared story's ranges interleave their writers' events, so this runs at every seal:
    /// fresh arrays here cost a keeper a host fault per page of every range it sealed.
    consuming func canonical(pool: ChunkStoragePool?) -> (records: [EventRecord], payload: [UInt8], duplicates: Int) {
        let (pieces, duplicates) = canonicalPieces(pool: pool, maxEncodedBytes: Int.max, asTheyCame: false)
        precondition(pieces.count <= 1, "one chunk asked, \(pieces.count) made")
        guard let only = pieces.first else { return ([], [], duplicates) }
        return (only.records, only.payload, duplicates)
    }

    /// The (ordered) records as the arrays they point into, when they take each array whole, one
    /// array after another: a run of records per array, its bytes back to back from the array's
    /// first byte to its last, each run encoding within `maxEncodedBytes`, no time in two runs. A grapher taking a
    /// keeper's chunks of one range one after another keeps each chunk's payload (as a keeper
    /// keeps its batches); sealed, they leave as they came, each array the payload of a piece,
    /// without the copy into one buffer (or its growth) that one chunk per range cost. Only the
    /// records are copied, their offsets made plain. Nil (the buffer untouched) otherwise.
    private mutating func wholeArrayPieces(pool: ChunkStoragePool?, maxEncodedBytes: Int)
        -> [(records: [EventRecord], payload: [UInt8])]? {
        var runs: [(range: Range<Int>, segment: Int)] = []
        var taken = Set<Int>()
        var k = 0
        while k < records.count {
            let segment = Int(records[k].offset >> Self.segmentShift)
            let count = segment == 0 ? payload.count : shared[segment - 1].count
            var expected: UInt64 = 0
            var j = k
            while j < records.count, Int(records[j].offset >> Self.segmentShift) == segment {
                guard records[j].offset & Self.localMask == expected else { return nil }
                expected += UInt64(records[j].length)
                j += 1
            }
            // Each piece becomes a chunk of its own part of the range: no time in two of them.
            guard expected == UInt64(count), taken.insert(segment).inserted, k == 0 || records[k - 1].time < records[k].time,
                  StoryChunk.headerByteCount + (j - k) * EventRecord.byteSize + count <= maxEncodedBytes else { return nil }
            runs.append((k..<j, segment))
            k = j
        }
        var pieces: [(records: [EventRecord], payload: [UInt8])] = []
        pieces.reserveCapacity(runs.count)
        for run in runs {
            var table: [EventRecord]
            if let pool { table = pool.takeTable(capacity: run.range.count) } else { table = []; table.reserveCapacity(run.range.count) }
            for i in run.range {
                var r = records[i]
                r.offset &= Self.localMask
                table.append(r)
            }
            pieces.append((table, run.segment == 0 ? payload : shared[run.segment - 1]))
        }
        let old = records
        records = []
        payload = []
        shared = []
        sharedBytes = 0
        pool?.give(table: consume old)
        return pieces
    }

    /// ``canonical(pool:)`` laid out as consecutive pieces in event order, each encoding (as a
    /// chunk: ``StoryChunk/encodedByteCount``) in at most `maxEncodedBytes`, and never two pieces
    /// sharing an event time (so each can be a chunk of its own part of the range). A piece holds
    /// more only when one time's events alone exceed the bound. Each piece's table and payload
    /// come from `pool`: a keeper sealing a 50-ms range of a busy story into one array asked the
    /// heap for tens of MiB at every seal, which it maps afresh (a host fault per page); pieces
    /// of the keeper's transfer size are reused from its pool range after range.
    /// - Returns: the pieces (none for an empty buffer) and the number of duplicates dropped.
    /// - Parameter asTheyCame: pieces may be the arrays the records take whole, one after another
    ///   (``wholeArrayPieces(pool:maxEncodedBytes:)``); false when one piece is wanted (a revision).
    consuming func canonicalPieces(pool: ChunkStoragePool?, maxEncodedBytes: Int, asTheyCame: Bool = true)
        -> (pieces: [(records: [EventRecord], payload: [UInt8])], duplicates: Int) {
        guard !records.isEmpty else {
            if let pool {
                var t: [EventRecord] = [], p: [UInt8] = []
                swap(&t, &records)
                swap(&p, &payload)
                pool.give(table: consume t)
                pool.give(payload: consume p)
            }
            return ([], 0)
        }
        // Fast path: already strictly ordered with payloads in record order from 0 (one writer
        // appending in time order) and small enough: the buffer is its own canonical form, no
        // sort, no copy.
        var ordered = true
        var contiguous = shared.isEmpty
        var expected: UInt64 = 0
        for k in records.indices {
            if k > 0 && !EventRecord.precedes(records[k - 1], records[k]) {
                ordered = false
                break
            }
            if contiguous && records[k].offset != expected { contiguous = false }
            expected &+= UInt64(records[k].length)
        }
        contiguous = contiguous && expected == UInt64(payload.count)
        let whole = StoryChunk.headerByteCount + records.count * EventRecord.byteSize + payload.count
        if ordered && contiguous && whole <= maxEncodedBytes { return ([(records, payload)], 0) }
        if ordered, asTheyCame, let pieces = wholeArrayPieces(pool: pool, maxEncodedBytes: maxEncodedBytes) { return (pieces, 0) }
        var table = records  // the buffer's own table: sorted in place below
        records = []
        let bytes = payload
        payload = []
        let segments = shared
        shared = []
        sharedBytes = 0
        func body(_ r: EventRecord) -> ArraySlice<UInt8> { Self.bytes(of: r, payload: bytes, shared: segments) }
        if !ordered {
            table.sort { a, b in
                if EventRecord.precedes(a, b) { return true }
                if EventRecord.precedes(b, a) { return false }
                return body(a).lexicographicallyPrecedes(body(b))
            }
        }
        // Duplicates (equal keys) lie side by side now; the first of each is kept, the table compacted in place.
        var kept = 0
        var keptBytes = 0
        for k in table.indices {
            if kept > 0, EventRecord.sameKey(table[kept - 1], table[k]) { continue }
            table[kept] = table[k]
            keptBytes += Int(table[k].length)
            kept += 1
        }
        let duplicates = table.count - kept
        table.removeLast(duplicates)
        // Where each array's bytes start, found once: looked up per record, each lookup retained
        // and released its array (5 % of a keeper's samples). The arrays are constants of this
        // function, not changed while it runs, so their storage stays where it is.
        let starts: [UnsafeRawPointer?] = ([bytes] + segments).map { $0.withUnsafeBytes { $0.baseAddress } }
        // Each record's bytes, copied in table order into `out`; the offsets rewritten to match.
        func copyPayloads(_ t: inout [EventRecord], into out: inout [UInt8]) {
            withExtendedLifetime((bytes, segments)) {
                for k in t.indices {
                    let local = Int(t[k].offset & Self.localMask), segment = Int(t[k].offset >> Self.segmentShift)
                    let length = Int(t[k].length)
                    t[k].offset = UInt64(out.count)
                    guard length > 0, let start = starts[segment] else { continue }
                    out.append(contentsOf: UnsafeRawBufferPointer(start: start + local, count: length))
                }
            }
        }
        if StoryChunk.headerByteCount + kept * EventRecord.byteSize + keptBytes <= maxEncodedBytes {
            var out: [UInt8]
            if let pool { out = pool.takePayload(capacity: keptBytes) } else { out = []; out.reserveCapacity(keptBytes) }
            copyPayloads(&table, into: &out)
            pool?.give(payload: consume bytes)
            return ([(table, out)], duplicates)
        }
        var pieces: [(records: [EventRecord], payload: [UInt8])] = []
        var first = 0
        while first < kept {
            var end = StoryChunk.pieceEnd(of: table, from: first, maxEncodedBytes: maxEncodedBytes)
            // Never between two events of one time: back to the start of the time's run, or, when
            // that run began the piece, on past its end.
            if end < kept && table[end].time == table[end - 1].time {
                var back = end - 1
                while back > first && table[back - 1].time == table[end].time { back -= 1 }
                if back > first {
                    end = back
                } else {
                    while end < kept && table[end].time == table[end - 1].time { end += 1 }
                }
            }
            var pieceBytes = 0
            for k in first..<end { pieceBytes += Int(table[k].length) }
            var t: [EventRecord]
            var out: [UInt8]
            if let pool {
                t = pool.takeTable(capacity: end - first)
                out = pool.takePayload(capacity: pieceBytes)
            } else {
                t = []
                t.reserveCapacity(end - first)
                out = []
                out.reserveCapacity(pieceBytes)
            }
            t.append(contentsOf: table[first..<end])
            copyPayloads(&t, into: &out)
            pieces.append((t, out))
            first = end
        }
        pool?.give(table: consume table)
        pool?.give(payload: consume bytes)
        return (pieces, duplicates)
    }
}
