#if canImport(Glibc)
import Glibc
#endif

/// How a polling loop waits when it found nothing to do.
///
/// Ranks are oversubscribed (6+ ranks on 2 cores), so a loop that spins steals the CPU from the
/// ranks doing the work. After a few yields the wait grows geometrically, up to `maxSleepNanos`;
/// any useful work resets it, so a busy loop stays responsive and an idle one costs almost nothing.
public struct IdleBackoff: Sendable {
    /// Yields before the first sleep.
    public var spinYields: Int
    /// The first sleep, in nanoseconds.
    public var minSleepNanos: Int
    /// The longest sleep, in nanoseconds (bounds the latency an idle loop adds).
    public var maxSleepNanos: Int
    private var idleRounds = 0
    private var sleepNanos: Int

    /// - Parameters: see the properties; the defaults suit control loops (≤ 1 ms added latency).
    public init(spinYields: Int = 4, minSleepNanos: Int = 2_000, maxSleepNanos: Int = 1_000_000) {
        self.spinYields = spinYields
        self.minSleepNanos = minSleepNanos
        self.maxSleepNanos = maxSleepNanos
        self.sleepNanos = minSleepNanos
    }

    /// Call after a round that did useful work: the next idle wait starts short again.
    public mutating func reset() {
        idleRounds = 0
        sleepNanos = minSleepNanos
    }

    /// Call after a round that found nothing to do: yields or sleeps, growing the wait.
    public mutating func idle() {
        idleRounds += 1
        if idleRounds <= spinYields {
            sched_yield()
            return
        }
        var ts = timespec(tv_sec: sleepNanos / 1_000_000_000, tv_nsec: sleepNanos % 1_000_000_000)
        _ = nanosleep(&ts, nil)
        sleepNanos = min(maxSleepNanos, sleepNanos * 2)
    }

    /// Records the outcome of one loop round: `reset()` if it did work, else `idle()`.
    public mutating func step(didWork: Bool) {
        if didWork { reset() } else { idle() }
    }
}
