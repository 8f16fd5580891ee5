import Synchronization

/// A clock that only moves when told to: for tests (like swift-nio's `EmbeddedEventLoop.advanceTime(by:)`).
public final class ManualClock: ChronoClock {
    private let current: Mutex<UInt64>

    /// Creates a clock reading `start` ns.
    public init(start: UInt64 = 0) { current = Mutex(start) }

    /// The current reading.
    public func now() -> UInt64 { current.withLock { $0 } }

    /// Moves the clock forward by `nanoseconds` (saturating at `UInt64.max`).
    public func advance(by nanoseconds: UInt64) {
        current.withLock { value in
            let (sum, overflow) = value.addingReportingOverflow(nanoseconds)
            value = overflow ? UInt64.max : sum
        }
    }

    /// Sets the reading (it may go backwards: tests of clock jumps use that).
    public func set(to nanoseconds: UInt64) { current.withLock { $0 = nanoseconds } }
}
