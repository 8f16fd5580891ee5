import CChronoShims
#if canImport(Glibc)
import Glibc
#endif

/// Backs off an idle polling loop so it never spins hot.
///
/// Ranks here are heavily oversubscribed (6+ ranks on 2 cores): a loop that polls a completion
/// queue or an MPI request without pausing steals the CPU from the rank doing the work. Call
/// `idle()` after a poll that found nothing and `reset()` after one that found work. The first
/// few idle calls yield the CPU (`sched_yield`); after that the loop sleeps (`nanosleep`), starting
/// short and doubling up to `maxSleepNanoseconds` (1 ms by default). A loop idle for longer than
/// `deepIdleAfterNanoseconds` sleeps `deepSleepNanoseconds` at a time: a rank with nothing to do
/// (a visor between requests, a keeper of a finished story) then wakes a thousand times a second
/// instead of ten thousand, and leaves the cores to the ranks at work.
public struct IdleBackoff: Sendable {
    /// Idle calls answered with `sched_yield` before sleeping starts.
    public let yieldsBeforeSleeping: Int
    /// The first sleep, in nanoseconds.
    public let minSleepNanoseconds: Int
    /// The longest sleep, in nanoseconds.
    public let maxSleepNanoseconds: Int
    /// Time slept since the last work after which sleeps become `deepSleepNanoseconds` (nil: never).
    public let deepIdleAfterNanoseconds: Int?
    /// The sleep of a loop idle for longer than `deepIdleAfterNanoseconds`.
    public let deepSleepNanoseconds: Int
    private var idleCount = 0
    private var sleepNanoseconds: Int
    private var sleptNanoseconds = 0

    /// A backoff that yields `yieldsBeforeSleeping` times, then sleeps from `minSleepNanoseconds`
    /// doubling up to `maxSleepNanoseconds`.
    public init(yieldsBeforeSleeping: Int = 16, minSleepNanoseconds: Int = 2_000, maxSleepNanoseconds: Int = 1_000_000,
                deepIdleAfterNanoseconds: Int? = nil, deepSleepNanoseconds: Int = 1_000_000) {
        self.yieldsBeforeSleeping = max(0, yieldsBeforeSleeping)
        self.minSleepNanoseconds = max(1, minSleepNanoseconds)
        self.maxSleepNanoseconds = max(self.minSleepNanoseconds, maxSleepNanoseconds)
        self.deepIdleAfterNanoseconds = deepIdleAfterNanoseconds
        self.deepSleepNanoseconds = max(self.maxSleepNanoseconds, deepSleepNanoseconds)
        self.sleepNanoseconds = self.minSleepNanoseconds
        // Linux rounds every sleep of a normal thread up by its timer slack (50 µs by default),
        // which would turn a 2 µs back-off into 50+ µs of latency per message. Ask for 1 µs.
        _ = chrono_set_timer_slack(1_000)
    }

    /// Pauses after a poll that found nothing: yields, then sleeps longer and longer.
    public mutating func idle() {
        idleCount += 1
        if idleCount <= yieldsBeforeSleeping {
            sched_yield()
            return
        }
        var nanoseconds = sleepNanoseconds
        if let deep = deepIdleAfterNanoseconds, sleptNanoseconds >= deep { nanoseconds = deepSleepNanoseconds }
        var ts = timespec(tv_sec: nanoseconds / 1_000_000_000, tv_nsec: nanoseconds % 1_000_000_000)
        _ = nanosleep(&ts, nil)
        sleptNanoseconds += nanoseconds
        sleepNanoseconds = min(sleepNanoseconds * 2, maxSleepNanoseconds)
    }

    /// Starts over after a poll that found work.
    public mutating func reset() {
        idleCount = 0
        sleepNanoseconds = minSleepNanoseconds
        sleptNanoseconds = 0
    }

    /// The back-off of a service loop (visor, keeper, grapher, player) and of a client waiting
    /// for an answer: sleeps of at most 100 µs, so a request never waits long for an idle peer
    /// to wake; after 50 ms without work, sleeps of 1 ms (the first request after a quiet spell
    /// waits up to 1 ms more), so idle ranks do not preempt the busy ones on shared cores.
    public static var serviceLoop: IdleBackoff {
        IdleBackoff(yieldsBeforeSleeping: 16, minSleepNanoseconds: 2_000, maxSleepNanoseconds: 100_000,
                    deepIdleAfterNanoseconds: 50_000_000, deepSleepNanoseconds: 1_000_000)
    }

    /// The back-off of a caller waiting for the answer to its own request: the answer is due
    /// within microseconds, so it yields longer before sleeping, and sleeps at most 50 µs.
    public static var replyWait: IdleBackoff {
        IdleBackoff(yieldsBeforeSleeping: 64, minSleepNanoseconds: 1_000, maxSleepNanoseconds: 50_000)
    }

    /// The back-off of a caller waiting for its events to become durable: the answer comes after
    /// the next archive round (tens to hundreds of milliseconds), so after a few yields it sleeps,
    /// up to 1 ms at a time (at most that much later than the answer). Polling faster only took
    /// the session's transport lock from the threads still logging (issue 17).
    public static var durableWait: IdleBackoff {
        IdleBackoff(yieldsBeforeSleeping: 8, minSleepNanoseconds: 10_000, maxSleepNanoseconds: 1_000_000)
    }

    /// Records one loop round: `reset()` if it did work, else `idle()`.
    public mutating func step(didWork: Bool) {
        if didWork { reset() } else { idle() }
    }
}
