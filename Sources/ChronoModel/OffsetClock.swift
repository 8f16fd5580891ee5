/// A clock corrected by a measured offset: `base.now() + offset` (saturating). Clients timestamp
/// events with it, using the offset to the visor measured at connect (``ClockOffsetEstimator``).
public struct OffsetClock<Base: ChronoClock>: ChronoClock {
    /// The uncorrected clock.
    public let base: Base
    /// Nanoseconds to add (negative: subtract).
    public let offset: Int64

    /// Creates the corrected clock.
    public init(base: Base, offset: Int64) {
        self.base = base
        self.offset = offset
    }

    /// `base.now() + offset`, clamped to `0...UInt64.max`.
    public func now() -> UInt64 { ClockOffset.apply(offset, to: base.now()) }
}
