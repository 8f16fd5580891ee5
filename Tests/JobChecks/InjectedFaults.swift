import ChronoRoles
import ChronoModel
import Foundation
import Synchronization

/// The service roles' deliberate faults of a scenario, from `job-checks` options (never from the
/// configuration, which users can set): silent roles, a slow keeper, a slow archive, a slow player,
/// keepers slow to take read grants or silent to direct "last N" queries.
struct InjectedFaults: RoleFaults {
    /// Roles that never register with the visor.
    var silentRoles: Set<Role> = []
    /// Only silence the roles of these groups (all groups when empty).
    var silentGroups: Set<Int> = []
    /// Each batch acknowledgement of every keeper waits this long.
    var ackDelay: Duration = .zero
    /// Each archive round of every grapher sleeps this long first.
    var archiveDelay: Duration = .zero
    /// When above 0: only rounds holding events are delayed, once this many of them were written
    /// (an archive that gets stuck after some rounds were made durable).
    var archiveDelayAfterEventRounds = 0
    /// This process's archive rounds holding events so far.
    let eventRounds = RoundCount()
    /// Each replay query waits this long before its player serves it.
    var queryDelay: Duration = .zero
    /// Every keeper sleeps this long as it takes a read grant.
    var grantDelay: Duration = .zero
    /// Keepers leave the "last N" queries readers send them directly unanswered.
    var keepersIgnoreDirect = false

    func keeperAckDelay() -> Duration { ackDelay }

    func archiveRoundStarts(events: Int) {
        if archiveDelayAfterEventRounds > 0 {
            guard events > 0, eventRounds.next() > archiveDelayAfterEventRounds else { return }
        }
        Self.sleep(archiveDelay)
    }

    func playerQueryDelay() -> Duration { queryDelay }

    func keeperTakesGrant() { Self.sleep(grantDelay) }

    func keeperAnswersDirectQueries() -> Bool { !keepersIgnoreDirect }

    private static func sleep(_ duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
    }

    func registersWithVisor(role: Role, group: Int?) -> Bool {
        !(silentRoles.contains(role) && (silentGroups.isEmpty || silentGroups.contains(group ?? -1)))
    }
}

/// A count shared by the copies of one process's faults.
final class RoundCount: Sendable {
    private let value = Atomic<Int>(0)

    /// Counts one more and returns the count.
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}

/// The system's clocks with event time shifted by `offset` ns (a node whose clock is off);
/// elapsed time is the system's.
struct ShiftedRoleClock: RoleClock {
    let offset: Int64

    func now() -> UInt64 { ClockOffset.apply(offset, to: SystemClock().now()) }
    func instant() -> ContinuousClock.Instant { .now }
}
