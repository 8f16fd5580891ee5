import ChronoModel

/// What a player needs of the archive it replays from: a story's windows, their events (with
/// whether they are all there), and, when no merging is needed, a window's encoded chunk straight
/// into a buffer. ``ArchiveReader`` reads them from the HDF5 files; a simulator answers from the
/// rounds it kept in memory.
public protocol ArchiveSource: AnyObject {
    /// The first window of `range` holding at most about `maxBytes` (see ``ArchiveReader/firstWindow(chronicle:story:range:maxBytes:toleratingDamage:)``).
    /// - Throws: `ArchiveError.storyNotFound` when the story is not archived; read errors.
    func firstWindow(chronicle: String, story: String, range: TimeRange, maxBytes: Int,
                     toleratingDamage: Bool) throws(ArchiveError) -> TimeRange
    /// The story's events in `range`, in event order, each once, and whether they are all there.
    /// - Throws: `ArchiveError.storyNotFound` when the story is not archived; read errors.
    func read(chronicle: String, story: String, range: TimeRange) throws(ArchiveError) -> ArchiveAnswer
    /// `window`'s events encoded into `destination` when no merging is needed; nil otherwise
    /// (the caller then uses ``read(chronicle:story:range:)``).
    /// - Throws: `ArchiveError.storyNotFound` when the story is not archived; read errors.
    func readEncoded(chronicle: String, story: String, window: TimeRange,
                     into destination: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> EncodedWindow?
    /// `window`'s events encoded with the payload left in place when larger than `threshold`
    /// (see ``ArchiveReader/readEncoded(chronicle:story:window:into:lendingPayloadAbove:)``). By
    /// default: copied whole, as ``readEncoded(chronicle:story:window:into:)``.
    func readEncoded(chronicle: String, story: String, window: TimeRange, into destination: UnsafeMutableRawBufferPointer,
                     lendingPayloadAbove threshold: Int?) throws(ArchiveError) -> EncodedWindow?
    /// Where reading must start to find the last `count` archived events of `range` (see
    /// ``ArchiveReader/lastWindowStart(chronicle:story:range:count:)``).
    /// - Throws: `ArchiveError.storyNotFound` when the story is not archived; read errors.
    func lastWindowStart(chronicle: String, story: String, range: TimeRange, count: Int) throws(ArchiveError) -> UInt64
}

extension ArchiveSource {
    public func readEncoded(chronicle: String, story: String, window: TimeRange, into destination: UnsafeMutableRawBufferPointer,
                            lendingPayloadAbove threshold: Int?) throws(ArchiveError) -> EncodedWindow? {
        try readEncoded(chronicle: chronicle, story: story, window: window, into: destination)
    }
}

extension ArchiveReader: ArchiveSource {}
