import ChronoSystem
import Fabric
import Testing

/// The service loops' back-off: yields first, short sleeps next, and long sleeps only after a
/// long quiet spell (so idle ranks leave shared cores to busy ones), starting over after work.
@Suite("Idle back-off")
struct IdleBackoffTests {
    private func seconds(_ body: () -> Void) -> Double {
        let start = ContinuousClock.now
        body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test("after deepIdleAfter of sleeping, each idle round sleeps the deep sleep; work starts it over")
    func deepIdle() {
        var b = IdleBackoff(yieldsBeforeSleeping: 1, minSleepNanoseconds: 1_000_000, maxSleepNanoseconds: 1_000_000,
                            deepIdleAfterNanoseconds: 3_000_000, deepSleepNanoseconds: 150_000_000)
        b.idle()  // a yield
        // 1 ms sleeps until 3 ms were slept: none of these is a deep sleep.
        let shallow = seconds { for _ in 0..<3 { b.idle() } }
        #expect(shallow >= 0.003 && shallow < 0.15, "slept \(shallow) s before deepIdleAfter")
        let deep = seconds { b.idle() }
        #expect(deep >= 0.15, "a loop idle past deepIdleAfter must sleep the deep sleep, slept \(deep) s")
        b.reset()
        // After work: a yield, then short sleeps again (well under the deep sleep even on a busy box).
        let again = seconds { b.idle(); b.idle() }
        #expect(again < 0.15, "the back-off did not start over after work: \(again) s")
    }

    @Test("without deepIdleAfter, sleeps never exceed maxSleep")
    func noDeepIdle() {
        var b = IdleBackoff(yieldsBeforeSleeping: 0, minSleepNanoseconds: 1_000_000, maxSleepNanoseconds: 1_000_000)
        for _ in 0..<20 { b.idle() }
        let one = seconds { b.idle() }
        #expect(one >= 0.001 && one < 0.15, "\(one) s")
    }
}
