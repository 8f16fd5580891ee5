import ChronoModel
import Testing

@Suite struct RoleClockTests {
    @Test("a manual role clock moves event and elapsed time together, and only when told")
    func advance() {
        let clock = ManualRoleClock(eventTime: 1_000)
        let start = clock.instant()
        #expect(clock.now() == 1_000 && clock.instant() == start)
        clock.advance(by: .milliseconds(250))
        #expect(clock.now() == 1_000 + 250_000_000)
        #expect(clock.instant() - start == .milliseconds(250))
        clock.advance(by: .seconds(-5))
        #expect(clock.instant() - start == .milliseconds(250))
        clock.advance(by: .seconds(Int64.max))
        #expect(clock.now() == UInt64.max)
    }

    @Test("setting event time (a clock jump or skew) leaves elapsed time monotonic")
    func eventTimeJumps() {
        let clock = ManualRoleClock(eventTime: 5_000)
        let start = clock.instant()
        clock.setEventTime(to: 10)
        #expect(clock.now() == 10 && clock.instant() == start)
    }

    @Test("the system role clock reads the real clocks")
    func system() {
        let clock = SystemRoleClock()
        let wall = SystemClock().now()
        #expect(clock.now() >= wall && clock.now() - wall < 60_000_000_000)
        let before = ContinuousClock.now
        #expect(clock.instant() >= before)
    }
}
