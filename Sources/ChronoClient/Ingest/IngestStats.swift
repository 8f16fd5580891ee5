import ChronoModel

/// Ingest counters of one story buffer, or summed over a session.
public struct IngestStats: Sendable, Hashable {
    /// Events accepted by `logEvent` (buffered; each is shipped, never dropped).
    public var eventsLogged: UInt64 = 0
    /// Record bytes of the accepted events.
    public var bytesLogged: UInt64 = 0
    /// Events refused by `logEvent` (larger than `story.maxEventBytes`); `logEvent` returned 0.
    public var eventsRejected: UInt64 = 0
    /// Batches sent to keepers (watermark-only batches included).
    public var batchesSent: UInt64 = 0
    /// Batches whose acknowledgement arrived.
    public var batchesAcked: UInt64 = 0
    /// Events the acknowledgements reported accepted.
    public var eventsAcked: UInt64 = 0
    /// Events the keepers reported refused (e.g. late under the reject policy).
    public var eventsRefused: UInt64 = 0
    /// Of those, events refused as not authorized (−9: the client did not hold the story from its rank).
    public var eventsUnauthorized: UInt64 = 0
    /// Times a writer found its window of unacknowledged batches full and waited (back-pressure).
    public var windowWaits: UInt64 = 0
    /// Total time writers spent waiting for their window, in microseconds.
    public var windowWaitMicroseconds: UInt64 = 0
    /// Acknowledgements whose first index was not the one expected next.
    public var acksOutOfOrder: UInt64 = 0

    /// Creates zero counters.
    public init() {}

    /// Adds `other` field by field.
    public mutating func add(_ other: IngestStats) {
        eventsLogged &+= other.eventsLogged
        bytesLogged &+= other.bytesLogged
        eventsRejected &+= other.eventsRejected
        batchesSent &+= other.batchesSent
        batchesAcked &+= other.batchesAcked
        eventsAcked &+= other.eventsAcked
        eventsRefused &+= other.eventsRefused
        eventsUnauthorized &+= other.eventsUnauthorized
        windowWaits &+= other.windowWaits
        windowWaitMicroseconds &+= other.windowWaitMicroseconds
        acksOutOfOrder &+= other.acksOutOfOrder
    }

    /// The counters under the names of the job summary (`events.logged`, `bytes.logged`,
    /// `events.rejected`, `batches.sent`, `batches.acked`, `events.acked`, `events.refused`, `events.refused.unauthorized`,
    /// `ingest.windowWaits`, `ingest.windowWait.us`, `acks.outOfOrder`).
    public var counters: Counters {
        [
            .eventsLogged: eventsLogged, .bytesLogged: bytesLogged, .eventsRejected: eventsRejected,
            .batchesSent: batchesSent, .batchesAcked: batchesAcked, .eventsAcked: eventsAcked,
            .eventsRefused: eventsRefused, .eventsRefusedUnauthorized: eventsUnauthorized, .ingestWindowWaits: windowWaits,
            .ingestWindowWaitUs: windowWaitMicroseconds, .acksOutOfOrder: acksOutOfOrder,
        ]
    }
}
