import ArgumentParser
import ChronoArchive
import ChronoModel

/// `chronolog export`: the events of chosen stories as one Chrome-trace (Perfetto) JSON timeline.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the events of chosen stories as a Chrome-trace/Perfetto JSON timeline.",
        discussion: """
            Opens in the Perfetto UI (ui.perfetto.dev) or chrome://tracing as one timeline of the \
            whole job. Stories: every --story CHRONICLE/STORY and every story of every --chronicle; \
            with neither, every story of the archive (destroyed ones left out).

            Tracks: one process per client (pid 1, 2, … in order of first appearance, named \
            "client <client_id>"), and in it one thread per story it wrote (tid 1, 2, … in the \
            order of the stories, named "<chronicle>/<story>"): one track per client and story. \
            Each event is an instant ("ph":"i", "s":"t"), named by its record when that is UTF-8 \
            (its first 64 bytes), otherwise "event"; "cat" is the chronicle; "args" holds time_ns \
            and client_id (as strings: 64-bit) with index and length.

            Times are the stored ones (already corrected by each client's measured clock offset \
            to the visor). "ts" is in microseconds, as the format wants, counted from an origin so \
            that a double keeps nanoseconds: by default the start of the exported stories' time span \
            within [--from, --to) (their earliest event, or --from when that falls inside a story's \
            span), or --origin NS (0 for absolute times, rounded to about 0.25 us by readers using doubles). \
            The origin is in "otherData" as chronolog_time_origin_ns.

            The output is one JSON object, each trace event on a line of its own, written story by \
            story, window by window: memory stays bounded for any story size. Events are in event \
            order within each story, so timestamps never go back on a track. Damaged index rows are \
            left out and named on standard error (exit status 3), as with replay.
            """)

    @Argument(help: ArgumentHelp("Archive directory or archive file.", valueName: "path"))
    var path: String = ArchivePath.defaultPath

    @Option(name: .long, help: "Output format: chrome-trace (Chrome trace-event JSON, read by Perfetto).")
    var format: ExportFormat = .chromeTrace

    @Option(name: .customLong("story"), help: ArgumentHelp("A story to export (repeatable).", valueName: "chronicle/story"))
    var stories: [String] = []

    @Option(name: .customLong("chronicle"), help: ArgumentHelp("Export every story of this chronicle (repeatable).", valueName: "chronicle"))
    var chronicles: [String] = []

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("First time included, in nanoseconds.", valueName: "ns"))
    var from: UInt64 = 0

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("First time excluded, in nanoseconds (default: no limit).", valueName: "ns"))
    var to: UInt64?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("The time, in nanoseconds, that ts counts from (default: the stories' earliest event, or --from when later).", valueName: "ns"))
    var origin: UInt64?

    @Option(name: [.short, .long], help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        if let to, from > to {
            throw ValidationError("--from \(from) is after --to \(to): the range [from, to) must not be reversed")
        }
        for s in stories { _ = try Self.split(s) }
        if chronicles.contains("") { throw ValidationError("--chronicle needs a chronicle name") }
    }

    /// `chronicle/story` split at its first `/` (names never hold one).
    static func split(_ argument: String) throws -> (chronicle: String, story: String) {
        guard let slash = argument.firstIndex(of: "/"), slash != argument.startIndex,
              argument.index(after: slash) != argument.endIndex else {
            throw ValidationError("--story \(argument.debugDescription): expected CHRONICLE/STORY")
        }
        return (String(argument[..<slash]), String(argument[argument.index(after: slash)...]))
    }

    func run() throws {
        let reader = try ArchivePath.open(path)
        let chosen = try selection(reader)
        let range = TimeRange(start: from, end: to ?? .max)
        let start = try timeOrigin(of: chosen, in: range)
        let sink = try output.map { (file: String) throws(ChronologFailure) in try OutputSink(path: file) } ?? OutputSink()
        let catalog = try CatalogView(archivePath: path)
        var writer = ChromeTraceWriter(sink: sink, origin: start)
        writer.begin(archive: path)
        var partial: [(ArchivedStory, ArchiveCompleteness)] = []
        for (tid, story) in chosen.enumerated() {
            writer.story = (tid: tid + 1, name: "\(story.chronicle)/\(story.name)", chronicle: story.chronicle)
            let scan = StoryScan(reader: reader, story: story, catalogEntry: catalog.entry(story))
            let completeness = try scan.forEachWindow(in: range) { chunk throws(ChronologFailure) in try writer.append(chunk) }
            if !completeness.isComplete { partial.append((story, completeness)) }
        }
        writer.end()
        try sink.close()
        try report(partial, groups: reader.damagedGroups)
    }

    /// The stories named by --story and --chronicle (every visible story when neither is given),
    /// each once, in archive order.
    /// - Throws: `ChronologFailure` naming a chronicle or story the archive does not have.
    private func selection(_ reader: ArchiveReader) throws -> [ArchivedStory] {
        let all = try ArchivePath.chronicles(of: reader)
        guard !stories.isEmpty || !chronicles.isEmpty else { return all.flatMap(\.stories) }
        var wanted = Set<[UInt8]>()
        func key(_ c: String, _ s: String) -> [UInt8] { Array(c.utf8) + [0] + Array(s.utf8) }
        for name in chronicles {
            guard let c = all.first(where: { Array($0.name.utf8) == Array(name.utf8) }) else {
                throw ChronologFailure(path: reader.path, problem: "no chronicle '\(name)' (`chronolog ls \(reader.path)` lists the chronicles)")
            }
            for s in c.stories { wanted.insert(key(s.chronicle, s.name)) }
        }
        for argument in stories {
            let (c, s) = try Self.split(argument)
            _ = try reader.story(chronicle: c, story: s)
            wanted.insert(key(c, s))
        }
        return all.flatMap(\.stories).filter { wanted.contains(key($0.chronicle, $0.name)) }
    }

    /// --origin, checked to be no later than any exported event, or the earliest stored time of
    /// the chosen stories in `range` (`range.start` when they store none there).
    private func timeOrigin(of chosen: [ArchivedStory], in range: TimeRange) throws -> UInt64 {
        let earliest = chosen.compactMap { $0.eventTimes.map { range.intersection($0) } }.filter { !$0.isEmpty }.map(\.start).min()
        guard let origin else { return earliest ?? range.start }
        if let earliest, origin > earliest {
            throw ValidationError("--origin \(origin) is after the earliest exported event time (\(earliest)): ts would be negative")
        }
        return origin
    }

    /// Names partial stories on standard error (after the output was completed); exit status 3
    /// when damaged rows were left out.
    private func report(_ partial: [(ArchivedStory, ArchiveCompleteness)], groups: [ArchiveProblem]) throws {
        var damaged = !groups.isEmpty
        for problem in groups { writeStandardError("chronolog: \(oneLine("\(problem.location): \(problem.detail)"))\n") }
        for (story, completeness) in partial {
            writeStandardError("chronolog: \(oneLine("\(path): story \"\(story.chronicle)\"/\"\(story.name)\": \(completeness)"))\n")
            for problem in completeness.damaged {
                writeStandardError("chronolog:   \(oneLine("\(problem.location): \(problem.detail)"))\n")
            }
            damaged = damaged || completeness.status == .damaged
        }
        if damaged {
            writeStandardError("chronolog: archive damaged: run `chronolog verify \(path)` for a full report\n")
            throw ExitCode(3)
        }
    }
}

/// The `export` output formats.
enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    /// Chrome's trace-event JSON (object form), which Perfetto and chrome://tracing open.
    case chromeTrace = "chrome-trace"
}
