/// Why a byte sequence is not a valid message, batch or chunk.
///
/// Carried by ``ChronoLogError/malformedMessage(_:)``. Every decoder in ChronoModel reports
/// bad input with one of these cases; none of them traps.
public enum WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The input ended early: `needed` more bytes were required at `offset`, only `available` remain.
    case truncated(offset: Int, needed: Int, available: Int)
    /// The first four bytes are not the expected magic number.
    case badMagic(expected: UInt32, got: UInt32)
    /// The message type number is not one this version knows.
    case unknownMessageType(UInt16)
    /// A length or count field exceeds its documented limit (see ``WireLimits``).
    case limitExceeded(field: String, value: UInt64, limit: UInt64)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A field holds a value outside its domain (unknown enum value, bad flag, inconsistent count...).
    case invalidValue(field: String, value: UInt64)
    /// Bytes are left after the last field of a body or layout.
    case trailingBytes(count: Int)
    /// Records of a batch or chunk violate an invariant (order, offsets, range, identity).
    case inconsistent(String)

    /// A one-line description for logs.
    public var description: String {
        switch self {
        case let .truncated(offset, needed, available):
            return "truncated at offset \(offset): need \(needed) bytes, \(available) available"
        case let .badMagic(expected, got):
            return "bad magic 0x\(String(got, radix: 16)), expected 0x\(String(expected, radix: 16))"
        case let .unknownMessageType(type): return "unknown message type \(type)"
        case let .limitExceeded(field, value, limit): return "\(field) = \(value) exceeds limit \(limit)"
        case let .invalidUTF8(field): return "\(field) is not valid UTF-8"
        case let .invalidValue(field, value): return "\(field) has invalid value \(value)"
        case let .trailingBytes(count): return "\(count) trailing bytes"
        case let .inconsistent(reason): return "inconsistent content: \(reason)"
        }
    }
}
