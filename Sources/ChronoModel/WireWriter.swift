/// Appends little-endian fields to a byte array (the encoding half of the wire codec).
struct WireWriter {
    var bytes: [UInt8]

    init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    init(appendingTo bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { RawBytes.appendLE(v, to: &bytes) }
    mutating func u32(_ v: UInt32) { RawBytes.appendLE(v, to: &bytes) }
    mutating func u64(_ v: UInt64) { RawBytes.appendLE(v, to: &bytes) }
    mutating func i32(_ v: Int32) { RawBytes.appendLE(v, to: &bytes) }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func returnCode(_ rc: ReturnCode) { i32(rc.rawValue) }

    /// u32 byte length, then the UTF-8 bytes.
    mutating func string(_ s: String) {
        u32(UInt32(truncatingIfNeeded: s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    /// u32 byte length, then the bytes.
    mutating func blob(_ b: [UInt8]) {
        u32(UInt32(truncatingIfNeeded: b.count))
        bytes.append(contentsOf: b)
    }

    /// u32 count, then each string.
    mutating func strings(_ list: [String]) {
        u32(UInt32(truncatingIfNeeded: list.count))
        for s in list { string(s) }
    }

    /// u32 count, then each rank.
    mutating func ranks(_ list: [Int32]) {
        u32(UInt32(truncatingIfNeeded: list.count))
        for r in list { i32(r) }
    }

    /// u32 count, then (key, value) pairs sorted by the keys' UTF-8 bytes (deterministic output).
    mutating func attributes(_ map: [String: String]) {
        u32(UInt32(truncatingIfNeeded: map.count))
        for key in map.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            string(key)
            string(map[key] ?? "")
        }
    }

    /// u32 count, then (key, u64 value) pairs sorted by key bytes.
    mutating func counters(_ map: Counters) {
        u32(UInt32(truncatingIfNeeded: map.count))
        for counter in map.keys.sorted() {
            string(counter.name)
            u8(counter.aggregation.rawValue)
            u64(map[counter] ?? 0)
        }
    }
}
