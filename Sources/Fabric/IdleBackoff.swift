#if canImport(Glibc)
import Glibc
#endif

/// Backs off an idle polling loop so it never spins hot.
///
/// Ranks here are heavily oversubscribed (6+ ranks on 2 cores): a loop that polls a completion
/// queue or an MPI request without pausing steals the CPU from the rank doing the work. Call
/// `idle()` after a poll that found nothing and `reset()` after one that found work. The first
/// few idle calls yield the CPU (`sched_yield`); after that the loop sleeps (`nanosleep`), starting
/// short and doubling up to `maxSleepNanoseconds` (1 ms by default).
public struct IdleBackoff: Sendable {
    /// Idle calls answered with `sched_yield` before sleeping starts.
    public let yieldsBeforeSleeping: Int
    /// The first sleep, in nanoseconds.
    public let minSleepNanoseconds: Int
    /// The longest sleep, in nanoseconds.
    public let maxSleepNanoseconds: Int
    private var idleCount = 0
    private var sleepNanoseconds: Int

    /// A backoff that yields `yieldsBeforeSleeping` times, then sleeps from `minSleepNanoseconds`
    /// doubling up to `maxSleepNanoseconds`.
    public init(yieldsBeforeSleeping: Int = 16, minSleepNanoseconds: Int = 2_000, maxSleepNanoseconds: Int = 1_000_000) {
        self.yieldsBeforeSleeping = max(0, yieldsBeforeSleeping)
        self.minSleepNanoseconds = max(1, minSleepNanoseconds)
        self.maxSleepNanoseconds = max(self.minSleepNanoseconds, maxSleepNanoseconds)
        self.sleepNanoseconds = self.minSleepNanoseconds
    }

    /// Pauses after a poll that found nothing: yields, then sleeps longer and longer.
    public mutating func idle() {
        idleCount += 1
        if idleCount <= yieldsBeforeSleeping {
            sched_yield()
            return
        }
        var ts = timespec(tv_sec: sleepNanoseconds / 1_000_000_000, tv_nsec: sleepNanoseconds % 1_000_000_000)
        _ = nanosleep(&ts, nil)
        sleepNanoseconds = min(sleepNanoseconds * 2, maxSleepNanoseconds)
    }

    /// Starts over after a poll that found work.
    public mutating func reset() {
        idleCount = 0
        sleepNanoseconds = minSleepNanoseconds
    }

    /// Records one loop round: `reset()` if it did work, else `idle()`.
    public mutating func step(didWork: Bool) {
        if didWork { reset() } else { idle() }
    }
}
