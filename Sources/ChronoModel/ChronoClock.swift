/// A source of time in nanoseconds, injected into time-dependent logic (batch linger, chunk windows,
/// timeouts) so tests can step time with ``ManualClock`` instead of sleeping.
public protocol ChronoClock: Sendable {
    /// The current time in nanoseconds.
    func now() -> UInt64
}
