/// ChronoLog's integer return codes, as seen at the C and Python boundary.
///
/// This enum is the single table of codes: raw value, ChronoLog name and a one-line summary.
/// Inside Swift, failures are ``ChronoLogError`` values; ``ChronoLogError/returnCode`` maps them here.
public enum ReturnCode: Int32, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// `CL_SUCCESS` (0).
    case success = 0
    /// `CL_ERR_UNKNOWN` (−1).
    case unknown = -1
    /// `CL_ERR_INVALID_ARG` (−2).
    case invalidArgument = -2
    /// `CL_ERR_NOT_EXIST` (−3).
    case notExist = -3
    /// `CL_ERR_ACQUIRED` (−4).
    case acquired = -4
    /// `CL_ERR_NOT_ACQUIRED` (−5).
    case notAcquired = -5
    /// `CL_ERR_CHRONICLE_EXISTS` (−6).
    case chronicleExists = -6
    /// `CL_ERR_NO_KEEPERS` (−7).
    case noKeepers = -7
    /// `CL_ERR_NO_CONNECTION` (−8).
    case noConnection = -8
    /// `CL_ERR_NOT_AUTHORIZED` (−9).
    case notAuthorized = -9
    /// `CL_ERR_NO_PLAYERS` (−10).
    case noPlayers = -10
    /// `CL_ERR_NOT_READER_MODE` (−11).
    case notReaderMode = -11
    /// `CL_ERR_QUERY_TIMED_OUT` (−12).
    case queryTimedOut = -12
    /// `CL_ERR_PROTOCOL_VERSION_MISMATCH` (−13).
    case protocolVersionMismatch = -13
    /// `CL_ERR_PARTIAL_RESULT` (−18, ChronoLog 3.2): a replay delivered what could be read, and
    /// some events of the range could not be (a damaged archive row, a killed writer's tail).
    case partialResult = -18

    /// The table: name and summary for every code. One place, read by ``name`` and ``summary``.
    private static let table: [ReturnCode: (name: String, summary: String)] = [
        .success: ("CL_SUCCESS", "success"),
        .unknown: ("CL_ERR_UNKNOWN", "unknown error"),
        .invalidArgument: ("CL_ERR_INVALID_ARG", "invalid argument"),
        .notExist: ("CL_ERR_NOT_EXIST", "chronicle or story does not exist"),
        .acquired: ("CL_ERR_ACQUIRED", "story is acquired"),
        .notAcquired: ("CL_ERR_NOT_ACQUIRED", "story is not acquired by this client"),
        .chronicleExists: ("CL_ERR_CHRONICLE_EXISTS", "chronicle already exists"),
        .noKeepers: ("CL_ERR_NO_KEEPERS", "no recording group (keepers) available"),
        .noConnection: ("CL_ERR_NO_CONNECTION", "not connected"),
        .notAuthorized: ("CL_ERR_NOT_AUTHORIZED", "not authorized"),
        .noPlayers: ("CL_ERR_NO_PLAYERS", "no player available"),
        .notReaderMode: ("CL_ERR_NOT_READER_MODE", "client is not in reader mode"),
        .queryTimedOut: ("CL_ERR_QUERY_TIMED_OUT", "query timed out"),
        .protocolVersionMismatch: ("CL_ERR_PROTOCOL_VERSION_MISMATCH", "protocol version mismatch"),
        .partialResult: ("CL_ERR_PARTIAL_RESULT", "partial result: some events of the range could not be read"),
    ]

    /// ChronoLog's name for the code, e.g. `CL_ERR_INVALID_ARG`.
    public var name: String { Self.table[self]?.name ?? "CL_ERR_UNKNOWN" }

    /// A short human-readable summary of the code.
    public var summary: String { Self.table[self]?.summary ?? "unknown error" }

    /// `NAME (value)`, e.g. `CL_ERR_NOT_EXIST (-3)`.
    public var description: String { "\(name) (\(rawValue))" }

    /// The code for an integer received from outside; unknown integers map to ``unknown``.
    public init(code: Int32) {
        self = ReturnCode(rawValue: code) ?? .unknown
    }
}
