/// The one error type of ChronoLog-Swift.
///
/// Every failure that can cross a module boundary is a case of this enum, with a payload that says
/// what went wrong. ``returnCode`` maps each case to ChronoLog's integer code (see ``ReturnCode``),
/// which is what the C ABI and the Python module return.
public enum ChronoLogError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Something failed for a reason none of the other cases describes. Code −1.
    case unknown(String)
    /// An argument was rejected; the payload says which and why. Code −2.
    case invalidArgument(String)
    /// A chronicle or story name broke a rule of ``NameRules``. Code −2.
    case invalidName(kind: NameKind, name: String, violation: NameViolation)
    /// A configuration key is unknown, mistyped or out of range. Code −2.
    case invalidConfiguration(ConfigError)
    /// Bytes received from a peer do not decode. Code −2.
    case malformedMessage(WireError)
    /// An event was refused by the story pipeline (too large, too late under the reject policy...). Code −2.
    case eventRejected(String)
    /// The named chronicle does not exist. Code −3.
    case chronicleNotFound(String)
    /// The named story does not exist in the chronicle. Code −3.
    case storyNotFound(chronicle: String, story: String)
    /// The story is acquired (cannot be destroyed, or its chronicle cannot). Code −4.
    case storyAcquired(chronicle: String, story: String)
    /// The story is not acquired by this client. Code −5.
    case storyNotAcquired(chronicle: String, story: String)
    /// A chronicle with that name already exists. Code −6.
    case chronicleExists(String)
    /// No recording group (keepers) is available to record a story. Code −7.
    case noKeepers
    /// The client is not connected, or the peer is unreachable. Code −8.
    case noConnection(String)
    /// The caller may not perform the operation. Code −9.
    case notAuthorized(String)
    /// No player is available to serve a replay. Code −10.
    case noPlayers
    /// Replay was called on a client created in writer-only mode. Code −11.
    case notReaderMode
    /// A replay query did not complete within its timeout. Code −12.
    case queryTimedOut(queryId: UInt64)
    /// The peer speaks another protocol version. Code −13.
    case protocolVersionMismatch(expected: UInt16, got: UInt16)
    /// A replay delivered what could be read; the payload says what could not. Code −18.
    case partialResult(String)

    /// ChronoLog's integer code for this error.
    public var returnCode: ReturnCode {
        switch self {
        case .unknown: return .unknown
        case .invalidArgument, .invalidName, .invalidConfiguration, .malformedMessage, .eventRejected:
            return .invalidArgument
        case .chronicleNotFound, .storyNotFound: return .notExist
        case .storyAcquired: return .acquired
        case .storyNotAcquired: return .notAcquired
        case .chronicleExists: return .chronicleExists
        case .noKeepers: return .noKeepers
        case .noConnection: return .noConnection
        case .notAuthorized: return .notAuthorized
        case .noPlayers: return .noPlayers
        case .notReaderMode: return .notReaderMode
        case .queryTimedOut: return .queryTimedOut
        case .protocolVersionMismatch: return .protocolVersionMismatch
        case .partialResult: return .partialResult
        }
    }

    /// The detail a reply carries for this error (``GenericReply/init(_:)``): what
    /// ``init(code:detail:)`` needs to rebuild it. For a chronicle or story error the names
    /// (`chronicle/story`: names never contain `/`), for the others the text after the code name
    /// of ``description`` — never the whole description, which the rebuilt error would nest in its own.
    public var replyDetail: String {
        switch self {
        case let .unknown(s), let .invalidArgument(s), let .noConnection(s), let .notAuthorized(s), let .partialResult(s): return s
        case let .chronicleNotFound(c), let .chronicleExists(c): return c
        case let .storyNotFound(c, s), let .storyAcquired(c, s), let .storyNotAcquired(c, s): return c + "/" + s
        case let .queryTimedOut(id): return "\(id)"
        case .noKeepers, .noPlayers, .notReaderMode: return ""
        case .invalidName, .invalidConfiguration, .malformedMessage, .eventRejected, .protocolVersionMismatch:
            return String(description.dropFirst(returnCode.name.count + 2))
        }
    }

    /// Rebuilds an error from a code and the ``replyDetail`` received in a reply (the inverse of
    /// ``returnCode`` up to the payload). Returns `nil` for ``ReturnCode/success``.
    public init?(code: ReturnCode, detail: String) {
        /// `chronicle/story` split at its first `/`; a bare chronicle name has no story.
        func names() -> (String, String) {
            guard let slash = detail.firstIndex(of: "/") else { return (detail, "") }
            return (String(detail[..<slash]), String(detail[detail.index(after: slash)...]))
        }
        switch code {
        case .success: return nil
        case .unknown: self = .unknown(detail)
        case .invalidArgument: self = .invalidArgument(detail)
        case .notExist:
            let (c, s) = names()
            self = detail.contains("/") ? .storyNotFound(chronicle: c, story: s) : .chronicleNotFound(c)
        case .acquired: self = .storyAcquired(chronicle: names().0, story: names().1)
        case .notAcquired: self = .storyNotAcquired(chronicle: names().0, story: names().1)
        case .chronicleExists: self = .chronicleExists(detail)
        case .noKeepers: self = .noKeepers
        case .noConnection: self = .noConnection(detail)
        case .notAuthorized: self = .notAuthorized(detail)
        case .noPlayers: self = .noPlayers
        case .notReaderMode: self = .notReaderMode
        case .queryTimedOut: self = .queryTimedOut(queryId: UInt64(detail) ?? 0)
        case .protocolVersionMismatch:
            self = .protocolVersionMismatch(expected: ChronoModelVersion.protocolVersion, got: 0)
        case .partialResult: self = .partialResult(detail)
        }
    }

    /// A one-line description: the code name followed by the payload.
    public var description: String {
        let what: String
        switch self {
        case let .unknown(s): what = s
        case let .invalidArgument(s): what = s
        case let .invalidName(kind, name, violation): what = "\(kind) name \(name.debugDescription): \(violation)"
        case let .invalidConfiguration(e): what = e.description
        case let .malformedMessage(e): what = "malformed message: \(e)"
        case let .eventRejected(s): what = "event rejected: \(s)"
        case let .chronicleNotFound(c): what = "chronicle \(c.debugDescription) does not exist"
        case let .storyNotFound(c, s): what = "story \(s.debugDescription) does not exist in \(c.debugDescription)"
        case let .storyAcquired(c, s): what = "story \(s.debugDescription) of \(c.debugDescription) is acquired"
        case let .storyNotAcquired(c, s): what = "story \(s.debugDescription) of \(c.debugDescription) is not acquired"
        case let .chronicleExists(c): what = "chronicle \(c.debugDescription) already exists"
        case .noKeepers: what = "no recording group available"
        case let .noConnection(s): what = "no connection: \(s)"
        case let .notAuthorized(s): what = "not authorized: \(s)"
        case .noPlayers: what = "no player available"
        case .notReaderMode: what = "client is not in reader mode"
        case let .queryTimedOut(id): what = "query \(id) timed out"
        case let .protocolVersionMismatch(expected, got): what = "protocol version \(got), expected \(expected)"
        case let .partialResult(s): what = "partial result: \(s)"
        }
        return "\(returnCode.name): \(what)"
    }
}
