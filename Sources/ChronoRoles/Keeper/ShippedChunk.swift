import ChronoModel

/// A sealed chunk whose pieces a keeper has shipped (or is shipping): the chunk itself is kept,
/// not a copy, for replays until every piece is durable; then its storage goes back to the pool.
final class ShippedChunk {
    /// The sealed chunk (storage shared with the waiting queue while pieces are still to go).
    var chunk: StoryChunk
    /// Pieces in flight (shipped, not yet acknowledged durable or failed).
    var outstanding = 0
    /// Whether the last piece has left (the chunk is no longer waiting).
    var allShipped = false

    init(_ chunk: StoryChunk) {
        self.chunk = chunk
    }

    /// Whether nothing needs the chunk any more.
    var isDone: Bool { allShipped && outstanding == 0 }

    /// Bytes the events at `positions` hold (records and payload).
    func bytes(of positions: Range<Int>) -> Int {
        guard !positions.isEmpty else { return 0 }
        let first = chunk.records[positions.lowerBound], last = chunk.records[positions.upperBound - 1]
        return positions.count * EventRecord.byteSize + Int(last.offset + UInt64(last.length) - first.offset)
    }
}
