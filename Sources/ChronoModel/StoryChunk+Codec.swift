extension StoryChunk {
    /// Magic number opening an encoded chunk: the bytes `C L C K`.
    public static let layoutMagic: UInt32 = 0x4B43_4C43
    /// Size of the chunk layout header in bytes.
    public static let headerByteCount = 56

    /// Size of ``encode()``'s output: header + 32 bytes per record + payload.
    public var encodedByteCount: Int { Self.headerByteCount + records.count * EventRecord.byteSize + payload.count }

    /// Encodes the chunk in its one contiguous layout (also what is moved by RMA and stored by the archive):
    ///
    /// | offset | size | field |
    /// |---|---|---|
    /// | 0 | 4 | magic `CLCK` |
    /// | 4 | 2 | layout version (1) |
    /// | 6 | 2 | flags (0) |
    /// | 8 | 8 | story id |
    /// | 16 | 8 | range start |
    /// | 24 | 8 | range end |
    /// | 32 | 4 | revision |
    /// | 36 | 4 | reserved (0) |
    /// | 40 | 8 | event count *n* |
    /// | 48 | 8 | payload byte count *p* |
    /// | 56 | 32·*n* | record table (``EventRecord``) |
    /// | 56 + 32·*n* | *p* | payload |
    ///
    /// All little-endian. Cost: two bulk copies.
    public func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedByteCount)
        encode(into: &bytes)
        return bytes
    }

    /// Appends the encoded chunk to `bytes` (no allocation when `bytes` has the capacity).
    public func encode(into bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + encodedByteCount)
        var w = WireWriter(appendingTo: [])
        swap(&w.bytes, &bytes)
        w.u32(Self.layoutMagic)
        w.u16(ChronoModelVersion.chunkLayoutVersion)
        w.u16(0)
        w.u64(storyId.rawValue)
        w.u64(range.start)
        w.u64(range.end)
        w.u32(revision)
        w.u32(0)
        w.u64(UInt64(records.count))
        w.u64(UInt64(payload.count))
        RawBytes.appendRecords(records, to: &w.bytes)
        w.bytes.append(contentsOf: payload)
        swap(&w.bytes, &bytes)
    }

    /// Size of the encoding of the events at `positions` as a chunk of their own (see ``encode(_:into:)``).
    public func encodedByteCount(of positions: Range<Int>) -> Int {
        guard !positions.isEmpty else { return Self.headerByteCount }
        let first = records[positions.lowerBound], last = records[positions.upperBound - 1]
        return Self.headerByteCount + positions.count * EventRecord.byteSize
            + Int(last.offset + UInt64(last.length) - first.offset)
    }

    /// Encodes the events at `positions` as a chunk of the same story, range and revision straight
    /// into `destination` (for instance registered memory that a peer then reads by RMA), with their
    /// payload offsets rebased to 0 — byte for byte what ``encode()`` gives for the chunk holding
    /// only those events. All positions encode the whole chunk. Two bulk copies, no allocation.
    /// - Returns: the number of bytes written (``encodedByteCount(of:)``).
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if `positions` is not inside the chunk or
    ///   `destination` is too small (nothing is written then).
    @discardableResult
    public func encode(_ positions: Range<Int>, into destination: UnsafeMutableRawBufferPointer) throws(ChronoLogError) -> Int {
        guard positions.lowerBound >= 0, positions.upperBound <= records.count else {
            throw .invalidArgument("positions \(positions) outside a chunk of \(records.count) events")
        }
        let size = encodedByteCount(of: positions)
        guard destination.count >= size else {
            throw .invalidArgument("\(size) encoded bytes do not fit in \(destination.count)")
        }
        let payloadStart = positions.isEmpty ? 0 : Int(records[positions.lowerBound].offset)
        let payloadBytes = size - Self.headerByteCount - positions.count * EventRecord.byteSize
        Self.storeHeader(into: destination, storyId: storyId, range: range, revision: revision, eventCount: positions.count,
                         payloadBytes: payloadBytes)
        RawBytes.storeRecords(records, positions, rebasedBy: UInt64(payloadStart), into: destination, at: Self.headerByteCount)
        RawBytes.storeBytes(payload, payloadStart..<(payloadStart + payloadBytes), into: destination,
                            at: Self.headerByteCount + positions.count * EventRecord.byteSize)
        return size
    }

    /// Subtracts `base` from the payload offset of each of the `count` records of the encoded
    /// chunk in `raw` (a piece whose record table was read from a larger chunk, whose offsets count
    /// from that chunk's payload). Offsets below `base` wrap around, and the decoder then refuses
    /// the piece as inconsistent. Records past the end of `raw` are left alone.
    public static func rebaseRecordOffsets(in raw: UnsafeMutableRawBufferPointer, count: Int, by base: UInt64) {
        guard base != 0, count > 0 else { return }
        let fit = min(count, max(0, (raw.count - headerByteCount) / EventRecord.byteSize))
        for i in 0..<fit {
            let at = headerByteCount + i * EventRecord.byteSize + 24  // the record's `offset` field
            let offset = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            raw.storeBytes(of: (offset &- base).littleEndian, toByteOffset: at, as: UInt64.self)
        }
    }

    /// A record table in its wire layout (32 little-endian bytes per record, as in ``encode()``).
    public static func wireRecordTable(_ records: [EventRecord]) -> [UInt8] {
        var bytes: [UInt8] = []
        RawBytes.appendRecords(records, to: &bytes)
        return bytes
    }

    /// Writes the layout header (the first ``headerByteCount`` bytes of ``encode()``) at the start of
    /// `destination`, for a producer that fills the record table and payload itself (the archive
    /// reader reads them straight from the file into registered memory).
    /// - Precondition: `destination` holds at least ``headerByteCount`` bytes.
    public static func storeHeader(into destination: UnsafeMutableRawBufferPointer, storyId: StoryID, range: TimeRange,
                                   revision: UInt32, eventCount: Int, payloadBytes: Int) {
        RawBytes.storeChunkHeader(
            into: destination, story: storyId.rawValue, range: range, revision: revision,
            layoutVersion: ChronoModelVersion.chunkLayoutVersion, magic: layoutMagic,
            count: eventCount, payloadBytes: payloadBytes)
    }

    /// Encodes the whole chunk straight into `destination`; see ``encode(_:into:)``.
    /// - Returns: the number of bytes written (``encodedByteCount``).
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if `destination` is too small.
    @discardableResult
    public func encode(into destination: UnsafeMutableRawBufferPointer) throws(ChronoLogError) -> Int {
        try encode(0..<records.count, into: destination)
    }

    /// Decodes a chunk produced by ``encode()``, checking every invariant of the canonical form.
    /// - Throws: ``ChronoLogError/malformedMessage(_:)`` for truncated, oversized, trailing or inconsistent
    ///   input; ``ChronoLogError/protocolVersionMismatch(expected:got:)`` for another layout version. Never traps.
    public static func decode<C: Collection>(_ bytes: C, limits: WireLimits = .default) throws(ChronoLogError) -> StoryChunk
    where C.Element == UInt8 {
        let result: Result<StoryChunk, ChronoLogError> = RawBytes.withBytes(bytes) { raw in
            Result { () throws(ChronoLogError) -> StoryChunk in try decode(raw: raw, limits: limits) }
        }
        return try result.get()
    }

    /// Decodes a chunk from raw memory (e.g. a buffer filled by an RMA read). Same checks as ``decode(_:limits:)``.
    public static func decode(raw: UnsafeRawBufferPointer, limits: WireLimits = .default) throws(ChronoLogError) -> StoryChunk {
        var reader = WireReader(raw, limits: limits)
        let chunk = try read(from: &reader)
        try reader.expectEnd()
        return chunk
    }

    /// Replaces `self` with the chunk decoded from `raw`, reusing `self`'s storage: once its capacity
    /// suffices (and it is not shared), decoding allocates nothing. Same checks as ``decode(_:limits:)``.
    /// - Throws: like ``decode(_:limits:)``; `self` is then empty.
    public mutating func assign(decoding raw: UnsafeRawBufferPointer, limits: WireLimits = .default) throws(ChronoLogError) {
        var reader = WireReader(raw, limits: limits)
        do {
            try Self.read(from: &reader, into: &self)
            try reader.expectEnd()
        } catch {
            removeAllEvents()
            throw error
        }
    }

    /// Replaces `self` with a chunk received in two parts: `receive` writes the payload (exactly
    /// `payloadByteCount` bytes) straight into the chunk's own storage — e.g. by an RMA read from
    /// the sender's memory, so the bulk of a chunk is never copied on the way — and returns the
    /// head: the encoded layout of ``encode()`` up to the payload (header and record table).
    /// Reuses `self`'s storage as ``assign(decoding:limits:)`` does, and checks the same, plus that
    /// the header announces exactly `payloadByteCount` payload bytes. The payload's bytes are not
    /// looked at (they are opaque records).
    /// - Throws: ``ChronoLogError/malformedMessage(_:)`` like ``decode(_:limits:)`` (also for a
    ///   `payloadByteCount` over the limits), or what `receive` throws; `self` is then empty.
    public mutating func assign(payloadByteCount: Int, limits: WireLimits = .default,
                                receive: (UnsafeMutableRawBufferPointer) throws(ChronoLogError) -> UnsafeRawBufferPointer) throws(ChronoLogError) {
        do throws(ChronoLogError) {
            guard payloadByteCount >= 0, UInt64(payloadByteCount) <= limits.maxBodyBytes else {
                throw .malformedMessage(.limitExceeded(field: "chunk.payloadBytes", value: UInt64(max(0, payloadByteCount)),
                                                      limit: limits.maxBodyBytes))
            }
            let (story, range, revision) = try withStorage { (records: inout [EventRecord], payload: inout [UInt8]) throws(ChronoLogError) in
                MergeKernel.resize(&payload, to: payloadByteCount)
                let received: Result<UnsafeRawBufferPointer, ChronoLogError> = payload.withUnsafeMutableBytes { raw in
                    Result { () throws(ChronoLogError) in try receive(raw) }
                }
                let head = try received.get()
                var r = WireReader(head, limits: limits)
                let header = try Self.readHeader(from: &r, payloadFollows: false)
                guard header.payloadCount == payloadByteCount else {
                    throw .malformedMessage(.inconsistent("chunk header announces \(header.payloadCount) payload bytes, \(payloadByteCount) arrived"))
                }
                RawBytes.readRecords(r.raw, offset: r.position, count: header.count, into: &records)
                try r.skip(header.count * EventRecord.byteSize)
                try r.expectEnd()
                try Self.checkRecords(records, payloadCount: header.payloadCount, range: header.range, limits: r.limits)
                return (header.story, header.range, header.revision)
            }
            setUnchecked(storyId: story, range: range, revision: revision)
        } catch {
            removeAllEvents()
            throw error
        }
    }

    /// Reads one encoded chunk at the reader's position into `chunk`'s storage.
    static func read(from r: inout WireReader, into chunk: inout StoryChunk) throws(ChronoLogError) {
        let header = try readHeader(from: &r)
        try chunk.withStorage { (records: inout [EventRecord], payload: inout [UInt8]) throws(ChronoLogError) in
            RawBytes.readRecords(r.raw, offset: r.position, count: header.count, into: &records)
            try r.skip(header.count * EventRecord.byteSize)
            try checkRecords(records, payloadCount: header.payloadCount, range: header.range, limits: r.limits)
            // One bulk copy into the kept capacity (the bounds were checked by readHeader).
            payload.removeAll(keepingCapacity: true)
            payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: r.raw[r.position..<(r.position + header.payloadCount)]))
            try r.skip(header.payloadCount)
        }
        chunk.setUnchecked(storyId: header.story, range: header.range, revision: header.revision)
    }

    /// Reads one encoded chunk at the reader's position.
    static func read(from r: inout WireReader) throws(ChronoLogError) -> StoryChunk {
        let header = try readHeader(from: &r)
        let records = RawBytes.readRecords(r.raw, offset: r.position, count: header.count)
        try r.skip(header.count * EventRecord.byteSize)
        try checkRecords(records, payloadCount: header.payloadCount, range: header.range, limits: r.limits)
        let payload = RawBytes.copyBytes(r.raw, offset: r.position, count: header.payloadCount)
        try r.skip(header.payloadCount)
        return StoryChunk(unchecked: header.story, range: header.range, revision: header.revision, records: records, payload: payload)
    }

    /// The fixed header of the layout, with the counts checked against the limits and the remaining bytes.
    /// - Parameter payloadFollows: whether the payload is in the reader after the records (false:
    ///   it travels apart, see ``assign(payloadByteCount:limits:receive:)``).
    private static func readHeader(from r: inout WireReader, payloadFollows: Bool = true) throws(ChronoLogError)
        -> (story: StoryID, range: TimeRange, revision: UInt32, count: Int, payloadCount: Int) {
        let magic = try r.u32()
        guard magic == layoutMagic else { throw .malformedMessage(.badMagic(expected: layoutMagic, got: magic)) }
        let version = try r.u16()
        guard version == ChronoModelVersion.chunkLayoutVersion else {
            throw .protocolVersionMismatch(expected: ChronoModelVersion.chunkLayoutVersion, got: version)
        }
        let flags = try r.u16()
        guard flags == 0 else { throw .malformedMessage(.invalidValue(field: "chunk.flags", value: UInt64(flags))) }
        let story = StoryID(rawValue: try r.u64())
        let range = TimeRange(start: try r.u64(), end: try r.u64())
        guard !range.isEmpty else {
            throw .malformedMessage(.inconsistent("chunk range \(range) is empty"))
        }
        let revision = try r.u32()
        let reserved = try r.u32()
        guard reserved == 0 else { throw .malformedMessage(.invalidValue(field: "chunk.reserved", value: UInt64(reserved))) }
        let eventCount = try r.u64()
        let payloadCount = try r.u64()
        let n = try r.checkedCount(eventCount, field: "chunk.eventCount", limit: r.limits.maxEvents,
                                   minElementBytes: EventRecord.byteSize)
        let total = UInt64(headerByteCount) + UInt64(n) * UInt64(EventRecord.byteSize)
        guard total <= r.limits.maxBodyBytes, payloadCount <= r.limits.maxBodyBytes - total else {
            throw .malformedMessage(.limitExceeded(field: "chunk.payloadBytes", value: payloadCount,
                                                  limit: r.limits.maxBodyBytes))
        }
        // Payload must fit after the records.
        let afterRecords = r.remaining - n * EventRecord.byteSize
        guard !payloadFollows || payloadCount <= UInt64(afterRecords) else {
            throw .malformedMessage(.truncated(offset: r.position + n * EventRecord.byteSize,
                                               needed: Int(clamping: payloadCount), available: afterRecords))
        }
        return (story, range, revision, n, Int(payloadCount))
    }

    private static func checkRecords<Records: RandomAccessCollection<EventRecord>>(
        _ records: Records, payloadCount: Int, range: TimeRange, limits: WireLimits
    ) throws(ChronoLogError) {
        for record in records where record.length > limits.maxEventBytes {
            throw .malformedMessage(.limitExceeded(field: "event.length", value: UInt64(record.length),
                                                  limit: UInt64(limits.maxEventBytes)))
        }
        try checkCanonical(records: records, payloadCount: payloadCount, range: range)
    }
}
