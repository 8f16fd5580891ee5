extension StoryChunk {
    /// Merges two chunks of the same story into one, in event order, keeping each key once.
    ///
    /// The result covers the hull of both ranges and carries the larger revision. When both chunks hold
    /// the same key (the same event delivered twice), it appears once; if the two copies' record bytes
    /// differ, the copy whose bytes sort first is kept. Merging is therefore commutative, associative
    /// and idempotent (`a.merged(with: a) == a`). Cost: one pass over both record tables and one copy of
    /// each kept payload; no per-event allocation.
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if the chunks belong to different stories.
    public func merged(with other: StoryChunk) throws(ChronoLogError) -> StoryChunk {
        guard storyId == other.storyId else {
            throw .invalidArgument("cannot merge chunks of stories \(storyId) and \(other.storyId)")
        }
        let range = self.range.union(other.range)
        let revision = max(self.revision, other.revision)
        if other.records.isEmpty {
            return StoryChunk(unchecked: storyId, range: range, revision: revision, records: records, payload: payload)
        }
        if records.isEmpty {
            return StoryChunk(unchecked: storyId, range: range, revision: revision,
                              records: other.records, payload: other.payload)
        }
        let merged = MergeKernel.merge(records, payload, other.records, other.payload)
        return StoryChunk(unchecked: storyId, range: range, revision: revision,
                          records: merged.records, payload: merged.payload)
    }

    /// Sets `self` to `a.merged(with: b)`, reusing `self`'s storage: once its capacity suffices (and it
    /// is not shared), no memory is allocated or first touched — the way a grapher should merge repeatedly.
    /// Same result and rules as ``merged(with:)``.
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if `a` and `b` belong to different stories
    ///   (`self` is then left unchanged).
    public mutating func assignMerge(of a: StoryChunk, and b: StoryChunk) throws(ChronoLogError) {
        guard a.storyId == b.storyId else {
            throw .invalidArgument("cannot merge chunks of stories \(a.storyId) and \(b.storyId)")
        }
        setUnchecked(storyId: a.storyId, range: a.range.union(b.range), revision: max(a.revision, b.revision))
        try withStorage { (records: inout [EventRecord], payload: inout [UInt8]) throws(ChronoLogError) in
            MergeKernel.merge(a.records, a.payload, b.records, b.payload, into: &records, &payload)
        }
    }

    /// Merges any number of chunks of one story (balanced pairwise merging).
    /// - Returns: `nil` for an empty list.
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if the chunks belong to different stories.
    /// - Parameter pool: where the storage of a concatenation comes from (nil: newly allocated).
    public static func merge(_ chunks: [StoryChunk], pool: ChunkStoragePool? = nil) throws(ChronoLogError) -> StoryChunk? {
        if chunks.count > 1, let joined = try concatenated(chunks, pool: pool) { return joined }
        var level = chunks
        while level.count > 1 {
            var next: [StoryChunk] = []
            next.reserveCapacity((level.count + 1) / 2)
            var i = 0
            while i + 1 < level.count {
                next.append(try level[i].merged(with: level[i + 1]))
                i += 2
            }
            if i < level.count { next.append(level[i]) }
            level = next
        }
        return level.first
    }

    /// The merge of `chunks` when their events follow each other (each chunk's events all come
    /// before the next chunk's, as for consecutive ranges of one story): one copy of each table
    /// and payload into storage allocated once. - Returns: nil when the events interleave.
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if the chunks belong to different stories.
    static func concatenated(_ chunks: [StoryChunk], pool: ChunkStoragePool? = nil) throws(ChronoLogError) -> StoryChunk? {
        guard let head = chunks.first else { return nil }
        var previous: EventRecord? = nil
        var range = head.range
        var revision = head.revision
        var eventCount = 0, byteCount = 0
        for c in chunks {
            guard c.storyId == head.storyId else {
                throw .invalidArgument("cannot merge chunks of stories \(head.storyId) and \(c.storyId)")
            }
            range = range.union(c.range)
            revision = max(revision, c.revision)
            guard let first = c.records.first, let last = c.records.last else { continue }
            if let p = previous, !EventRecord.precedes(p, first) { return nil }
            previous = last
            eventCount += c.records.count
            byteCount += c.payload.count
        }
        var records: [EventRecord] = pool?.takeTable(capacity: eventCount) ?? []
        records.reserveCapacity(eventCount)
        var payload: [UInt8] = pool?.takePayload(capacity: byteCount) ?? []
        payload.reserveCapacity(byteCount)
        for c in chunks where !c.records.isEmpty {
            let base = UInt64(payload.count)
            for var r in c.records {
                r.offset &+= base
                records.append(r)
            }
            payload.append(contentsOf: c.payload)
        }
        return StoryChunk(unchecked: head.storyId, range: range, revision: revision, records: records, payload: payload)
    }
}
