import ChronoArchive
import ChronoModel

/// Reads a story's events in consecutive time windows, so memory stays bounded however large the
/// story is: the requested range is cut into half-open windows `[a, b)`, `[b, c)`, … that
/// partition it, each read with `ArchiveReader.events` (time index lookup, merged, event order).
/// Window widths adapt to aim at about `targetEvents` events and `targetBytes` payload per window.
struct StoryScan {
    let reader: ArchiveReader
    let story: ArchivedStory
    /// The story's catalog entry: the events it hides are left out.
    var catalogEntry: CatalogStory? = nil
    var targetEvents = 200_000
    var targetBytes = 64 << 20

    /// Calls `body` with each window's events, in event order; the concatenation is exactly the
    /// story's events with `range.start <= time < range.end` that the archive holds intact.
    /// - Returns: whether that is all of them: complete, or partial and why (damaged rows left
    ///   out, a crash tail), over every window.
    /// - Throws: `ChronologFailure` for an archive error; whatever `body` throws.
    @discardableResult
    func forEachWindow(in range: TimeRange, _ body: (StoryChunk) throws(ChronologFailure) -> Void) throws(ChronologFailure)
        -> ArchiveCompleteness {
        // A story only the catalog knows: no file holds any of it.
        guard !story.files.isEmpty else { return ArchiveCompleteness() }
        // Nothing is stored outside the stored event times (damaged rows are reported all the same).
        let span = story.eventTimes.map { range.intersection($0) } ?? TimeRange(start: range.start, end: range.start)
        var completeness = try read(TimeRange(start: span.start, end: span.start)).completeness
        guard !span.isEmpty, story.eventTimes != nil else { return completeness }
        let times = story.eventTimes!
        // A first guess assuming events spread evenly over the stored times.
        let stored = max(story.eventCount, 1)
        let windows = UInt64(max(1, stored / targetEvents, story.payloadBytes / targetBytes))
        var width = max(1, times.duration / windows)
        var start = span.start
        while start < span.end {
            let end = span.end - start > width ? start + width : span.end
            let answer = try read(TimeRange(start: start, end: end))
            completeness.add(answer.completeness)
            let chunk = answer.events
            try body(CatalogView.visibleEvents(of: chunk, entry: catalogEntry))
            // Adapt: shrink after a heavy window, grow after a light one.
            if chunk.count > 2 * targetEvents || chunk.payload.count > 2 * targetBytes {
                width = max(1, width / 4)
            } else if chunk.count < targetEvents / 4 && chunk.payload.count < targetBytes / 4 {
                width = width > UInt64.max / 2 ? UInt64.max : width * 2
            }
            start = end
        }
        return completeness
    }

    /// One window, damaged rows left out and reported.
    private func read(_ window: TimeRange) throws(ChronologFailure) -> ArchiveAnswer {
        do {
            return try reader.read(chronicle: story.chronicle, story: story.name, range: window)
        } catch {
            throw ChronologFailure(archive: reader.path, error: error)
        }
    }
}

extension ArchiveReader {
    /// The listed story `chronicle`/`story`.
    /// - Throws: `ChronologFailure` when the archive has no such story or its index is damaged.
    func story(chronicle: String, story: String) throws(ChronologFailure) -> ArchivedStory {
        let chronicles = try ArchivePath.chronicles(of: self)
        guard let found = chronicles.lazy.flatMap(\.stories).first(where: {
            Array($0.chronicle.utf8) == Array(chronicle.utf8) && Array($0.name.utf8) == Array(story.utf8)
        }) else {
            if let first = damagedGroups.first {
                throw ChronologFailure(path: path, problem: "no story '\(story)' in chronicle '\(chronicle)' among the readable ones: "
                    + "\(damagedGroups.count) group\(damagedGroups.count == 1 ? "" : "s") of the archive cannot be read, first \(first.location) "
                    + "(run `chronolog verify \(path)` for a full report)")
            }
            throw ChronologFailure(archive: path, error: .storyNotFound(chronicle: chronicle, story: story))
        }
        return found
    }
}
