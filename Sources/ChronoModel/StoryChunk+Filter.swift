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

extension StoryChunk {
    /// The chunk of its last `n` events (all of them when it has no more), with range
    /// [time of the first one kept, `range.end`); `n` ≤ 0 gives an empty chunk at the range's end.
    public func last(_ n: Int) -> StoryChunk {
        guard n < count else { return self }
        guard n > 0 else { return .empty(storyId: storyId, range: TimeRange(start: range.end, end: range.end), revision: revision) }
        let first = count - n
        let base = records[first].offset
        var out = Array(records[first...])
        for i in out.indices { out[i].offset -= base }
        let bytes = Array(payload[Int(base)...])
        return StoryChunk(unchecked: storyId, range: TimeRange(start: records[first].time, end: range.end), revision: revision,
                          records: out, payload: bytes)
    }
}
