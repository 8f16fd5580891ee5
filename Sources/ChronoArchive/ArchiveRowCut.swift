import ChronoModel

/// One index row of a chunk being archived: the events at `positions` and the part of the chunk's
/// range they stand for. A chunk larger than `archive.maxRowBytes` becomes several rows, so that a
/// reader fetches and checks a bounded unit (a replay piece reads a row straight from the file).
struct ArchiveRowCut: Hashable {
    var positions: Range<Int>
    var range: TimeRange

    /// The chunk's payload bytes of these events.
    func payloadBytes(in chunk: StoryChunk) -> Range<Int> {
        guard let first = positions.first else { return 0..<0 }
        let last = chunk.records[positions.upperBound - 1]
        return Int(chunk.records[first].offset)..<Int(last.offset + UInt64(last.length))
    }

    /// Cuts `chunk` into rows of at most `maxBytes` (32 per record plus payload), only where event
    /// time advances, so a run of equal times stays in one row even when it is larger. The rows'
    /// ranges partition the chunk's range: each row after the first starts at its first event's time.
    /// - Returns: one row for a chunk that fits, or that is empty.
    static func cuts(of chunk: StoryChunk, maxBytes: Int) -> [ArchiveRowCut] {
        let records = chunk.records
        var cuts: [ArchiveRowCut] = []
        var start = 0, bytes = 0
        var rangeStart = chunk.range.start
        for i in records.indices {
            let cost = EventRecord.byteSize + Int(records[i].length)
            if i > start, bytes + cost > maxBytes, records[i].time > records[i - 1].time {
                cuts.append(ArchiveRowCut(positions: start..<i, range: TimeRange(start: rangeStart, end: records[i].time)))
                start = i
                bytes = 0
                rangeStart = records[i].time
            }
            bytes += cost
        }
        cuts.append(ArchiveRowCut(positions: start..<records.count, range: TimeRange(start: rangeStart, end: chunk.range.end)))
        return cuts
    }
}
