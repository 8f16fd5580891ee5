/// The client-side buffer that `log_event` appends to: one per (client, story).
///
/// Appending copies the record bytes into a preallocated, reused frame and writes one 32-byte
/// record into a preallocated record table: no allocation per event. The frame is the message the
/// batch is sent as: room for the message and batch headers, then the payload; when the batch
/// ships, the record table goes behind the payload and the headers in front
/// (``takeFrame(watermark:replacement:)``), so its bytes are not copied again on their way out. The builder assigns
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
    /// The message being built: ``frameHeaderBytes`` of room for the headers, then the payload.
    private var frame: [UInt8]
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
        frame = []
        frame.reserveCapacity(Self.frameCapacity(maxEvents: self.maxEvents, maxBytes: self.maxBytes,
                                                 maxEventBytes: self.maxEventBytes))
        frame.append(contentsOf: repeatElement(0, count: Self.frameHeaderBytes))
    }

    /// The bytes in front of a frame's payload: the message header and the batch header.
    public static let frameHeaderBytes = MessageHeader.byteCount + EventBatch.headerByteCount

    /// The capacity a frame needs for a full batch: headers, payload up to `maxBytes` plus one
    /// event over it, and the record table of `maxEvents` events.
    public static func frameCapacity(maxEvents: Int, maxBytes: Int, maxEventBytes: Int) -> Int {
        frameHeaderBytes + maxBytes + maxEventBytes + maxEvents * EventRecord.byteSize
    }

    /// This builder's ``frameCapacity(maxEvents:maxBytes:maxEventBytes:)``.
    public var frameCapacity: Int { Self.frameCapacity(maxEvents: maxEvents, maxBytes: maxBytes, maxEventBytes: maxEventBytes) }

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
    public var payloadByteCount: Int { frame.count - Self.frameHeaderBytes }
    /// The index the next appended event gets.
    public var nextIndex: UInt64 { next }
    /// Whether the batch reached `maxEvents` or `maxBytes`.
    public var isFull: Bool { records.count >= maxEvents || payloadByteCount >= maxBytes }

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
                                   length: UInt32(truncatingIfNeeded: record.count), offset: UInt64(payloadByteCount)))
        frame.append(contentsOf: record)
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
                               watermark: max(watermark, lastTime), records: records,
                               payload: Array(frame[Self.frameHeaderBytes...]))
        reset()
        return batch
    }

    /// Takes the pending events as one complete ``ControlMessage/eventBatch(_:)`` frame (the bytes
    /// ``ControlMessage/encode()`` gives the batch ``makeBatch(watermark:)`` would make): the record
    /// table is appended behind the payload already in the frame and the headers are written in
    /// front, so the payload is not copied. The builder goes on in `replacement` (emptied; give it
    /// the capacity of ``frameCapacity`` to log without allocating: a send pool's frame).
    /// - Returns: the frame, to be sent as it is.
    public mutating func takeFrame(watermark: UInt64, replacement: consuming [UInt8]) -> [UInt8] {
        let payloadBytes = payloadByteCount
        RawBytes.appendRecords(records, to: &frame)
        let total = frame.count
        let headers = headerFields(watermark: watermark)
        frame.withUnsafeMutableBytes { raw in
            Self.storeHeaders(headers, into: raw, totalBytes: total, payloadBytes: payloadBytes)
        }
        var out = consume replacement
        out.removeAll(keepingCapacity: true)
        swap(&out, &frame)
        frame.append(contentsOf: repeatElement(0, count: Self.frameHeaderBytes))
        reset()
        return out
    }

    /// The batch header's fields for the pending events.
    private func headerFields(watermark: UInt64) -> (story: UInt64, client: UInt64, watermark: UInt64, first: UInt32, count: UInt32) {
        (storyId.rawValue, clientId.rawValue, max(watermark, lastTime), batchFirstIndex, UInt32(truncatingIfNeeded: records.count))
    }

    /// Writes the message header and the batch header of a frame of `totalBytes` at the start of `raw`.
    private static func storeHeaders(_ h: (story: UInt64, client: UInt64, watermark: UInt64, first: UInt32, count: UInt32),
                                     into raw: UnsafeMutableRawBufferPointer, totalBytes: Int, payloadBytes: Int) {
        func store<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            raw.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        }
        store(MessageHeader.magic, 0)
        store(ChronoModelVersion.protocolVersion, 4)
        store(MessageType.eventBatch.rawValue, 6)
        store(UInt32(clamping: totalBytes - MessageHeader.byteCount), 8)
        store(UInt32(0), 12)
        let at = MessageHeader.byteCount
        store(h.story, at)
        store(h.client, at + 8)
        store(h.watermark, at + 16)
        store(h.first, at + 24)
        store(h.count, at + 28)
        store(UInt64(payloadBytes), at + 32)
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
        Self.frameHeaderBytes + records.count * EventRecord.byteSize + payloadByteCount
    }

    /// Writes the pending events as one complete ``ControlMessage/eventBatch(_:)`` frame (the bytes
    /// ``ControlMessage/encode()`` gives the batch ``makeBatch(watermark:)`` would make) at the start
    /// of `raw` (at least ``encodedMessageByteCount`` bytes), and empties the builder: a copy of the
    /// frame into other memory (a client sends the frame itself, ``takeFrame(watermark:replacement:)``).
    public mutating func encodeMessage(watermark: UInt64, into raw: UnsafeMutableRawBufferPointer) {
        let total = encodedMessageByteCount
        precondition(raw.count >= total, "an event batch of \(total) bytes does not fit \(raw.count)")
        let payloadBytes = payloadByteCount
        Self.storeHeaders(headerFields(watermark: watermark), into: raw, totalBytes: total, payloadBytes: payloadBytes)
        var at = Self.frameHeaderBytes
        frame.withUnsafeBytes { src in
            if payloadBytes > 0 {
                (raw.baseAddress! + at).copyMemory(from: src.baseAddress! + Self.frameHeaderBytes, byteCount: payloadBytes)
            }
        }
        at += payloadBytes
        RawBytes.storeRecords(records, 0..<records.count, rebasedBy: 0, into: raw, at: at)
        reset()
    }

    /// Drops the pending events without shipping them (e.g. after the story was destroyed).
    /// Their indexes stay used, so the keeper sees the gap.
    public mutating func discardPending() { reset() }

    private mutating func reset() {
        records.removeAll(keepingCapacity: true)
        frame.removeSubrange(Self.frameHeaderBytes...)
        batchFirstIndex = UInt32(truncatingIfNeeded: min(next, UInt64(UInt32.max)))
    }
}
