import Synchronization

/// A ``RoleClock`` that moves only when told to: ``advance(by:)`` moves event time and elapsed time
/// together; ``setEventTime(to:)`` moves event time alone (a clock that jumps or is skewed), never
/// elapsed time, which stays monotonic.
public final class ManualRoleClock: RoleClock {
    private let origin = ContinuousClock.now
    private let state: Mutex<(eventTime: UInt64, elapsed: Duration)>

    /// Creates a clock whose event time reads `eventTime` ns and whose elapsed time starts now.
    public init(eventTime: UInt64 = 0) { state = Mutex((eventTime, .zero)) }

    /// The event time, ns.
    public func now() -> UInt64 { state.withLock { $0.eventTime } }

    /// The creation instant plus the time advanced since.
    public func instant() -> ContinuousClock.Instant { origin + state.withLock { $0.elapsed } }

    /// Moves both times forward by `duration` (negative durations are ignored; event time
    /// saturates at `UInt64.max`).
    public func advance(by duration: Duration) {
        guard duration > .zero else { return }
        let step = Self.nanoseconds(duration)
        state.withLock { s in
            s.elapsed += duration
            let (sum, overflow) = s.eventTime.addingReportingOverflow(step)
            s.eventTime = overflow ? UInt64.max : sum
        }
    }

    /// `duration` in whole nanoseconds, saturating at `UInt64.max` (`duration` is positive).
    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow || carry ? UInt64.max : sum
    }

    /// Sets the event time alone (it may go backwards); elapsed time does not move.
    public func setEventTime(to nanoseconds: UInt64) { state.withLock { $0.eventTime = nanoseconds } }
}
