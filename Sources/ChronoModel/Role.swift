/// The role a rank plays in a ChronoLog-Swift job: the one role type of the job's layout, its
/// messages and its summary.
public enum Role: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// ChronoVisor: metadata, client registry, story-to-group assignment (rank 0 of the service).
    case visor
    /// ChronoKeeper: ingests event batches from clients, seals partial story chunks.
    case keeper
    /// ChronoGrapher: merges its group's partial chunks and archives them (parallel HDF5).
    case grapher
    /// ChronoPlayer: serves replay queries from the archive and un-archived memory.
    case player
    /// A client (workload) rank: logs events through the client library.
    case client

    /// The roles of a recording group's processes, which register with the visor and send heartbeats.
    public static let recording: [Role] = [.keeper, .grapher, .player]

    /// Whether this is a recording process's role (keeper, grapher or player).
    public var isRecording: Bool { recordingCode != nil }

    /// The role's code in registrations and heartbeats: keeper 1, grapher 2, player 3; `nil` for
    /// the visor and clients, which send neither.
    public var recordingCode: UInt8? {
        switch self {
        case .keeper: 1
        case .grapher: 2
        case .player: 3
        case .visor, .client: nil
        }
    }

    /// The recording role of a code (``recordingCode``); `nil` for any other value.
    public init?(recordingCode: UInt8) {
        guard let role = Self.recording.first(where: { $0.recordingCode == recordingCode }) else { return nil }
        self = role
    }

    /// `visor`, `keeper`, `grapher`, `player` or `client`.
    public var description: String { rawValue }
}

extension WireReader {
    /// Reads a recording role's one-byte code (``Role/recordingCode``).
    mutating func recordingRole(_ field: String) throws(ChronoLogError) -> Role {
        let v = try u8()
        guard let role = Role(recordingCode: v) else { throw .malformedMessage(.invalidValue(field: field, value: UInt64(v))) }
        return role
    }
}
