extension StoryChunk {
    /// The chunk with only the events whose record `keep` accepts (same range and revision); the
    /// payload is rebuilt so the result is canonical.
    public func filter(_ keep: (EventRecord) -> Bool) -> StoryChunk {
        guard records.contains(where: { !keep($0) }) else { return self }
        var kept: [EventRecord] = []
        var bytes: [UInt8] = []
        for r in records where keep(r) {
            var moved = r
            moved.offset = UInt64(bytes.count)
            bytes.append(contentsOf: payload[Int(r.offset)..<Int(r.offset + UInt64(r.length))])
            kept.append(moved)
        }
        return StoryChunk(unchecked: storyId, range: range, revision: revision, records: kept, payload: bytes)
    }
}
