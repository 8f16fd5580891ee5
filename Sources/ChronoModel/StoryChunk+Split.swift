extension StoryChunk {
    /// Splits the chunk into pieces whose encoded size is at most `maxEncodedBytes`, each with
    /// the same range and revision, in event order (merging the pieces gives the chunk back).
    /// An event too large for any piece gets a piece of its own.
    /// - Returns: `[self]` when the chunk already fits.
    public func pieces(maxEncodedBytes: Int) -> [StoryChunk] {
        guard encodedByteCount > maxEncodedBytes, count > 1 else { return [self] }
        var out: [StoryChunk] = []
        var first = 0
        while first < records.count {
            let last = pieceEnd(from: first, maxEncodedBytes: maxEncodedBytes)
            let base = Int(records[first].offset)
            let end = last == records.count ? payload.count : Int(records[last].offset)
            var piece = Array(records[first..<last])
            for i in piece.indices { piece[i].offset -= UInt64(base) }
            out.append(StoryChunk(unchecked: storyId, range: range, revision: revision, records: piece,
                                  payload: Array(payload[base..<end])))
            first = last
        }
        return out
    }

    /// The end of the piece that starts at position `first`: the events `first ..< end` are the
    /// longest run whose encoding (``encodedByteCount(of:)``) fits in `maxEncodedBytes`, and at
    /// least one event (an event too large for any piece is a piece of its own). The same cut
    /// as ``pieces(maxEncodedBytes:)``, for encoding pieces in place without building them.
    /// - Returns: `first` when `first` is at or past the end of the chunk.
    public func pieceEnd(from first: Int, maxEncodedBytes: Int) -> Int {
        Self.pieceEnd(of: records, from: first, maxEncodedBytes: maxEncodedBytes)
    }

    /// ``pieceEnd(from:maxEncodedBytes:)`` over a record table (a range's, sorted, at its seal).
    static func pieceEnd(of records: [EventRecord], from first: Int, maxEncodedBytes: Int) -> Int {
        guard first >= 0, first < records.count else { return max(first, 0) }
        var bytes = Self.headerByteCount
        var last = first
        while last < records.count {
            let cost = EventRecord.byteSize + Int(records[last].length)
            if last > first && bytes + cost > maxEncodedBytes { break }
            bytes += cost
            last += 1
        }
        return last
    }
}
