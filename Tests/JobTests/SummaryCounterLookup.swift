import ChronoModel

/// A summary line's counters (``TestSupport``'s `JobResult.counters(role:)`, parsed from the
/// printed summary) read by their declared ``Counter``, never by a name spelled in a test.
extension Dictionary where Key == String, Value == UInt64 {
    /// The value of `counter`, if the summary has it.
    subscript(_ counter: Counter) -> UInt64? { self[counter.name] }
    /// The value of `counter`, or `value` when the summary lacks it.
    subscript(_ counter: Counter, default value: UInt64) -> UInt64 { self[counter.name] ?? value }
}
