import ChronoRuntime
import ChronoModel
import DequeModule
import Logging

/// A grapher's archive leases. The archive file is consistent on disk only between the graphers'
/// collective rounds (each ends with a flush), so a player that reads it asks its grapher for a
/// lease: granted once no round is in progress, and no round starts until the player releases it.
/// Rounds are collective, so one grapher holding a lease holds every grapher's next round.
///
/// A player keeps a lease while it has more to read; when a round falls due the grapher recalls the
/// current lease and grants no new one until that round ran, so replays never hold rounds off for
/// long. A short query that asks while a round is due and no lease is held still goes first (it
/// releases within milliseconds; a round can take tens), so fresh events stay quick to see. A
/// lease not released within ``maxHold`` (a player that died or hangs) expires, so the archive
/// never stalls.
struct ArchiveLeases {
    private struct Lease {
        let id: UInt64
        let player: Int
        let expires: ContinuousClock.Instant
        var recalled = false
    }

    /// How long a lease may be held before it expires (``ChronoConfig/archiveLeaseExpiry``).
    static let maxHold = ChronoConfig.archiveLeaseExpiry

    private var current: Lease?
    private var requests: Deque<(id: UInt64, player: Int)> = []
    /// Leases granted since start.
    private(set) var granted: UInt64 = 0
    /// Leases that expired without a release.
    private(set) var expired: UInt64 = 0
    /// Leases recalled for a round that was due.
    private(set) var recalled: UInt64 = 0
    /// A lease was recalled for the round that is due: no new lease until that round ran.
    private(set) var roundWaiting = false

    /// Whether a lease is held (no round may start).
    var isHeld: Bool { current != nil }

    /// Takes a request or a release from `player`.
    mutating func receive(_ message: ArchiveLease, from player: Int) {
        switch message.action {
        case .request:
            requests.append((message.leaseId, player))
        case .release:
            if let c = current, c.id == message.leaseId, c.player == player { current = nil }
            requests.removeAll { $0.id == message.leaseId && $0.player == player }
        case .grant, .recall:
            break  // only graphers grant and recall
        }
    }

    /// Asks the holder of the current lease to release it (once per lease): a round is due. A
    /// player keeps its lease while it has windows to read, so without a recall it could hold
    /// rounds off for as long as a long replay runs.
    mutating func recall(channel: any ControlTransport) throws {
        guard var c = current, !c.recalled else { return }
        c.recalled = true
        current = c
        recalled += 1
        roundWaiting = true
        try channel.post(ControlMessage.archiveLease(ArchiveLease(leaseId: c.id, action: .recall)).encode(),
                         to: c.player, tag: .replay)
    }

    /// The round a recall waited for has run: leases may be granted again.
    mutating func roundRan() { roundWaiting = false }

    /// Expires an overdue lease (at `now`) and grants the next request when no round is in progress.
    /// - Returns: whether anything changed.
    mutating func grant(roundInProgress: Bool, now: ContinuousClock.Instant, channel: any ControlTransport,
                        logger: Logger) throws -> Bool {
        if let c = current, now >= c.expires {
            logger.warning("archive lease \(c.id) of player rank \(c.player) expired after \(Self.maxHold) without a release")
            current = nil
            expired += 1
        }
        guard current == nil, !roundInProgress, let next = requests.first else { return false }
        requests.removeFirst()
        current = Lease(id: next.id, player: next.player, expires: now + Self.maxHold)
        granted += 1
        try channel.post(ControlMessage.archiveLease(ArchiveLease(leaseId: next.id, action: .grant)).encode(),
                         to: next.player, tag: .replay)
        return true
    }
}
