/// A batch of events from one client to one story: what a client ships to its keeper.
///
/// Like a chunk, a batch is a record table plus one payload array. Invariants (checked by every
/// initializer and by the decoder): every record's client is ``clientId``; indexes are dense,
/// `firstIndex, firstIndex + 1, …` in table order; payloads are stored in table order without gaps.
/// Times are **not** required to be sorted (the keeper sorts).
///
/// ``watermark`` is the client's promise: every event it logs to this story after this batch has a
/// time ≥ `watermark`. An empty batch is a pure watermark update: a client registers with its keeper
/// by one, and ends its contribution by one with watermark `UInt64.max`. (Idle stories' watermarks
/// travel many to a ``WatermarkSet``.)
public struct EventBatch: Sendable, Hashable {
    /// The story.
    public let storyId: StoryID
    /// The client that logged every event of the batch.
    public let clientId: ClientID
    /// The index of the first event; the others follow densely.
    public let firstIndex: UInt32
    /// No later event of this client for this story will have a smaller time.
    public let watermark: UInt64
    /// The record table, in index order.
    public let records: [EventRecord]
    /// The array holding the record bytes: the payload itself, or, for a batch decoded from a
    /// received message, that whole message (the payload is not copied out of it, and a keeper's
    /// range buffers keep it as it is until they seal: ``StoryPipeline/insert(_:)-(EventBatch)``).
    let storage: [UInt8]
    /// Where the payload starts in ``storage``.
    let payloadStart: Int
    /// The payload's length in bytes.
    public let payloadCount: Int

    /// The record bytes, in table order (offsets are relative to its start, not its indices').
    public var payload: ArraySlice<UInt8> { storage[payloadStart..<(payloadStart + payloadCount)] }

    init(unchecked storyId: StoryID, clientId: ClientID, firstIndex: UInt32, watermark: UInt64,
         records: [EventRecord], payload: [UInt8]) {
        self.init(unchecked: storyId, clientId: clientId, firstIndex: firstIndex, watermark: watermark, records: records,
                  storage: payload, payloadStart: 0, payloadCount: payload.count)
    }

    init(unchecked storyId: StoryID, clientId: ClientID, firstIndex: UInt32, watermark: UInt64,
         records: [EventRecord], storage: [UInt8], payloadStart: Int, payloadCount: Int) {
        self.storyId = storyId
        self.clientId = clientId
        self.firstIndex = firstIndex
        self.watermark = watermark
        self.records = records
        self.storage = storage
        self.payloadStart = payloadStart
        self.payloadCount = payloadCount
    }

    public static func == (a: EventBatch, b: EventBatch) -> Bool {
        a.storyId == b.storyId && a.clientId == b.clientId && a.firstIndex == b.firstIndex && a.watermark == b.watermark
            && a.records == b.records && a.payload.elementsEqual(b.payload)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storyId)
        hasher.combine(clientId)
        hasher.combine(firstIndex)
        hasher.combine(watermark)
        hasher.combine(records)
        payload.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Builds a batch from events of one client with dense indexes, in index order.
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if the events mix clients, their indexes are not
    ///   dense and increasing from the first, or a record is longer than `UInt32.max` bytes.
    public init(storyId: StoryID, clientId: ClientID, watermark: UInt64, events: [Event]) throws(ChronoLogError) {
        let first = events.first?.index ?? 0
        var records: [EventRecord] = []
        records.reserveCapacity(events.count)
        var payload: [UInt8] = []
        for (i, e) in events.enumerated() {
            guard e.clientId == clientId else { throw .invalidArgument("event \(e.key) is not from client \(clientId)") }
            guard UInt64(e.index) == UInt64(first) + UInt64(i) else {
                throw .invalidArgument("event \(e.key): indexes must be dense from \(first)")
            }
            guard let length = UInt32(exactly: e.record.count) else { throw .invalidArgument("event \(e.key) record is too long") }
            records.append(EventRecord(time: e.time, clientId: clientId.rawValue, index: e.index,
                                       length: length, offset: UInt64(payload.count)))
            payload.append(contentsOf: e.record)
        }
        self.init(unchecked: storyId, clientId: clientId, firstIndex: first, watermark: watermark,
                  records: records, payload: payload)
    }

    /// Number of events.
    public var count: Int { records.count }

    /// Whether the batch is a pure watermark update.
    public var isEmpty: Bool { records.isEmpty }

    /// The largest event time in the batch, or `nil` when empty.
    public var maxTime: UInt64? { records.lazy.map(\.time).max() }

    /// The record bytes of the event at `position`, without copying.
    public func recordBytes(at position: Int) -> ArraySlice<UInt8> {
        let r = records[position]
        let start = payloadStart + Int(r.offset)
        return storage[start..<(start + Int(r.length))]
    }

    /// The event at `position` (copies its bytes).
    public func event(at position: Int) -> Event {
        let r = records[position]
        return Event(time: r.time, clientId: clientId, index: r.index, record: Array(recordBytes(at: position)))
    }

    /// All events as values (for APIs and tests).
    public var events: [Event] { (0..<records.count).map(event(at:)) }

