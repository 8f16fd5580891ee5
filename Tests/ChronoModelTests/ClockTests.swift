import Testing
@testable import ChronoModel

@Suite struct ClockTests {
    @Test func manualClockSteps() {
        let clock = ManualClock(start: 10)
        clock.advance(by: 5)
        #expect(clock.now() == 15)
        clock.advance(by: .max)
        #expect(clock.now() == .max)
        clock.set(to: 3)
        #expect(clock.now() == 3)
    }

    @Test func offsetClockSaturates() {
        let base = ManualClock(start: 100)
        #expect(OffsetClock(base: base, offset: 50).now() == 150)
        #expect(OffsetClock(base: base, offset: -150).now() == 0)
        base.set(to: .max - 1)
        #expect(OffsetClock(base: base, offset: 10).now() == .max)
    }

    @Test func systemClockIsWallTime() {
        let t = SystemClock().now()
        #expect(t > 1_600_000_000 * 1_000_000_000)  // after 2020
        #expect(SystemClock().now() >= t)
    }

    @Test func estimatorPicksTheTightestSample() {
        var e = ClockOffsetEstimator()
        #expect(e.estimate == nil)
        // Visor is 1000 ns ahead. Sample 1: rtt 200, asymmetric; sample 2: rtt 20.
        e.add(clientSend: 0, visorTime: 1150, clientReceive: 200)
        e.add(clientSend: 500, visorTime: 1510, clientReceive: 520)
        let accepted = e.add(clientSend: 10, visorTime: 0, clientReceive: 5)
        #expect(!accepted)
        #expect(e.sampleCount == 2)
        #expect(e.estimate == ClockOffset(offset: 1000, errorBound: 10))
        #expect(e.estimate?.visorTime(forClientTime: 7) == 1007)
        var behind = ClockOffsetEstimator()
        behind.add(ClockPong(sequence: 0, clientSendTime: 5000, visorTime: 10), receivedAt: 5010)
        #expect(behind.estimate?.offset == -4995)
        // An earlier estimate competes with a new sample: the tighter one wins.
        var reused = ClockOffsetEstimator()
        reused.add(clientSend: 0, visorTime: 1300, clientReceive: 400)  // error bound 200
        reused.add(ClockOffset(offset: 1000, errorBound: 10))
        #expect(reused.estimate == ClockOffset(offset: 1000, errorBound: 10) && reused.sampleCount == 2)
        reused.add(ClockOffset(offset: 5, errorBound: 500))
        #expect(reused.estimate == ClockOffset(offset: 1000, errorBound: 10))
    }
}
