/// The stable 64-bit id of a chronicle: FNV-1a 64 (``StableHash``) of the chronicle name's UTF-8 bytes.
public struct ChronicleID: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The id.
    public let rawValue: UInt64

    /// Wraps a raw id (e.g. read from the wire or the archive).
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The id of `chronicle`.
    public init(_ chronicle: ChronicleName) {
        rawValue = StableHash.fnv1a64(chronicle.value.utf8)
    }

    /// Orders by raw value.
    public static func < (lhs: ChronicleID, rhs: ChronicleID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// 16 hex digits.
    public var description: String { StableHash.hex(rawValue) }
}
