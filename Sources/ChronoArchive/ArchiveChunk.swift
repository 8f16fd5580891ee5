import ChronoModel

/// One sealed chunk to archive, with its story's identity.
///
/// `chronicle` and `story` must be valid names (`ChronicleName`, `StoryName`) and
/// `chunk.storyId` must be `StoryID(chronicle:story:)` of them; `ArchiveWriter.writeRound`
/// refuses the round otherwise.
public struct ArchiveChunk: Sendable {
    /// The chronicle's name.
    public var chronicle: String
    /// The story's name.
    public var story: String
    /// The sealed chunk: story id, range, revision, records and payload.
    public var chunk: StoryChunk

    /// Creates an archive chunk.
    public init(chronicle: String, story: String, chunk: StoryChunk) {
        self.chronicle = chronicle
        self.story = story
        self.chunk = chunk
    }
}

/// What one `ArchiveWriter.writeRound` call did.
public struct ArchiveRoundReport: Sendable, CustomStringConvertible {
    /// The round number in the file (row of `/rounds`), or `nil` when no rank passed any chunk
    /// (nothing was written or flushed).
    public var round: UInt64?
    /// Chunks this rank archived.
    public var chunks: Int
    /// Events this rank archived.
    public var events: Int
    /// Record bytes (payload) this rank archived.
    public var payloadBytes: Int
    /// Bytes this rank wrote to the file: event rows, payload and index rows.
    public var bytesWritten: Int
    /// Events archived by all ranks in this round.
    public var totalEvents: Int
    /// Bytes written by all ranks in this round.
    public var totalBytesWritten: Int
    /// Stories whose groups and datasets were created in this round (all ranks).
    public var storiesCreated: Int
    /// Seconds spent in the call on this rank.
    public var elapsedSeconds: Double
    /// Seconds of those spent in the final flush.
    public var flushSeconds: Double

    /// Creates a report.
    public init(round: UInt64?, chunks: Int, events: Int, payloadBytes: Int, bytesWritten: Int, totalEvents: Int,
                totalBytesWritten: Int, storiesCreated: Int, elapsedSeconds: Double, flushSeconds: Double) {
        self.round = round
        self.chunks = chunks
        self.events = events
        self.payloadBytes = payloadBytes
        self.bytesWritten = bytesWritten
        self.totalEvents = totalEvents
        self.totalBytesWritten = totalBytesWritten
        self.storiesCreated = storiesCreated
        self.elapsedSeconds = elapsedSeconds
        self.flushSeconds = flushSeconds
    }

    /// One line: round, this rank's events and bytes, totals, time.
    public var description: String {
        "round \(round.map(String.init) ?? "-"): \(chunks) chunks, \(events) events, \(bytesWritten) bytes here; "
            + "\(totalEvents) events, \(totalBytesWritten) bytes in all; \(storiesCreated) new stories; "
            + "\(Int(elapsedSeconds * 1e6)) µs (flush \(Int(flushSeconds * 1e6)) µs)"
    }
}

/// A story's identity as UTF-8 bytes, ordered byte-wise (chronicle first): every rank sorts the
/// stories of a round the same way.
struct StoryKey: Hashable, Comparable, Sendable {
    let chronicle: [UInt8]
    let story: [UInt8]

    init(chronicle: String, story: String) {
        self.chronicle = Array(chronicle.utf8)
        self.story = Array(story.utf8)
    }

    init(chronicleBytes: [UInt8], storyBytes: [UInt8]) {
        self.chronicle = chronicleBytes
        self.story = storyBytes
    }

    var chronicleName: String { String(decoding: chronicle, as: UTF8.self) }
    var storyName: String { String(decoding: story, as: UTF8.self) }

    static func < (a: StoryKey, b: StoryKey) -> Bool {
        if a.chronicle != b.chronicle { return a.chronicle.lexicographicallyPrecedes(b.chronicle) }
        return a.story.lexicographicallyPrecedes(b.story)
    }
}
