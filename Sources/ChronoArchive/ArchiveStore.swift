import ChronoModel

/// What a grapher needs of the archive it writes: collective rounds of chunks, each durable
/// (flushed) when it returns, and a close at the end of the job. ``ArchiveWriter`` writes them
/// through parallel HDF5; a simulator keeps them in memory and fails them when told to (a full
/// disk), so the grapher's real code runs without HDF5.
public protocol ArchiveStore: AnyObject {
    /// Largest index row, in bytes of records plus payload (`archive.maxRowBytes`).
    var maxRowBytes: Int { get set }
    /// Bytes at the file's end left in the page cache after each round (`archive.pageCacheBytes`;
    /// `nil`: the page cache is left alone). A store without a page cache ignores it.
    var pageCacheBytes: Int? { get set }
    /// Writes and flushes one round (collective over the graphers; every grapher calls it, with
    /// its own chunks, possibly none).
    /// - Returns: what was written.
    /// - Throws: `ArchiveError` when the round could not be made durable (every grapher then sees it fail).
    func writeRound(_ chunks: [ArchiveChunk]) throws(ArchiveError) -> ArchiveRoundReport
    /// Closes the archive (collective over the graphers). - Throws: `ArchiveError`.
    func close() throws(ArchiveError)
}

extension ArchiveWriter: ArchiveStore {}
