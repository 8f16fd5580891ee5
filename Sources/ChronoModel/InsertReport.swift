/// What happened to the events of one insert into a ``StoryPipeline``.
public struct InsertReport: Sendable, Hashable {
    /// Why an event was refused.
    public enum Reason: Sendable, Hashable {
        /// Its range was sealed and the policy is ``LatePolicy/reject``.
        case lateUnderRejectPolicy(sealedUpTo: UInt64)
        /// Its time is `UInt64.max` (reserved).
        case invalidTime
        /// Its record is longer than the pipeline's `maxEventBytes`.
        case tooLarge(bytes: Int)
    }

    /// One refused event.
    public struct Rejection: Sendable, Hashable {
        /// The event.
        public var key: EventKey
        /// Why.
        public var reason: Reason
    }

    /// Events accepted on time.
    public var accepted: Int = 0
    /// Events accepted late (into a revision).
    public var late: Int = 0
    /// Events refused, each with its reason (also counted in ``PipelineStats``).
    public var rejected: [Rejection] = []

    /// Creates an empty report.
    public init() {}

    /// The report as an error for the writer, or nil when nothing was refused.
    public var error: ChronoLogError? {
        guard let first = rejected.first else { return nil }
        return .eventRejected("\(rejected.count) event(s) refused; first \(first.key): \(first.reason)")
    }
}
