import ChronoModel

/// Whether an answer read from the archive holds everything the archive should hold for it:
/// complete, or partial and why (damaged rows left out; a crash tail of rows never committed; a
/// writer's tail the catalog records but the archive lacks, see ``ArchivedWriterEnds``).
public struct ArchiveCompleteness: Sendable, Hashable, CustomStringConvertible {
    /// The status, worst first.
    public enum Status: String, Sendable, Hashable {
        /// Rows the archive committed are damaged: their events are missing from the answer.
        case damaged
        /// The story ends in rows a killed writer left unfinished (never acknowledged durable).
        case crashTail = "crash-tail"
        /// A writer's events the archive catalog records (or a writer that never released the
        /// story) are not in the archive, and the answer's range reaches where they would be.
        case tailMissing = "tail-missing"
        /// Everything the archive committed for the story is in the answer.
        case complete
    }

    /// Damaged rows whose events are missing from the answer, with locations (story, row, range).
    public var damaged: [ArchiveProblem] = []
    /// Index rows of the story left out as a crash tail (rounds never committed).
    public var uncommittedRows = 0
    /// Files holding the story without a commit record (written before commit records existed):
    /// there a damaged row of the last round looks like a crash tail.
    public var legacyFiles: [String] = []
    /// Why writers' tails are missing from the answer, one reason per writer (as `verify` words them).
    public var missingTails: [String] = []

    /// Creates a complete status.
    public init() {}

    /// The status.
    public var status: Status {
        if !damaged.isEmpty { return .damaged }
        if uncommittedRows > 0 { return .crashTail }
        return missingTails.isEmpty ? .complete : .tailMissing
    }

    /// Whether nothing is missing.
    public var isComplete: Bool { status == .complete }

    /// Adds another answer's status (a damaged row reported twice counts once).
    public mutating func add(_ other: ArchiveCompleteness) {
        for p in other.damaged where !damaged.contains(p) { damaged.append(p) }
        uncommittedRows = max(uncommittedRows, other.uncommittedRows)
        for f in other.legacyFiles where !legacyFiles.contains(f) { legacyFiles.append(f) }
        for t in other.missingTails where !missingTails.contains(t) { missingTails.append(t) }
    }

    /// `complete`, or `partial: …` saying why, on one line.
    public var description: String {
        var text: String
        switch status {
        case .complete:
            text = "complete"
        case .damaged:
            text = "partial: \(damaged.count) damaged index row\(damaged.count == 1 ? "" : "s") left out"
            if uncommittedRows > 0 { text += ", and a crash tail of \(uncommittedRows) uncommitted row\(uncommittedRows == 1 ? "" : "s")" }
        case .crashTail:
            text = "partial: crash tail of \(uncommittedRows) index row\(uncommittedRows == 1 ? "" : "s") a killed writer "
                + "never committed (never acknowledged durable)"
        case .tailMissing:
            text = "partial: events the catalog records were never archived"
        }
        if !missingTails.isEmpty { text += ": " + missingTails.joined(separator: "; ") }
        if !legacyFiles.isEmpty {
            text += " (\(legacyFiles.count) file\(legacyFiles.count == 1 ? "" : "s") without a commit record: "
                + "a damaged last round there cannot be told from a crash tail)"
        }
        return text
    }
}

/// The events of a story range read from the archive, with whether they are all there.
public struct ArchiveAnswer: Sendable {
    /// The events read, in event order, each once (see `ArchiveReader.events(chronicle:story:range:)`).
    public var events: StoryChunk
    /// Complete, or partial and why.
    public var completeness: ArchiveCompleteness

    /// An answer of `events`, complete or not as `completeness` says.
    public init(events: StoryChunk, completeness: ArchiveCompleteness) {
        self.events = events
        self.completeness = completeness
    }
}

extension ArchiveReader {
    /// The events of one story with `range.start <= time < range.end`, like
    /// ``events(chronicle:story:range:)``, but damaged rows do not fail the read: they are left
    /// out and listed in the answer's completeness (story, row and range), together with the
    /// story's crash tail. Index rows whose own checksum fails are listed for every range (their
    /// range cannot be trusted); rows whose events or payload fail only when they overlap `range`.
    /// - Throws: `.storyNotFound` when no file holds the story; `.hdf5` on read failures;
    ///   `.corrupt` when the intact chunks cannot be merged.
    public func read(chronicle: String, story: String, range: TimeRange) throws(ArchiveError) -> ArchiveAnswer {
        let key = StoryKey(chronicle: chronicle, story: story)
        let holders = readers.filter { $0.stories[key] != nil }
        guard let first = holders.first, let entry = first.stories[key] else {
            throw .storyNotFound(chronicle: chronicle, story: story)
        }
        let id = entry.storyId
        var completeness = ArchiveCompleteness()
        var pieces: [StoryChunk] = []
        for reader in holders {
            let index = try reader.index(for: key)
            completeness.uncommittedRows += index.uncommitted
            completeness.damaged += index.damaged
            if case .legacy = reader.state { completeness.legacyFiles.append(reader.path) }
            if range.isEmpty { continue }
            for position in index.overlapping(range) {
                do {
                    let piece = try reader.chunk(index: index, row: position, window: range, storyId: id)
                    if !piece.isEmpty { pieces.append(piece) }
                } catch .corrupt(let location, let detail) {
                    let row = index.rows[position]
                    completeness.damaged.append(ArchiveProblem(
                        location: location,
                        detail: "\(reader.label(index.groupPath)): \(detail); range \(row.range), \(row.eventCount) events"))
                }
            }
        }
        if range.isEmpty { return ArchiveAnswer(events: .empty(storyId: id, range: range), completeness: completeness) }
        do {
            guard let merged = try StoryChunk.merge(pieces) else {
                return ArchiveAnswer(events: .empty(storyId: id, range: range), completeness: completeness)
            }
            let chunk = try StoryChunk(validatingStoryId: id, range: range, revision: merged.revision,
                                       records: merged.records, payload: merged.payload)
            return ArchiveAnswer(events: chunk, completeness: completeness)
        } catch {
            throw .corrupt(location: path, detail: "merging chunks of \(chronicle)/\(story): \(error)")
        }
    }
}
