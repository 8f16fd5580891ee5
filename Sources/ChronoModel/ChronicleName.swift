/// A validated chronicle name (see ``NameRules``).
///
/// Equality and hashing use the exact UTF-8 bytes, matching ``ChronicleID``.
public struct ChronicleName: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The name as given.
    public let value: String

    /// Validates `value`.
    /// - Throws: ``ChronoLogError/invalidName(kind:name:violation:)`` when a rule of ``NameRules`` is broken.
    public init(_ value: String) throws(ChronoLogError) {
        try NameRules.validate(value, as: .chronicle)
        self.value = value
    }

    /// The stable id of this chronicle.
    public var id: ChronicleID { ChronicleID(self) }

    /// A file-system-safe path component derived from the name and its id (see docs/MODEL.md):
    /// it cannot contain a separator or start with a dot, so it cannot escape an archive directory.
    public var pathComponent: String { NameRules.pathComponent(for: value, id: id.rawValue) }

    /// The name itself.
    public var description: String { value }

    /// Byte-wise equality of the UTF-8 encodings.
    public static func == (lhs: ChronicleName, rhs: ChronicleName) -> Bool {
        lhs.value.utf8.elementsEqual(rhs.value.utf8)
    }

    /// Hashes the UTF-8 bytes.
    public func hash(into hasher: inout Hasher) {
        for byte in value.utf8 { hasher.combine(byte) }
    }

    /// Byte-wise lexicographic order of the UTF-8 encodings (what `ShowChronicles` sorts by).
    public static func < (lhs: ChronicleName, rhs: ChronicleName) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
