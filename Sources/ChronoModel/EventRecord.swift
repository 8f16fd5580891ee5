/// The fixed 32-byte record that describes one event inside a batch, chunk, transfer or archive.
///
/// Wire and archive layout (little-endian, no padding):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | `time` (ns) |
/// | 8 | 8 | `clientId` |
/// | 16 | 4 | `index` |
/// | 20 | 4 | `length` of the record bytes |
/// | 24 | 8 | `offset` of the record bytes in the payload area |
///
/// In memory, arrays of `EventRecord` have this exact layout on little-endian machines (checked at run
/// time by ``hasNativeWireLayout``), so encoding a record table is a single copy.
public struct EventRecord: Sendable, Hashable {
    /// Timestamp in nanoseconds.
    public var time: UInt64
    /// Raw client id.
    public var clientId: UInt64
    /// Per-client, per-story index.
    public var index: UInt32
    /// Number of record bytes.
    public var length: UInt32
    /// Offset of the record bytes in the payload area.
    public var offset: UInt64

    /// Size of one encoded record: 32 bytes.
    public static let byteSize = 32

    /// Creates a record.
    @inlinable
    public init(time: UInt64, clientId: UInt64, index: UInt32, length: UInt32, offset: UInt64) {
        self.time = time
        self.clientId = clientId
        self.index = index
        self.length = length
        self.offset = offset
    }

    /// The event key of this record.
    @inlinable
    public var key: EventKey { EventKey(time: time, clientId: ClientID(rawValue: clientId), index: index) }

    /// Event order on records (time, clientId, index), without building keys.
    @inlinable @inline(__always)
    public static func precedes(_ a: EventRecord, _ b: EventRecord) -> Bool {
        if a.time != b.time { return a.time < b.time }
        if a.clientId != b.clientId { return a.clientId < b.clientId }
        return a.index < b.index
    }

    /// Whether two records have the same key (same event).
    @inlinable @inline(__always)
    public static func sameKey(_ a: EventRecord, _ b: EventRecord) -> Bool {
        a.time == b.time && a.clientId == b.clientId && a.index == b.index
    }

    /// Whether the in-memory layout of `EventRecord` equals the wire layout on this machine
    /// (little-endian, stride 32, fields at 0/8/16/20/24). When false, codecs fall back to per-field copies.
    public static let hasNativeWireLayout: Bool = {
        MemoryLayout<EventRecord>.size == 32 && MemoryLayout<EventRecord>.stride == 32
            && MemoryLayout<EventRecord>.offset(of: \EventRecord.time) == 0
            && MemoryLayout<EventRecord>.offset(of: \EventRecord.clientId) == 8
            && MemoryLayout<EventRecord>.offset(of: \EventRecord.index) == 16
            && MemoryLayout<EventRecord>.offset(of: \EventRecord.length) == 20
            && MemoryLayout<EventRecord>.offset(of: \EventRecord.offset) == 24
            && UInt32(1).littleEndian == 1
    }()
}

extension Array where Element == EventRecord {
    /// The position of the first record whose time is ≥ `time` (`count` if none), for records in
    /// time order (binary search; O(log n)).
    public func firstPosition(atOrAfter time: UInt64) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if self[mid].time < time { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
