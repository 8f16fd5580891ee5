/// Counters of a ``StoryPipeline``; a role reports them in its heartbeats.
public struct PipelineStats: Sendable, Hashable {
    /// Events accepted (on time or late).
    public var eventsAccepted: UInt64 = 0
    /// Record bytes accepted.
    public var bytesAccepted: UInt64 = 0
    /// Events accepted after their range was sealed (they go into revision chunks).
    public var lateEvents: UInt64 = 0
    /// Late events refused under ``LatePolicy/reject`` (each also listed in an ``InsertReport``).
    public var rejectedLateEvents: UInt64 = 0
    /// Events refused as invalid (time `UInt64.max`, record over the size limit), each also reported.
    public var rejectedInvalidEvents: UInt64 = 0
    /// Copies of an event (same key) dropped when sealing.
    public var duplicatesDropped: UInt64 = 0
    /// Chunks sealed with revision 0.
    public var chunksSealed: UInt64 = 0
    /// Revision chunks sealed (late events).
    public var revisionsSealed: UInt64 = 0
    /// Ranges whose first part was sealed on its own (``StoryPipeline/sealReady(splittingExcept:)``).
    public var rangesSplit: UInt64 = 0
    /// Indexes missing in a client's sequence when its events were sealed (gaps; a later late event may fill one).
    public var indexGaps: UInt64 = 0

    /// Creates zeroed counters.
    public init() {}

    /// Adds every counter of `other` (to keep the totals of retired pipelines).
    public mutating func add(_ other: PipelineStats) {
        eventsAccepted += other.eventsAccepted
        bytesAccepted += other.bytesAccepted
        lateEvents += other.lateEvents
        rejectedLateEvents += other.rejectedLateEvents
        rejectedInvalidEvents += other.rejectedInvalidEvents
        duplicatesDropped += other.duplicatesDropped
        chunksSealed += other.chunksSealed
        revisionsSealed += other.revisionsSealed
        rangesSplit += other.rangesSplit
        indexGaps += other.indexGaps
    }

    /// The counters as heartbeat counters (``Heartbeat/counters``), names prefixed by `prefix`.
    public func counters(prefix: String = "") -> [String: UInt64] {
        [
            prefix + "eventsAccepted": eventsAccepted, prefix + "bytesAccepted": bytesAccepted,
            prefix + "lateEvents": lateEvents, prefix + "rejectedLateEvents": rejectedLateEvents,
            prefix + "rejectedInvalidEvents": rejectedInvalidEvents, prefix + "duplicatesDropped": duplicatesDropped,
            prefix + "chunksSealed": chunksSealed, prefix + "revisionsSealed": revisionsSealed,
            prefix + "rangesSplit": rangesSplit,
            prefix + "indexGaps": indexGaps,
        ]
    }
}
