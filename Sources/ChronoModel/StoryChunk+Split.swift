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
            var bytes = Self.headerByteCount
            var last = first
            while last < records.count {
                let cost = EventRecord.byteSize + Int(records[last].length)
                if last > first && bytes + cost > maxEncodedBytes { break }
                bytes += cost
                last += 1
            }
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
}
