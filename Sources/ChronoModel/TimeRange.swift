/// A half-open time range [start, end) in nanoseconds.
public struct TimeRange: Sendable, Hashable, CustomStringConvertible {
    /// First instant inside the range.
    public var start: UInt64
    /// First instant after the range.
    public var end: UInt64

    /// Creates [start, end). A range with `start >= end` is empty.
    public init(start: UInt64, end: UInt64) {
        self.start = start
        self.end = end
    }

    /// Whether the range holds no instant.
    public var isEmpty: Bool { start >= end }

    /// `end - start`, or 0 when empty.
    public var duration: UInt64 { isEmpty ? 0 : end - start }

    /// Whether `time` is in [start, end).
    @inlinable
    public func contains(_ time: UInt64) -> Bool { time >= start && time < end }

    /// Whether every instant of `other` is in `self` (an empty `other` is contained).
    public func contains(_ other: TimeRange) -> Bool { other.isEmpty || (other.start >= start && other.end <= end) }

    /// Whether the two ranges share an instant.
    public func overlaps(_ other: TimeRange) -> Bool {
        !isEmpty && !other.isEmpty && start < other.end && other.start < end
    }

    /// The smallest range containing both (the hull).
    public func union(_ other: TimeRange) -> TimeRange {
        TimeRange(start: min(start, other.start), end: max(end, other.end))
    }

    /// The instants in both; empty when they do not overlap.
    public func intersection(_ other: TimeRange) -> TimeRange {
        let s = max(start, other.start)
        let e = min(end, other.end)
        return s < e ? TimeRange(start: s, end: e) : TimeRange(start: s, end: s)
    }

    /// `[start, end)`.
    public var description: String { "[\(start), \(end))" }
}
