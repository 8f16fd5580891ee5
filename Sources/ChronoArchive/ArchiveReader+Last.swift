import ChronoModel

extension ArchiveReader {
    /// Where reading must start to find the last `count` archived events of `range` (a "last N"
    /// replay): the latest time S in `range` such that the index rows lying wholly in
    /// [S, `range.end`) hold at least `count` events; `range.start` when the range holds fewer.
    /// Looks only at the time index. Rows count their events as written, duplicates and revisions
    /// included, so [S, end) can hold fewer distinct events: a caller that finds fewer reads from
    /// `range.start`. Damaged rows are left out.
    /// - Throws: `ArchiveError.storyNotFound` when no file holds the story; `.corrupt` or `.hdf5`
    ///   when its index cannot be read.
    public func lastWindowStart(chronicle: String, story: String, range: TimeRange, count: Int) throws(ArchiveError) -> UInt64 {
        let key = StoryKey(chronicle: chronicle, story: story)
        let holders = readers.filter { $0.stories[key] != nil }
        guard !holders.isEmpty else { throw .storyNotFound(chronicle: chronicle, story: story) }
        if range.isEmpty || count <= 0 { return range.end }
        var inside: [ArchiveIndexRow] = []
        for reader in holders {
            let index = try reader.index(for: key)
            for position in index.overlapping(range) {
                let row = index.rows[position]
                if row.eventCount > 0, row.minTime >= range.start, row.maxTime < range.end { inside.append(row) }
            }
        }
        inside.sort { $0.minTime > $1.minTime }
        var total: UInt64 = 0
        for row in inside {
            total += row.eventCount
            if total >= UInt64(count) { return row.minTime }
        }
        return range.start
    }
}
