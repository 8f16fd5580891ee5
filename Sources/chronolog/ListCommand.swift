import ArgumentParser
import ChronoArchive
import ChronoModel

/// `chronolog ls`: the archive's chronicles and stories.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List chronicles and stories: event counts, time ranges, sizes.",
        discussion: """
            Read from the archive's time indexes only (fast on any archive size). For each \
            story: stored events and chunks, record bytes, the first and last event time, and \
            its durable ranges (the time ranges whose acknowledged events are all archived). \
            "events" counts stored records: an event archived twice (a revision, or a chunk \
            archived again by a later job) counts twice here and is replayed once.

            Stories the archive catalog (chronolog-catalog.json) marks destroyed are not \
            listed; --all lists them, marked "(destroyed)". "writers" is what the catalog \
            recorded: the event count each writer reported when it released the story, and \
            writers that never released it. `chronolog verify` checks that those events are \
            archived (complete or partial).
            """)

    @OptionGroup var archive: ArchivePathArgument
    @OptionGroup var output: JSONOutputOption

    @Flag(name: .long, help: "Also list the stories the catalog marks destroyed.")
    var all = false

    @Flag(name: .long, help: "List the chronicles and stories of a running service instead (--run-dir; docs/ATTACH.md): whether each story is being recorded and its events so far (a replay of each story counts them).")
    var live = false

    @OptionGroup var service: LiveServiceOptions

    func run() throws {
        if live { return try LiveListing(options: service, json: output.json).run() }
        let reader = try ArchivePath.open(archive.path)
        let chronicles = try ArchivePath.chronicles(of: reader, includeDestroyed: all)
        let catalog = try CatalogView(archivePath: archive.path)
        if output.json {
            print(try ReportFormatting.json(ListingJSON(path: archive.path, files: reader.files, chronicles: chronicles, catalog: catalog)),
                  terminator: "")
            try ArchivePath.requireUndamaged(chronicles, path: archive.path, groups: reader.damagedGroups)
            return
        }
        let stories = chronicles.reduce(0) { $0 + $1.stories.count }
        print("\(archive.path): \(reader.files.count) file\(reader.files.count == 1 ? "" : "s"), "
            + "\(chronicles.count) chronicle\(chronicles.count == 1 ? "" : "s"), \(stories) stor\(stories == 1 ? "y" : "ies")")
        for c in chronicles {
            print("chronicle \"\(c.name)\" (\(c.stories.count) stor\(c.stories.count == 1 ? "y" : "ies"))")
            for s in c.stories {
                let mark = catalog.isDestroyed(s) ? " (destroyed)" : ""
                let nothing = s.files.isEmpty ? " (in the catalog only: no event archived)" : ""
                print("  story \"\(s.name)\"\(mark): \(s.eventCount) events, \(s.chunkCount) chunks, \(ReportFormatting.bytes(s.payloadBytes))\(nothing)")
                if let entry = catalog.entry(s), !catalog.isDestroyed(s) { print("    writers \(Self.writers(entry))") }
                print("    times   \(ReportFormatting.times(s.eventTimes))")
                let durable = s.durableRanges.prefix(4).map(\.description).joined(separator: " ")
                print("    durable \(durable)\(s.durableRanges.count > 4 ? " … (\(s.durableRanges.count) ranges)" : "")")
                if s.damagedRows > 0 {
                    print("    DAMAGED \(s.damagedRows) index row\(s.damagedRows == 1 ? "" : "s") left out (`chronolog verify` names them)")
                }
                if s.uncommittedRows > 0 {
                    print("    crash tail: \(s.uncommittedRows) uncommitted index row\(s.uncommittedRows == 1 ? "" : "s") (never acknowledged durable)")
                }
            }
        }
        try ArchivePath.requireUndamaged(chronicles, path: archive.path, groups: reader.damagedGroups)
    }

    /// `2 released (80 events), 1 never released`.
    static func writers(_ entry: CatalogStory) -> String {
        let released = entry.writers.compactMap(\.count)
        let open = entry.writers.count - released.count
        let visible = entry.writers.reduce(UInt64(0)) { sum, w in
            guard let count = w.count else { return sum }
            return sum + count - min(count, entry.firstVisibleIndex(client: w.client))
        }
        return "\(released.count) released (\(visible) events)" + (open > 0 ? ", \(open) never released (partial: tail unknown)" : "")
    }
}

/// `ls --json`.
struct ListingJSON: Codable {
    struct Chronicle: Codable {
        var name: String
        var chronicleId: String
        var stories: [Story]
    }

    struct Story: Codable {
        var chronicle: String
        var name: String
        var storyId: String
        var events: Int
        var chunks: Int
        var payloadBytes: Int
        /// `[first, last + 1)` of the stored event times; absent without events.
        var eventTimes: TimeRangeJSON?
        var durableRanges: [TimeRangeJSON]
        var files: [String]
        /// Index rows left out as damage / as a crash tail.
        var damagedRows: Int
        var uncommittedRows: Int
        /// Whether the catalog marks it destroyed (listed with `--all` only).
        var destroyed = false
        /// The catalog's writers of the story (absent without a catalog entry).
        var writers: [CatalogWriter]?

        init(_ s: ArchivedStory, catalog: CatalogView) {
            destroyed = catalog.isDestroyed(s)
            writers = destroyed ? nil : catalog.entry(s)?.writers
            chronicle = s.chronicle
            name = s.name
            storyId = s.storyId.description
            events = s.eventCount
            chunks = s.chunkCount
            payloadBytes = s.payloadBytes
            eventTimes = s.eventTimes.map(TimeRangeJSON.init)
            durableRanges = s.durableRanges.map(TimeRangeJSON.init)
            files = s.files
            damagedRows = s.damagedRows
            uncommittedRows = s.uncommittedRows
        }

        enum CodingKeys: String, CodingKey {
            case chronicle, name, events, chunks, files
            case storyId = "story_id", payloadBytes = "payload_bytes", eventTimes = "event_times"
            case durableRanges = "durable_ranges", damagedRows = "damaged_rows", uncommittedRows = "uncommitted_rows"
            case destroyed, writers
        }
    }

    var path: String
    var files: [String]
    var chronicles: [Chronicle]

    init(path: String, files: [String], chronicles: [ArchivedChronicle], catalog: CatalogView) {
        self.path = path
        self.files = files
        self.chronicles = chronicles.map {
            Chronicle(name: $0.name, chronicleId: $0.chronicleId.description, stories: $0.stories.map { Story($0, catalog: catalog) })
        }
    }
}

extension ListingJSON.Chronicle {
    enum CodingKeys: String, CodingKey {
        case name, stories
        case chronicleId = "chronicle_id"
    }
}