    /// Checks the batch invariants; used by the decoder.
    static func check(records: [EventRecord], payloadCount: Int, clientId: ClientID, firstIndex: UInt32,
                      maxEventBytes: UInt32) throws(ChronoLogError) {
        guard UInt64(firstIndex) + UInt64(records.count) <= UInt64(UInt32.max) + 1 else {
            throw .malformedMessage(.inconsistent("batch indexes overflow UInt32"))
        }
        var expectedOffset: UInt64 = 0
        for (i, r) in records.enumerated() {
            guard r.clientId == clientId.rawValue else {
                throw .malformedMessage(.inconsistent("record \(i) client \(r.clientId) differs from batch client \(clientId)"))
            }
            guard UInt64(r.index) == UInt64(firstIndex) + UInt64(i) else {
                throw .malformedMessage(.inconsistent("record \(i) index \(r.index) is not dense from \(firstIndex)"))
            }
            guard r.length <= maxEventBytes else {
                throw .malformedMessage(.limitExceeded(field: "event.length", value: UInt64(r.length), limit: UInt64(maxEventBytes)))
            }
            guard r.offset == expectedOffset else {
                throw .malformedMessage(.inconsistent("record \(i) offset \(r.offset), expected \(expectedOffset)"))
            }
            let (next, overflow) = expectedOffset.addingReportingOverflow(UInt64(r.length))
            guard !overflow else { throw .malformedMessage(.inconsistent("record \(i) payload offsets overflow")) }
            expectedOffset = next
        }
        guard expectedOffset == UInt64(payloadCount) else {
            throw .malformedMessage(.inconsistent("records cover \(expectedOffset) payload bytes, payload has \(payloadCount)"))
        }
    }
}

extension EventBatch {
    /// Size of the batch body header: story id, client id, watermark, first index, count, payload bytes.
    static let headerByteCount = 40

    /// Size of the encoded batch body.
    var encodedByteCount: Int { Self.headerByteCount + records.count * EventRecord.byteSize + payload.count }

    /// Writes the batch body (no message header).
    func write(to w: inout WireWriter) {
        Self.writeBody(storyId: storyId, clientId: clientId, watermark: watermark, firstIndex: firstIndex,
                       records: records, payload: payload, to: &w.bytes)
    }

    /// Body layout: u64 story, u64 client, u64 watermark, u32 first index, u32 count, u64 payload bytes,
    /// then the payload and the record table. The payload comes first so that a writer can append
    /// each event's bytes straight into the memory the batch is sent from, and the table (a ninth
    /// of the bytes at 256-B events) behind them when it ships (``EventBatchBuilder/takeFrame(watermark:replacement:)``).
    static func writeBody(storyId: StoryID, clientId: ClientID, watermark: UInt64, firstIndex: UInt32,
                          records: [EventRecord], payload: ArraySlice<UInt8>, to bytes: inout [UInt8]) {
        RawBytes.appendLE(storyId.rawValue, to: &bytes)
        RawBytes.appendLE(clientId.rawValue, to: &bytes)
        RawBytes.appendLE(watermark, to: &bytes)
        RawBytes.appendLE(firstIndex, to: &bytes)
        RawBytes.appendLE(UInt32(truncatingIfNeeded: records.count), to: &bytes)
        RawBytes.appendLE(UInt64(payload.count), to: &bytes)
        bytes.append(contentsOf: payload)
        RawBytes.appendRecords(records, to: &bytes)
    }

    /// Reads a batch body. With `backing`, the array `r` reads (its raw bytes), the batch's payload
    /// stays in it, not copied; without, it is copied out.
    static func read(from r: inout WireReader, backing: [UInt8]? = nil) throws(ChronoLogError) -> EventBatch {
        let story = StoryID(rawValue: try r.u64())
        let client = ClientID(rawValue: try r.u64())
        let watermark = try r.u64()
        let first = try r.u32()
        let count = try r.u32()
        let payloadCount = try r.u64()
        let p = try r.checkedCount(payloadCount, field: "batch.payloadBytes", limit: r.limits.maxBodyBytes, minElementBytes: 1)
        let payloadAt = r.position
        try r.skip(p)
        let n = try r.checkedCount(UInt64(count), field: "batch.count", limit: r.limits.maxEvents,
                                   minElementBytes: EventRecord.byteSize)
        let records = RawBytes.readRecords(r.raw, offset: r.position, count: n)
        try r.skip(n * EventRecord.byteSize)
        try check(records: records, payloadCount: p, clientId: client, firstIndex: first, maxEventBytes: r.limits.maxEventBytes)
        if let backing {
            return EventBatch(unchecked: story, clientId: client, firstIndex: first, watermark: watermark,
                              records: records, storage: backing, payloadStart: payloadAt, payloadCount: p)
        }
        let payload = RawBytes.copyBytes(r.raw, offset: payloadAt, count: p)
        return EventBatch(unchecked: story, clientId: client, firstIndex: first, watermark: watermark,
                          records: records, payload: payload)
    }
}
