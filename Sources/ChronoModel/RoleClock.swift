/// The two times a service role reads, injected where the role is made so that tests (and a
/// simulator) step them instead of the role reading `ContinuousClock` or the system clock itself:
/// ``ChronoClock/now()`` for event time (ns since the Unix epoch: timestamps, watermarks, the
/// visor's time for clock offsets) and ``instant()`` for elapsed time (intervals, deadlines, timeouts).
public protocol RoleClock: ChronoClock {
    /// Monotonic time, for intervals, deadlines and timeouts.
    func instant() -> ContinuousClock.Instant
    /// Whether `now()` is this host's `CLOCK_REALTIME` itself: then a process on the same host
    /// (the same boot of the same kernel) reads the same event time, with no offset to measure.
    var readsHostClock: Bool { get }
}

extension RoleClock {
    /// A clock is another one (a fake, a shifted or manual clock) unless it says otherwise.
    public var readsHostClock: Bool { false }
}

/// The real clocks: `CLOCK_REALTIME` (``SystemClock``) for event time, `ContinuousClock` for
/// elapsed time. What every role uses unless it is given another.
public struct SystemRoleClock: RoleClock {
    /// Creates the clock.
    public init() {}
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public func now() -> UInt64 { SystemClock().now() }
    /// `ContinuousClock.now`.
    public func instant() -> ContinuousClock.Instant { .now }
    /// This host's `CLOCK_REALTIME`.
    public var readsHostClock: Bool { true }
}
