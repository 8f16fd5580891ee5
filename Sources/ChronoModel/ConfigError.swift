/// A configuration problem, always naming the offending key (dotted path such as `client.batchEvents`,
/// or the environment variable / command-line argument it came from).
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem.
    public enum Problem: Sendable, Hashable {
        /// The key is not part of the configuration tree.
        case unknownKey
        /// The value has the wrong JSON type; the payload names the expected one.
        case typeMismatch(expected: String)
        /// The value has the right type but is out of range or not an allowed choice.
        case invalidValue(String)
        /// The file or text is not JSON at all.
        case unreadable(String)
    }

    /// The key (dotted path), environment variable or file concerned.
    public let key: String
    /// The problem.
    public let problem: Problem

    /// Creates a configuration error for `key`.
    public init(key: String, problem: Problem) {
        self.key = key
        self.problem = problem
    }

    /// `key: problem`, for logs and command-line tools.
    public var description: String {
        switch problem {
        case .unknownKey: return "unknown configuration key '\(key)'"
        case let .typeMismatch(expected): return "configuration key '\(key)' must be \(expected)"
        case let .invalidValue(why): return "configuration key '\(key)': \(why)"
        case let .unreadable(why): return "configuration '\(key)' is unreadable: \(why)"
        }
    }
}
