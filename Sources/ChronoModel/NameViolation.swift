/// The rule of ``NameRules`` a rejected name broke.
public enum NameViolation: Sendable, Hashable, CustomStringConvertible {
    /// The name is empty.
    case empty
    /// The name is longer than ``NameRules/maxUTF8Bytes`` bytes of UTF-8.
    case tooLong(utf8Bytes: Int)
    /// The name contains a forbidden character (`/`, `\`, NUL, a control character, a line or paragraph separator).
    case forbiddenCharacter(Unicode.Scalar)
    /// The name is `.` or `..`.
    case dotName
    /// The name begins or ends with white space.
    case surroundingWhitespace

    /// A short explanation.
    public var description: String {
        switch self {
        case .empty: return "is empty"
        case let .tooLong(n): return "is \(n) UTF-8 bytes long (limit \(NameRules.maxUTF8Bytes))"
        case let .forbiddenCharacter(s):
            return "contains forbidden character U+\(String(s.value, radix: 16, uppercase: true))"
        case .dotName: return "is '.' or '..'"
        case .surroundingWhitespace: return "begins or ends with white space"
        }
    }
}
