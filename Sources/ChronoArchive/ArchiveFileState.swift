/// What a file's commit record says about its end: closed cleanly, not closed (a writer was killed,
/// or is still writing), or no record (written before commit records existed).
public enum ArchiveFileState: Sendable, Hashable, CustomStringConvertible {
    /// The writer closed the file: every round is committed; any index row failing its check is damage.
    case closedCleanly(rounds: Int)
    /// The file was not closed: rounds `0 ..< committedRounds` are committed (reported durable); rows
    /// of later rounds that fail their check are a crash tail, never acknowledged.
    case notClosed(committedRounds: Int, rounds: Int)
    /// No commit record (written by an older version): an unreadable row in the file's last round
    /// cannot be told from a crash tail.
    case legacy(rounds: Int)

    /// One line for `verify`.
    public var description: String {
        switch self {
        case .closedCleanly(let rounds):
            "closed cleanly after \(rounds) round\(rounds == 1 ? "" : "s")"
        case .notClosed(let committed, let rounds):
            "not closed (writer killed or still writing): \(committed) of \(rounds) round\(rounds == 1 ? "" : "s") committed"
        case .legacy(let rounds):
            "no commit record (written before commit records; \(rounds) round\(rounds == 1 ? "" : "s")): "
                + "a damaged row of the last round cannot be told from a crash tail"
        }
    }
}
