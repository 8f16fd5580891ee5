import ChronoModel

/// Conversions between `EventRecord` tables and the stored `events` rows (32 little-endian bytes
/// each). On little-endian machines (`EventRecord.hasNativeWireLayout`) the table's own memory is
/// the stored form; elsewhere the fields are copied one by one.
enum RecordRows {
    /// Calls `body` with the stored bytes of `records`.
    static func withStoredBytes<R>(_ records: [EventRecord], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if EventRecord.hasNativeWireLayout {
            return try records.withUnsafeBytes(body)
        }
        let bytes = encode(records)
        return try bytes.withUnsafeBytes(body)
    }

    /// `ArchiveChecksum` of the stored bytes of `records[rows]`.
    static func hash(_ records: [EventRecord], _ rows: Range<Int>) -> UInt64 {
        if EventRecord.hasNativeWireLayout {
            return records.withUnsafeBytes { raw in
                ArchiveChecksum.hash(UnsafeRawBufferPointer(rebasing: raw[(rows.lowerBound * EventRecord.byteSize)..<(rows.upperBound * EventRecord.byteSize)]))
            }
        }
        return ArchiveChecksum.hash(encode(Array(records[rows])))
    }

    /// The stored bytes of `records`, field by field.
    static func encode(_ records: [EventRecord]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records.count * EventRecord.byteSize)
        func put<T: FixedWidthInteger>(_ v: T) {
            withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
        }
        for r in records {
            put(r.time)
            put(r.clientId)
            put(r.index)
            put(r.length)
            put(r.offset)
        }
        return out
    }

    /// The stored row `i` of `raw`.
    static func record(_ raw: UnsafeRawBufferPointer, at i: Int) -> EventRecord {
        let at = i * EventRecord.byteSize
        return EventRecord(
            time: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)),
            clientId: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self)),
            index: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 16, as: UInt32.self)),
            length: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 20, as: UInt32.self)),
            offset: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 24, as: UInt64.self)))
    }

    /// Adds `delta` (modulo 2⁶⁴) to the offset of every stored row in `raw`, in place.
    static func rebaseOffsets(_ raw: UnsafeMutableRawBufferPointer, by delta: UInt64) {
        var at = 24
        while at + 8 <= raw.count {
            let offset = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            raw.storeBytes(of: (offset &+ delta).littleEndian, toByteOffset: at, as: UInt64.self)
            at += EventRecord.byteSize
        }
    }

    /// Decodes stored rows (a whole number of 32-byte rows).
    static func decode(_ bytes: UnsafeRawBufferPointer) -> [EventRecord] {
        let n = bytes.count / EventRecord.byteSize
        var out = [EventRecord](repeating: EventRecord(time: 0, clientId: 0, index: 0, length: 0, offset: 0), count: n)
        guard let base = bytes.baseAddress else { return out }
        if EventRecord.hasNativeWireLayout {
            out.withUnsafeMutableBytes { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: base, count: n * EventRecord.byteSize))
            }
            return out
        }
        for i in 0..<n { out[i] = record(bytes, at: i) }
        return out
    }
}

/// A minimal little-endian byte writer for the round plan exchanged between ranks.
struct PlanWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func blob(_ b: [UInt8]) {
        u32(UInt32(truncatingIfNeeded: b.count))
        bytes.append(contentsOf: b)
    }
}

/// Reads what `PlanWriter` wrote; every read is bounds-checked (`nil` past the end).
struct PlanReader {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    mutating func u8() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u32() -> UInt32? {
        guard bytes.count - position >= 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func u64() -> UInt64? {
        guard bytes.count - position >= 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    mutating func blob() -> [UInt8]? {
        guard let n = u32(), bytes.count - position >= Int(n) else { return nil }
        defer { position += Int(n) }
        return Array(bytes[position..<(position + Int(n))])
    }
}
