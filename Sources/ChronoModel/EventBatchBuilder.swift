/// The client-side buffer that `log_event` appends to: one per (client, story).
///
/// Appending copies the record bytes into a preallocated, reused payload array and writes one
/// 32-byte record into a preallocated record table: no allocation per event. The builder assigns
/// dense indexes (from `firstIndex`) and never lets times go backwards (a time earlier than the
/// previous one is raised to it), so the watermark it reports is meaningful.
///
/// Shipping: ``isFull`` after `maxEvents` events or `maxBytes` payload bytes; ``isDue(now:)`` also after
/// the linger time since the oldest pending event. The batch may exceed `maxBytes` by at most one
/// event (capacity is reserved for that); appending beyond stays correct but may allocate.
public struct EventBatchBuilder: Sendable {
    /// The story this builder feeds.
    public let storyId: StoryID
    /// The client logging.
    public let clientId: ClientID
    /// Batch is full at this many events.
    public let maxEvents: Int
    /// Batch is full at this many payload bytes.
    public let maxBytes: Int
    /// Largest accepted record.
    public let maxEventBytes: Int
    /// A non-empty batch is due this many nanoseconds after its oldest event.
    public let lingerNanoseconds: UInt64

    private var records: [EventRecord]
    private var payload: [UInt8]
    private var next: UInt64
    private var batchFirstIndex: UInt32
    /// The latest time handed out (times never decrease).
    public private(set) var lastTime: UInt64 = 0
    private var oldestPendingTime: UInt64 = 0

    /// Creates a builder with preallocated buffers.
    /// - Parameters:
    ///   - firstIndex: index of the first event (0 for a fresh story; a resumed client continues its sequence).
    ///   - maxEvents, maxBytes: batch size limits (at least 1).
    ///   - maxEventBytes: largest record accepted by ``append(time:record:)-(_,UnsafeRawBufferPointer)``.
    ///   - lingerNanoseconds: how long a non-empty batch may wait.
    public init(storyId: StoryID, clientId: ClientID, firstIndex: UInt32 = 0, maxEvents: Int, maxBytes: Int,
                maxEventBytes: Int, lingerNanoseconds: UInt64) {
        self.storyId = storyId
        self.clientId = clientId
        self.maxEvents = max(1, maxEvents)
        self.maxBytes = max(1, maxBytes)
        self.maxEventBytes = max(0, maxEventBytes)
        self.lingerNanoseconds = lingerNanoseconds
        next = UInt64(firstIndex)
        batchFirstIndex = firstIndex
        records = []
        records.reserveCapacity(self.maxEvents)
        payload = []
        payload.reserveCapacity(self.maxBytes + self.maxEventBytes)
    }

    /// Creates a builder sized by `config` (`client.*` and `story.maxEventBytes`).
    public init(storyId: StoryID, clientId: ClientID, firstIndex: UInt32 = 0, config: ChronoConfig) {
        self.init(storyId: storyId, clientId: clientId, firstIndex: firstIndex,
                  maxEvents: config.client.batchEvents, maxBytes: config.client.batchBytes,
                  maxEventBytes: config.story.maxEventBytes,
                  lingerNanoseconds: UInt64(config.client.lingerMicroseconds) &* 1000)
    }

    /// Number of pending events.
    public var count: Int { records.count }
    /// Whether nothing is pending.
    public var isEmpty: Bool { records.isEmpty }
    /// Pending payload bytes.
    public var payloadByteCount: Int { payload.count }
    /// The index the next appended event gets.
    public var nextIndex: UInt64 { next }
    /// Whether the batch reached `maxEvents` or `maxBytes`.
    public var isFull: Bool { records.count >= maxEvents || payload.count >= maxBytes }

    /// Whether the batch should ship now: full, or non-empty and older than the linger time.
    /// `now` is in the timebase of the event times.
    public func isDue(now: UInt64) -> Bool {
        if isFull { return true }
        return !records.isEmpty && now >= oldestPendingTime && now - oldestPendingTime >= lingerNanoseconds
    }

    /// Appends one event. Returns its key (the time actually used and its index).
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if the record is larger than `maxEventBytes`
    ///   or the client's 2^32 indexes for this story are used up.
    public mutating func append(time: UInt64, record: UnsafeRawBufferPointer) throws(ChronoLogError) -> EventKey {
        guard record.count <= maxEventBytes else {
            throw .invalidArgument("event of \(record.count) bytes exceeds the \(maxEventBytes)-byte limit")
        }
        guard next <= UInt64(UInt32.max) else { throw .invalidArgument("index space of this story exhausted") }
        let t = time > lastTime ? time : lastTime
        lastTime = t
        if records.isEmpty { oldestPendingTime = t }
        let index = UInt32(truncatingIfNeeded: next)
        records.append(EventRecord(time: t, clientId: clientId.rawValue, index: index,
                                   length: UInt32(truncatingIfNeeded: record.count), offset: UInt64(payload.count)))
        payload.append(contentsOf: record)
        next += 1
        return EventKey(time: t, clientId: clientId, index: index)
    }

