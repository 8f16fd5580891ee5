/// Hands out job-unique ``ClientID``s: 1, 2, 3, … (the visor owns one instance per job).
public struct ClientIDAllocator: Sendable {
    private var nextValue: UInt64 = 1

    /// A fresh allocator; the first id it returns is 1.
    public init() {}

    /// An allocator whose first id is `first` (a job over an archive whose catalog handed out
    /// the ids below it). `first` must be at least 1.
    public init(first: UInt64) { nextValue = max(1, first) }

    /// The id ``next()`` returns next.
    public var upcoming: UInt64 { nextValue }

    /// Returns a new id, never returned before by this allocator.
    /// - Throws: ``ChronoLogError/unknown(_:)`` if all 2^64 − 1 ids are used (not reachable in practice).
    public mutating func next() throws(ChronoLogError) -> ClientID {
        guard nextValue != 0 else { throw .unknown("client id space exhausted") }
        let id = ClientID(rawValue: nextValue)
        nextValue &+= 1
        return id
    }

    /// How many ids were handed out.
    public var allocatedCount: UInt64 { nextValue == 0 ? UInt64.max : nextValue - 1 }
}
