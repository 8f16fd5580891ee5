/// The stable 64-bit id of a story: FNV-1a 64 (``StableHash``) over the chronicle name's UTF-8 bytes,
/// one `0x00` byte, then the story name's UTF-8 bytes.
///
/// Names never contain NUL (``NameRules``), so the separator makes the id depend on the split
/// (`"ab"/"c"` and `"a"/"bc"` differ). The id is the same on every rank and in every run.
public struct StoryID: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The id.
    public let rawValue: UInt64

    /// Wraps a raw id (e.g. read from the wire or the archive).
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The id of `story` in `chronicle`.
    public init(chronicle: ChronicleName, story: StoryName) {
        var hash = StableHash.fnv1a64(chronicle.value.utf8)
        hash = StableHash.fnv1a64(CollectionOfOne(0), seed: hash)
        rawValue = StableHash.fnv1a64(story.value.utf8, seed: hash)
    }

    /// Orders by raw value.
    public static func < (lhs: StoryID, rhs: StoryID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// 16 hex digits.
    public var description: String { StableHash.hex(rawValue) }
}
