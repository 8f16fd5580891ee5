import ChronoModel

/// A chronicle found in an archive, with its stories.
public struct ArchivedChronicle: Sendable, Hashable {
    /// The chronicle's name (from the group's `name` attribute).
    public var name: String
    /// The chronicle's id.
    public var chronicleId: ChronicleID
    /// Its stories, in byte order of their names.
    public var stories: [ArchivedStory]

    /// Creates a description.
    public init(name: String, chronicleId: ChronicleID, stories: [ArchivedStory]) {
        self.name = name
        self.chronicleId = chronicleId
        self.stories = stories
    }
}

/// A story found in an archive: what is stored and which time ranges are durable.
public struct ArchivedStory: Sendable, Hashable {
    /// The chronicle's name.
    public var chronicle: String
    /// The story's name.
    public var name: String
    /// The story id (`story_id` attribute).
    public var storyId: StoryID
    /// Archived chunks (valid index rows), over all files.
    public var chunkCount: Int
    /// Stored event records over all chunks. Revisions and re-archived chunks may store an event
    /// more than once; a replay returns it once.
    public var eventCount: Int
    /// Stored record bytes over all chunks.
    public var payloadBytes: Int
    /// The smallest and largest stored event time as `[min, max + 1)`, or `nil` without events.
    public var eventTimes: TimeRange?
    /// The durable time ranges: the union of the archived chunks' ranges, merged and sorted.
    /// Every event of the story inside these ranges that was acknowledged is in the archive.
    public var durableRanges: [TimeRange]
    /// The archive files holding the story.
    public var files: [String]
    /// Index rows left out as damage (a checksum or bound fails where no crash tail can be):
    /// events in them are missing from every read; `verify` names them.
    public var damagedRows = 0
    /// Index rows left out as a crash tail: never completely written, in rounds not committed
    /// (their events were never acknowledged durable).
    public var uncommittedRows = 0

    /// Creates a description.
    public init(chronicle: String, name: String, storyId: StoryID, chunkCount: Int, eventCount: Int, payloadBytes: Int,
                eventTimes: TimeRange?, durableRanges: [TimeRange], files: [String]) {
        self.chronicle = chronicle
        self.name = name
        self.storyId = storyId
        self.chunkCount = chunkCount
        self.eventCount = eventCount
        self.payloadBytes = payloadBytes
        self.eventTimes = eventTimes
        self.durableRanges = durableRanges
        self.files = files
    }
}

/// What `ArchiveReader.verify()` found.
public struct ArchiveVerification: Sendable, CustomStringConvertible {
    /// Files examined.
    public var files: [String]
    /// Stories examined.
    public var stories: Int
    /// Index rows (chunks) examined.
    public var chunks: Int
    /// Event records examined.
    public var events: Int
    /// Index rows of rounds never committed that were never completely written (a writer killed
    /// before its flush leaves them); ignored by readers, not a problem.
    public var uncommittedRows: Int
    /// Everything wrong, with locations.
    public var problems: [ArchiveProblem]
    /// How each file ended (closed cleanly, not closed, or no commit record), in file order.
    public var fileStates: [ArchiveFileStatus] = []

    /// Whether nothing is wrong.
    public var isValid: Bool { problems.isEmpty }

    /// A summary line, then one line per problem.
    public var description: String {
        var lines = ["\(isValid ? "OK" : "PROBLEMS") files=\(files.count) stories=\(stories) chunks=\(chunks) "
            + "events=\(events) uncommittedRows=\(uncommittedRows) problems=\(problems.count)"]
        lines += fileStates.map { "  \($0)" }
        lines += problems.map { "  \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// How one archive file ended, by its commit record.
public struct ArchiveFileStatus: Sendable, Hashable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// Closed cleanly, not closed, or no commit record.
    public var state: ArchiveFileState

    /// Creates a status.
    public init(file: String, state: ArchiveFileState) {
        self.file = file
        self.state = state
    }

    /// `file: state`.
    public var description: String { "\(file): \(state)" }
}

/// One problem found by verification.
public struct ArchiveProblem: Sendable, Hashable, CustomStringConvertible {
    /// Where: `file`, `file:/hdf5/path`, or `file:/hdf5/path row n`.
    public var location: String
    /// What is wrong.
    public var detail: String

    /// Creates a problem.
    public init(location: String, detail: String) {
        self.location = location
        self.detail = detail
    }

    /// `location: detail`.
    public var description: String { "\(location): \(detail)" }
}

/// Merges ranges into sorted, disjoint, non-adjacent ranges.
func mergeRanges(_ ranges: [TimeRange]) -> [TimeRange] {
    var out: [TimeRange] = []
    for r in ranges.filter({ !$0.isEmpty }).sorted(by: { ($0.start, $0.end) < ($1.start, $1.end) }) {
        if let last = out.last, r.start <= last.end {
            out[out.count - 1].end = max(last.end, r.end)
        } else {
            out.append(r)
        }
    }
    return out
}