    /// Appends one event whose record is `record`.
    public mutating func append(time: UInt64, record: [UInt8]) throws(ChronoLogError) -> EventKey {
        let result: Result<EventKey, ChronoLogError> = record.withUnsafeBytes { raw in
            Result { () throws(ChronoLogError) -> EventKey in try append(time: time, record: raw) }
        }
        return try result.get()
    }

    /// Appends one event whose record is the UTF-8 encoding of `text`.
    public mutating func append(time: UInt64, text: String) throws(ChronoLogError) -> EventKey {
        var text = text
        let result: Result<EventKey, ChronoLogError> = text.withUTF8 { utf8 in
            Result { () throws(ChronoLogError) -> EventKey in try append(time: time, record: UnsafeRawBufferPointer(utf8)) }
        }
        return try result.get()
    }

    /// Takes the pending events as a batch and empties the builder (capacity is kept).
    /// - Parameter watermark: the client's promise that later events have times ≥ it; it is raised to
    ///   ``lastTime`` if lower.
    public mutating func makeBatch(watermark: UInt64) -> EventBatch {
        let batch = EventBatch(unchecked: storyId, clientId: clientId, firstIndex: batchFirstIndex,
                               watermark: max(watermark, lastTime), records: records, payload: payload)
        reset()
        return batch
    }

    /// Appends the pending events as one complete ``ControlMessage/eventBatch(_:)`` frame to `bytes`
    /// and empties the builder. With a reused `bytes` of sufficient capacity this allocates nothing.
    public mutating func encodeMessage(watermark: UInt64, into bytes: inout [UInt8]) {
        let start = bytes.count, count = encodedMessageByteCount
        bytes.append(contentsOf: repeatElement(0, count: count))
        bytes.withUnsafeMutableBytes { raw in
            encodeMessage(watermark: watermark, into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + count)]))
        }
    }

    /// The size of the frame ``encodeMessage(watermark:into:)-(_,UnsafeMutableRawBufferPointer)``
    /// writes for the pending events.
    public var encodedMessageByteCount: Int {
        MessageHeader.byteCount + EventBatch.headerByteCount + records.count * EventRecord.byteSize + payload.count
    }

    /// Writes the pending events as one complete ``ControlMessage/eventBatch(_:)`` frame (the bytes
    /// ``ControlMessage/encode()`` gives the batch ``makeBatch(watermark:)`` would make) at the start of `raw` (at least
    /// ``encodedMessageByteCount`` bytes: a send buffer, so the frame is not copied again on its way
    /// out), and empties the builder.
    public mutating func encodeMessage(watermark: UInt64, into raw: UnsafeMutableRawBufferPointer) {
        let total = encodedMessageByteCount
        precondition(raw.count >= total, "an event batch of \(total) bytes does not fit \(raw.count)")
        let bodyLength = total - MessageHeader.byteCount
        func store<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            raw.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        }
        store(MessageHeader.magic, 0)
        store(ChronoModelVersion.protocolVersion, 4)
        store(MessageType.eventBatch.rawValue, 6)
        store(UInt32(clamping: bodyLength), 8)
        store(UInt32(0), 12)
        var at = MessageHeader.byteCount
        store(storyId.rawValue, at)
        store(clientId.rawValue, at + 8)
        store(max(watermark, lastTime), at + 16)
        store(batchFirstIndex, at + 24)
        store(UInt32(truncatingIfNeeded: records.count), at + 28)
        store(UInt64(payload.count), at + 32)
        at += EventBatch.headerByteCount
        if EventRecord.hasNativeWireLayout {
            records.withUnsafeBytes { src in
                if src.count > 0 { (raw.baseAddress! + at).copyMemory(from: src.baseAddress!, byteCount: src.count) }
            }
            at += records.count * EventRecord.byteSize
        } else {
            for r in records {
                store(r.time, at)
                store(r.clientId, at + 8)
                store(r.index, at + 16)
                store(r.length, at + 20)
                store(r.offset, at + 24)
                at += EventRecord.byteSize
            }
        }
        payload.withUnsafeBytes { src in
            if src.count > 0 { (raw.baseAddress! + at).copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        reset()
    }

    /// Drops the pending events without shipping them (e.g. after the story was destroyed).
    /// Their indexes stay used, so the keeper sees the gap.
    public mutating func discardPending() { reset() }

    private mutating func reset() {
        records.removeAll(keepingCapacity: true)
        payload.removeAll(keepingCapacity: true)
        batchFirstIndex = UInt32(truncatingIfNeeded: min(next, UInt64(UInt32.max)))
    }
}
