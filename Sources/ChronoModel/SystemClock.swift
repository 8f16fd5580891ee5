#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The real-time clock (`CLOCK_REALTIME`): nanoseconds since the Unix epoch. Event timestamps use it,
/// corrected by the offset to the visor (``OffsetClock``).
public struct SystemClock: ChronoClock {
    /// Creates the clock.
    public init() {}

    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(max(ts.tv_sec, 0)) &* 1_000_000_000 &+ UInt64(max(ts.tv_nsec, 0))
    }
}
