import ArgumentParser
import ChronoArchive
import ChronoModel

/// `chronolog stats`: totals over the archive.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Totals: files, chronicles, stories, chunks, events, bytes, time span.",
        discussion: """
            Read from the archive's time indexes only. "events" counts stored records (an \
            event archived twice counts twice); "payload bytes" are record bytes; "file \
            bytes" is the size of the archive files on disk (HDF5 allocates about 2 MiB per \
            story at least). The time span runs from the first to the last stored event.
            """)

    @OptionGroup var archive: ArchivePathArgument
    @OptionGroup var output: JSONOutputOption

    @Flag(name: .long, help: "Add one line (text) or object (JSON) per story.")
    var perStory = false

    func run() throws {
        let reader = try ArchivePath.open(archive.path)
        let chronicles = try ArchivePath.chronicles(of: reader)
        let stats = ArchiveStats(path: archive.path, files: reader.files, chronicles: chronicles, perStory: perStory)
        if output.json {
            print(try ReportFormatting.json(stats), terminator: "")
            try ArchivePath.requireUndamaged(chronicles, path: archive.path, groups: reader.damagedGroups)
            return
        }
        print("archive        \(stats.path)")
        print("files          \(stats.files) (\(ReportFormatting.bytes(stats.fileBytes)) on disk)")
        print("chronicles     \(stats.chronicles)")
        print("stories        \(stats.stories) (\(stats.storiesWithEvents) with events)")
        print("chunks         \(stats.chunks)")
        print("events         \(stats.events)")
        print("payload bytes  \(ReportFormatting.bytes(stats.payloadBytes))"
            + (stats.events > 0 ? ", \(stats.payloadBytes / stats.events) B per event on average" : ""))
        print("time span      \(ReportFormatting.times(stats.timeSpan.map { TimeRange(start: $0.start, end: $0.end) }))")
        if let span = stats.timeSpan {
            print("duration       \(ReportFormatting.seconds(span.end - span.start))")
        }
        for s in stats.storyStats ?? [] {
            print("  \"\(s.chronicle)\" / \"\(s.story)\": \(s.events) events, \(s.chunks) chunks, "
                + "\(ReportFormatting.bytes(s.payloadBytes)), \(ReportFormatting.times(s.timeSpan.map { TimeRange(start: $0.start, end: $0.end) }))")
        }
        try ArchivePath.requireUndamaged(chronicles, path: archive.path, groups: reader.damagedGroups)
    }
}

/// What `stats` reports (and its `--json` document).
struct ArchiveStats: Codable {
    struct Story: Codable {
        var chronicle: String
        var story: String
        var events: Int
        var chunks: Int
        var payloadBytes: Int
        var timeSpan: TimeRangeJSON?

        enum CodingKeys: String, CodingKey {
            case chronicle, story, events, chunks
            case payloadBytes = "payload_bytes", timeSpan = "time_span"
        }
    }

    var path: String
    var files: Int
    var fileBytes: Int
    var chronicles: Int
    var stories: Int
    var storiesWithEvents: Int
    var chunks: Int
    var events: Int
    var payloadBytes: Int
    /// `[first, last + 1)` over every stored event; absent when the archive holds none.
    var timeSpan: TimeRangeJSON?
    var durationSeconds: Double
    var storyStats: [Story]?

    init(path: String, files: [String], chronicles: [ArchivedChronicle], perStory: Bool) {
        let stories = chronicles.flatMap(\.stories)
        self.path = path
        self.files = files.count
        fileBytes = files.reduce(0) { $0 + ArchivePath.fileSize($1) }
        self.chronicles = chronicles.count
        self.stories = stories.count
        storiesWithEvents = stories.filter { $0.eventCount > 0 }.count
        chunks = stories.reduce(0) { $0 + $1.chunkCount }
        events = stories.reduce(0) { $0 + $1.eventCount }
        payloadBytes = stories.reduce(0) { $0 + $1.payloadBytes }
        let span = stories.compactMap(\.eventTimes).reduce(nil as TimeRange?) { acc, t in acc.map { $0.union(t) } ?? t }
        timeSpan = span.map(TimeRangeJSON.init)
        durationSeconds = span.map { Double($0.duration) / 1e9 } ?? 0
        storyStats = perStory ? stories.map {
            Story(chronicle: $0.chronicle, story: $0.name, events: $0.eventCount, chunks: $0.chunkCount,
                  payloadBytes: $0.payloadBytes, timeSpan: $0.eventTimes.map(TimeRangeJSON.init))
        } : nil
    }

    enum CodingKeys: String, CodingKey {
        case path, files, chronicles, stories, chunks, events
        case fileBytes = "file_bytes", storiesWithEvents = "stories_with_events", payloadBytes = "payload_bytes"
        case timeSpan = "time_span", durationSeconds = "duration_seconds", storyStats = "per_story"
    }
}
