import ChronoModel
import Synchronization

/// Where a client sends its "last N" queries of a story, as the visor answered its route request
/// (``ControlMessage/readRoute(_:)``) and cached for the client's session.
enum ReadRoute: Sendable, Equatable {
    /// Straight to the keepers of the group recording the story, which took the visor's
    /// ``ReadGrant`` for this client: they answer when their memory holds the last N events.
    case keepers([Int32])
    /// Through the visor to the player: the story is not recorded (or has events hidden from
    /// replays). Asked again once a player's answer says it is recorded.
    case player
}

/// How a session's "last N" queries went: `replay.last.direct`, `replay.last.player`,
/// `replay.routes`, `replay.last.direct.timedOut`, `replay.last.belowKeepers` (``Counter``). Thread-safe.
final class LastQueryStats: Sendable {
    private let direct = Atomic<UInt64>(0)
    private let player = Atomic<UInt64>(0)
    private let routes = Atomic<UInt64>(0)
    private let timedOut = Atomic<UInt64>(0)
    private let below = Atomic<UInt64>(0)

    func answeredDirectly() { direct.add(1, ordering: .relaxed) }
    func sentToPlayer() { player.add(1, ordering: .relaxed) }
    func askedRoute() { routes.add(1, ordering: .relaxed) }
    func directTimedOut() { timedOut.add(1, ordering: .relaxed) }
    func readBelowKeepers() { below.add(1, ordering: .relaxed) }

    /// The counters (empty before the first "last N" query).
    var counters: Counters {
        let (d, p, r) = (direct.load(ordering: .relaxed), player.load(ordering: .relaxed), routes.load(ordering: .relaxed))
        let (t, b) = (timedOut.load(ordering: .relaxed), below.load(ordering: .relaxed))
        return d + p + r == 0 ? [:] : [.replayLastDirect: d, .replayLastPlayer: p, .replayRoutes: r, .replayLastDirectTimedOut: t,
                                       .replayLastBelowKeepers: b]
    }
}
