/// Which kind of name is being validated.
public enum NameKind: String, Sendable, Hashable, CustomStringConvertible {
    /// A chronicle name.
    case chronicle
    /// A story name.
    case story

    /// `chronicle` or `story`.
    public var description: String { rawValue }
}
