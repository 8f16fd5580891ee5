/// What a test harness (the `job-checks` executable) changes in a job's clients to rehearse a
/// fault, never set by users (it is not configuration): a node whose clock is off, a clock that
/// drifted after connect, a provider that needs registered local memory.
package struct ClientTestSeams: Sendable, Hashable {
    /// The client's raw clock is off by this many nanoseconds; the offset measured at connect
    /// corrects it.
    package var clockSkewNanoseconds: Int64
    /// Event times are shifted by this many nanoseconds after the correction (a clock that
    /// drifted after connect), which makes events late.
    package var clockDriftNanoseconds: Int64
    /// Replay pieces are read whole into the registered buffer and decoded from there, as with a
    /// provider that requires registered local memory (`FI_MR_LOCAL`), instead of the payload
    /// straight into the caller's chunk.
    package var registeredReadsOnly: Bool

    package init(clockSkewNanoseconds: Int64 = 0, clockDriftNanoseconds: Int64 = 0, registeredReadsOnly: Bool = false) {
        self.clockSkewNanoseconds = clockSkewNanoseconds
        self.clockDriftNanoseconds = clockDriftNanoseconds
        self.registeredReadsOnly = registeredReadsOnly
    }
}
