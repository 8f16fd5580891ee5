/// The rules every chronicle and story name obeys (documented in docs/MODEL.md).
///
/// A name is accepted when it is:
/// - non-empty and at most ``maxUTF8Bytes`` (255) bytes of UTF-8 — the POSIX `NAME_MAX`, so a name can
///   always be shown and stored whole;
/// - free of `/` and `\` (path separators on any platform), NUL, every control character (Unicode
///   category Cc: U+0000–U+001F, U+007F–U+009F), and the line/paragraph separators U+2028/U+2029;
/// - not `.` or `..`;
/// - without leading or trailing white space (names that differ only by invisible padding are refused).
///
/// Everything else is accepted, including emoji (and their zero-width-joiner sequences), other scripts
/// and inner spaces. Names are compared and hashed by their exact UTF-8 bytes (no Unicode normalization),
/// so two names that render alike but are encoded differently are different names.
public enum NameRules {
    /// The longest accepted name, in UTF-8 bytes.
    public static let maxUTF8Bytes = 255

    /// Checks `name` against the rules.
    /// - Returns: the first rule broken, or `nil` when the name is valid.
    public static func violation(in name: String) -> NameViolation? {
        let byteCount = name.utf8.count
        if byteCount == 0 { return .empty }
        if byteCount > maxUTF8Bytes { return .tooLong(utf8Bytes: byteCount) }
        if name == "." || name == ".." { return .dotName }
        for scalar in name.unicodeScalars where isForbidden(scalar) {
            return .forbiddenCharacter(scalar)
        }
        if let first = name.unicodeScalars.first, first.properties.isWhitespace { return .surroundingWhitespace }
        if let last = name.unicodeScalars.last, last.properties.isWhitespace { return .surroundingWhitespace }
        return nil
    }

    /// Validates `name` as a name of `kind`.
    /// - Throws: ``ChronoLogError/invalidName(kind:name:violation:)`` naming the rule broken.
    public static func validate(_ name: String, as kind: NameKind) throws(ChronoLogError) {
        if let violation = violation(in: name) {
            throw .invalidName(kind: kind, name: String(name.prefix(64)), violation: violation)
        }
    }

    /// Whether a scalar may never appear in a name.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x2F, 0x5C: return true  // '/' and '\'
        case 0x00...0x1F, 0x7F...0x9F: return true  // C0, DEL, C1 controls (includes NUL)
        case 0x2028, 0x2029: return true  // line and paragraph separators
        default: return false
        }
    }

    /// A file-system-safe path component for a validated name: up to 48 characters of the name with
    /// every byte outside `[A-Za-z0-9_-]` replaced by `_`, then `-` and the 16 lowercase hex digits of `id`.
    /// It never contains a separator, never starts with `.`, and is at most 65 bytes long; the id keeps it unique.
    static func pathComponent(for name: String, id: UInt64) -> String {
        var readable = ""
        for byte in name.utf8.prefix(48) {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                readable.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                readable.append("_")
            }
        }
        return readable + "-" + StableHash.hex(id)
    }
}
