/// The role of a recording process in a recording group.
public enum ProcessRole: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Receives client batches and seals per-keeper story chunks.
    case keeper = 1
    /// Merges the keepers' chunks of its group and writes the archive.
    case grapher = 2
    /// Serves replay queries.
    case player = 3

    /// `keeper`, `grapher` or `player`.
    public var description: String {
        switch self {
        case .keeper: return "keeper"
        case .grapher: return "grapher"
        case .player: return "player"
        }
    }
}
