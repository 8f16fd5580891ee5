/// A message body that knows its wire form (internal: the public entry points are on ``ControlMessage``).
protocol WireCodable {
    func write(to w: inout WireWriter)
    static func read(from r: inout WireReader) throws(ChronoLogError) -> Self
}

extension WireReader {
    /// Reads a one-byte enum value.
    mutating func enumValue<E: RawRepresentable>(_: E.Type, _ field: String) throws(ChronoLogError) -> E
    where E.RawValue == UInt8 {
        let v = try u8()
        guard let e = E(rawValue: v) else { throw .malformedMessage(.invalidValue(field: field, value: UInt64(v))) }
        return e
    }

    /// Reads a time range (two u64).
    mutating func timeRange() throws(ChronoLogError) -> TimeRange {
        TimeRange(start: try u64(), end: try u64())
    }
}
