/// Reads little-endian fields from untrusted bytes (the decoding half of the wire codec).
///
/// Every read checks the remaining length first and throws ``ChronoLogError/malformedMessage(_:)``
/// instead of trapping; every length is checked against ``WireLimits`` and against the bytes that
/// remain before anything is allocated. Only valid inside the `withUnsafeBytes` call that made `raw`.
struct WireReader {
    let raw: UnsafeRawBufferPointer
    private(set) var position: Int
    let limits: WireLimits

    init(_ raw: UnsafeRawBufferPointer, limits: WireLimits, position: Int = 0) {
        self.raw = raw
        self.limits = limits
        self.position = position
    }

    var remaining: Int { raw.count - position }

    /// Throws `.truncated` unless `count` more bytes are available.
    func require(_ count: Int) throws(ChronoLogError) {
        guard count >= 0, count <= remaining else {
            throw .malformedMessage(.truncated(offset: position, needed: count, available: remaining))
        }
    }

    mutating func skip(_ count: Int) throws(ChronoLogError) {
        try require(count)
        position += count
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(ChronoLogError) -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        let value: T = RawBytes.loadLE(raw, position)
        position += size
        return value
    }

    mutating func u8() throws(ChronoLogError) -> UInt8 { try integer(UInt8.self) }
    mutating func u16() throws(ChronoLogError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(ChronoLogError) -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws(ChronoLogError) -> UInt64 { try integer(UInt64.self) }
    mutating func i32() throws(ChronoLogError) -> Int32 { try integer(Int32.self) }

    /// A byte that must be 0 or 1.
    mutating func bool(_ field: String) throws(ChronoLogError) -> Bool {
        let v = try u8()
        guard v <= 1 else { throw .malformedMessage(.invalidValue(field: field, value: UInt64(v))) }
        return v == 1
    }

    /// An i32 that must be one of the ``ReturnCode`` values.
    mutating func returnCode(_ field: String = "rc") throws(ChronoLogError) -> ReturnCode {
        let v = try i32()
        guard let rc = ReturnCode(rawValue: v) else {
            throw .malformedMessage(.invalidValue(field: field, value: UInt64(UInt32(bitPattern: v))))
        }
        return rc
    }

    /// Reads a count field and checks it against `limit` and against what could fit in the remaining
    /// bytes given the smallest encoded element size.
    mutating func count(_ field: String, limit: UInt64, minElementBytes: Int) throws(ChronoLogError) -> Int {
        let n = try u32()
        return try checkedCount(UInt64(n), field: field, limit: limit, minElementBytes: minElementBytes)
    }

    /// Checks a count already read.
    func checkedCount(_ n: UInt64, field: String, limit: UInt64, minElementBytes: Int) throws(ChronoLogError) -> Int {
        guard n <= limit else { throw .malformedMessage(.limitExceeded(field: field, value: n, limit: limit)) }
        let perElement = UInt64(max(minElementBytes, 0))
        let (need, overflow) = n.multipliedReportingOverflow(by: perElement)
        guard !overflow, need <= UInt64(remaining) else {
            throw .malformedMessage(.truncated(offset: position, needed: Int(clamping: need), available: remaining))
        }
        return Int(n)
    }

    /// u32 length + UTF-8 bytes.
    mutating func string(_ field: String) throws(ChronoLogError) -> String {
        let n = try count(field, limit: UInt64(limits.maxStringBytes), minElementBytes: 1)
        let slice = UnsafeRawBufferPointer(rebasing: raw[position..<(position + n)])
        guard let s = String(validating: slice.bindMemoryToUInt8(), as: UTF8.self) else {
            throw .malformedMessage(.invalidUTF8(field: field))
        }
        position += n
        return s
    }

    /// u32 length + bytes (at most `maxStringBytes`).
    mutating func blob(_ field: String) throws(ChronoLogError) -> [UInt8] {
        let n = try count(field, limit: UInt64(limits.maxStringBytes), minElementBytes: 1)
        let out = Array(UnsafeRawBufferPointer(rebasing: raw[position..<(position + n)]))
        position += n
        return out
    }

    mutating func strings(_ field: String) throws(ChronoLogError) -> [String] {
        let n = try count(field, limit: UInt64(limits.maxListCount), minElementBytes: 4)
        var list: [String] = []
        list.reserveCapacity(n)
        for _ in 0..<n { list.append(try string(field)) }
        return list
    }

    mutating func ranks(_ field: String) throws(ChronoLogError) -> [Int32] {
        let n = try count(field, limit: UInt64(limits.maxListCount), minElementBytes: 4)
        var list: [Int32] = []
        list.reserveCapacity(n)
        for _ in 0..<n { list.append(try i32()) }
        return list
    }

    /// Map of strings; keys must be strictly increasing by UTF-8 bytes (the only form the writer produces).
    mutating func attributes(_ field: String) throws(ChronoLogError) -> [String: String] {
        let n = try count(field, limit: UInt64(limits.maxMapCount), minElementBytes: 8)
        var map: [String: String] = [:]
        map.reserveCapacity(n)
        var previous: String? = nil
        for _ in 0..<n {
            let key = try string(field + ".key")
            try Self.checkIncreasing(previous, key, field: field)
            map[key] = try string(field + ".value")
            previous = key
        }
        return map
    }

    /// Counters: name (strictly increasing), aggregation, value.
    mutating func counters(_ field: String) throws(ChronoLogError) -> Counters {
        let n = try count(field, limit: UInt64(limits.maxMapCount), minElementBytes: 13)
        var map: Counters = [:]
        map.reserveCapacity(n)
        var previous: String? = nil
        for _ in 0..<n {
            let key = try string(field + ".key")
            try Self.checkIncreasing(previous, key, field: field)
            let aggregation = try enumValue(Counter.Aggregation.self, field + ".aggregation")
            map[Counter(key, aggregation)] = try u64()
            previous = key
        }
        return map
    }

    private static func checkIncreasing(_ previous: String?, _ key: String, field: String) throws(ChronoLogError) {
        if let previous, !previous.utf8.lexicographicallyPrecedes(key.utf8) {
            throw .malformedMessage(.inconsistent("\(field): keys not strictly increasing"))
        }
    }

    /// Throws `.trailingBytes` unless everything was consumed.
    func expectEnd() throws(ChronoLogError) {
        guard remaining == 0 else { throw .malformedMessage(.trailingBytes(count: remaining)) }
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes as `UInt8`s (raw memory is always bound to or layout-compatible with UInt8).
    func bindMemoryToUInt8() -> UnsafeBufferPointer<UInt8> {
        guard let base = baseAddress else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count)
    }
}
