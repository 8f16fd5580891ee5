import ChronoRoles
import Testing

/// When a grapher's next archive round is due (issue 17: rounds follow each other at once under a
/// steady stream, and keep to the interval for a trickle).
@Suite("Archive round schedule")
struct ArchiveRoundScheduleTests {
    let start = ContinuousClock.now
    let interval = Duration.milliseconds(100)

    func due(afterMs elapsed: Int, bytes: Int, backlog: Bool = false) -> Duration {
        let now = start + .milliseconds(elapsed)
        return GrapherRole.nextRoundDue(now: now, lastStarted: start, lastBytes: bytes, backlog: backlog,
                                        interval: interval) - now
    }

    @Test func aRoundThatWroteAStreamIsFollowedAtOnce() {
        #expect(due(afterMs: 30, bytes: GrapherRole.streamingRoundBytes) == .zero)
        #expect(due(afterMs: 30, bytes: 64 << 20) == .zero)
    }

    @Test func aSmallRoundLeavesTheNextToTheIntervalFromItsStart() {
        #expect(due(afterMs: 30, bytes: GrapherRole.streamingRoundBytes - 1) == .milliseconds(70))
        #expect(due(afterMs: 0, bytes: 0) == .milliseconds(100))
        // A round longer than the interval: the next one is due at once, never in the past.
        #expect(due(afterMs: 250, bytes: 1) == .zero)
    }

    @Test func aBacklogIsWrittenAtOnce() {
        #expect(due(afterMs: 5, bytes: 0, backlog: true) == .zero)
    }
}
