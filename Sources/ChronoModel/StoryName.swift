/// A validated story name (see ``NameRules``).
///
/// Equality and hashing use the exact UTF-8 bytes, matching ``StoryID``.
public struct StoryName: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The name as given.
    public let value: String

    /// Validates `value`.
    /// - Throws: ``ChronoLogError/invalidName(kind:name:violation:)`` when a rule of ``NameRules`` is broken.
    public init(_ value: String) throws(ChronoLogError) {
        try NameRules.validate(value, as: .story)
        self.value = value
    }

    /// A file-system-safe path component for this story inside `chronicle` (see ``ChronicleName/pathComponent``).
    public func pathComponent(in chronicle: ChronicleName) -> String {
        NameRules.pathComponent(for: value, id: StoryID(chronicle: chronicle, story: self).rawValue)
    }

    /// The name itself.
    public var description: String { value }

    /// Byte-wise equality of the UTF-8 encodings.
    public static func == (lhs: StoryName, rhs: StoryName) -> Bool {
        lhs.value.utf8.elementsEqual(rhs.value.utf8)
    }

    /// Hashes the UTF-8 bytes.
    public func hash(into hasher: inout Hasher) {
        for byte in value.utf8 { hasher.combine(byte) }
    }

    /// Byte-wise lexicographic order of the UTF-8 encodings (what `ShowStories` sorts by).
    public static func < (lhs: StoryName, rhs: StoryName) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
