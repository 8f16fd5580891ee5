/// Hands out ``ClientID``s: `first`, `first + 1`, … (the visor owns one instance per job).
///
/// Events are keyed by (time, client id, index) and a client's indexes start at 0 in every job,
/// so a job appending to an archive an earlier job wrote must not reuse that job's ids: the visor
/// starts above every id the archive's catalog handed out (reserved in blocks before use) and at
/// least at ``jobBase(unixTimeMs:)``, which differs for jobs started a millisecond apart (an
/// archive written without a catalog, or whose catalog was removed).
public struct ClientIDAllocator: Sendable {
    private let first: UInt64
    private var nextValue: UInt64

    /// A fresh allocator whose first id is `first` (1 by default; 0 is ``ClientID/none`` and
    /// is taken as 1).
    public init(startingAt first: UInt64 = 1) {
        self.first = max(first, 1)
        self.nextValue = max(first, 1)
    }

    /// The first id of a job started at `unixTimeMs` (milliseconds since 1970): the time shifted
    /// left by 20 bits, so a job may connect 2^20 clients per millisecond it ran before a later
    /// job's ids could meet its own. Below 2^63 until the year 2039 and beyond (2^43 ms).
    public static func jobBase(unixTimeMs: UInt64) -> UInt64 {
        (unixTimeMs & ((1 << 43) - 1)) << 20
    }


    /// The first id this allocator hands out.
    public var firstId: UInt64 { first }

    /// The id ``next()`` returns next.
    public var upcoming: UInt64 { nextValue }

    /// Returns a new id, never returned before by this allocator.
    /// - Throws: ``ChronoLogError/unknown(_:)`` if the id space is exhausted (not reachable in practice).
    public mutating func next() throws(ChronoLogError) -> ClientID {
        guard nextValue != 0 else { throw .unknown("client id space exhausted") }
        let id = ClientID(rawValue: nextValue)
        nextValue &+= 1
        return id
    }

    /// How many ids were handed out.
    public var allocatedCount: UInt64 { nextValue == 0 ? UInt64.max - first + 1 : nextValue - first }
}
