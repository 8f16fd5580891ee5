import ArgumentParser
import ChronoArchive
import ChronoClient
import ChronoModel

/// `chronolog replay`: one story's events in a time range, as text, CSV or JSON lines.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Print one story's events in time order (text, CSV or JSON lines).",
        discussion: """
            Events with FROM <= time < TO (nanoseconds; default: the whole story), in event \
            order (time, client_id, index), each once even when archived twice. The story is \
            read window by window, so memory stays bounded for any story size.

            Formats (one event per line):
              text   time<TAB>client_id<TAB>index<TAB>length<TAB>record. Printable UTF-8 is \
            shown as is; \\ becomes \\\\, newline/CR/tab become \\n, \\r, \\t, and any other \
            byte (controls, bytes that are not UTF-8) becomes \\xHH.
              csv    a header line "time,client_id,index,length,record", then one row per \
            event; record is the record bytes in standard base64 (RFC 4648, with = padding; \
            empty for an empty record). No field ever needs quoting.
              jsonl  {"time":T,"client_id":C,"index":I,"length":L,"record":"..."} with the \
            record as a JSON string when it is valid UTF-8, otherwise "record_base64":"..." \
            (standard base64) instead of "record". Numbers are integers (times exceed 2^53: \
            read them as 64-bit integers).

            Completeness: when the answer is not everything the archive committed for the \
            story, standard error says why. Damaged index rows are left out (every intact event \
            is still printed) and each is named with its story, row and time range; the exit \
            status is then 3. A crash tail (rows a killed writer never committed, whose events \
            were never acknowledged durable) is noted on standard error with exit status 0. \
            A replay of the whole story (no --from, no --to) is also checked against the \
            catalog's record of what each writer logged, like verify: a writer's tail missing \
            (archived N of M events) or unknown (it never released the story) is noted on \
            standard error, exit status 0. A replay of a range notes the same when the range \
            reaches past that writer's last archived event (what is missing lies after it), as \
            the player's answers in a job do.
            """)

    @Argument(help: ArgumentHelp("Archive directory or archive file.", valueName: "path"))
    var path: String

    @Argument(help: "Chronicle name.")
    var chronicle: String

    @Argument(help: "Story name (with --live: absent, the arguments are CHRONICLE STORY).")
    var story: String?

    @Flag(name: .long, help: "Replay from a running service instead of an archive: `chronolog replay --live CHRONICLE STORY` (--run-dir; docs/ATTACH.md), events from the archive and the keepers' memory.")
    var live = false

    @OptionGroup var service: LiveServiceOptions

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("First time included, in nanoseconds.", valueName: "ns"))
    var from: UInt64 = 0

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("First time excluded, in nanoseconds (default: no limit).", valueName: "ns"))
    var to: UInt64?

    @Option(name: .long, help: "Output format: text, csv or jsonl.")
    var format: EventFormat = .text

    @Option(name: [.short, .long], help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        if live != (story == nil) {
            throw ValidationError(live ? "--live takes CHRONICLE STORY (no archive path)" : "missing the story name")
        }
        if let to, from > to {
            throw ValidationError("--from \(from) is after --to \(to): the range [from, to) must not be reversed")
        }
        // With --live the arguments are CHRONICLE STORY.
        if let story { try NameArguments.check(chronicle: chronicle, story: story) } else { try NameArguments.check(chronicle: path, story: chronicle) }
    }

    func run() throws {
        guard let story else { return try replayLive(chronicle: path, story: chronicle) }
        let reader = try ArchivePath.open(path)
        let catalog = try CatalogView(archivePath: path)
        // A story the catalog knows with no event archived is listed too: an empty answer, noted
        // partial when its writers logged some.
        let listed = try reader.story(chronicle: chronicle, story: story)
        let sink = try output.map { (file: String) throws(ChronologFailure) in try OutputSink(path: file) } ?? OutputSink()
        let formatter = EventFormatter(format: format)
        formatter.header(into: sink)
        let entry = catalog.entry(listed)
        // A whole-story replay is checked against the writers' counts in the catalog, like verify.
        var writers = from == 0 && to == nil ? CompletenessCheck(entry: entry) : nil
        let completeness = try StoryScan(reader: reader, story: listed, catalogEntry: entry).forEachWindow(in: TimeRange(start: from, end: to ?? .max)) { chunk throws(ChronologFailure) in
            writers?.add(chunk)
            for i in 0..<chunk.count {
                formatter.append(chunk, at: i, into: &sink.buffer)
                try sink.flushIfFull()
            }
        }
        try sink.close()
        reportWriters(writers?.result())
        if writers == nil, let entry { try reportRangeTails(entry, story: listed, reader: reader) }
        try report(completeness)
    }

    /// For a range: writers whose tail is missing (or unknown) where the range reaches, found as the
    /// player finds them (``ArchivedWriterEnds``); noted on standard error, exit status 0.
    private func reportRangeTails(_ entry: CatalogStory, story: ArchivedStory, reader: ArchiveReader) throws(ChronologFailure) {
        let writers = entry.earlierWriters(before: .max)
        guard !writers.isEmpty else { return }
        let reasons: [String]
        do {
            reasons = try ArchivedWriterEnds.scan(reader, chronicle: story.chronicle, story: story.name,
                                                  clients: Set(writers.map(\.client)))
                .missingTails(of: writers, before: to ?? .max)
        } catch {
            throw ChronologFailure(archive: path, error: error)
        }
        reportWriters(reasons.isEmpty ? nil : (.partial, reasons))
    }

    /// Writes to standard error why a whole-story answer lacks events the catalog says its writers
    /// logged (a writer's tail missing, or unknown); the exit status stays 0.
    private func reportWriters(_ result: (state: CompletenessCheck.State, reasons: [String])?) {
        guard let result, result.state == .partial else { return }
        writeStandardError("chronolog: \(oneLine("\(path): story \"\(chronicle)\"/\"\(story ?? "")\": partial: events the catalog records were never archived"))\n")
        for reason in result.reasons { writeStandardError("chronolog:   \(oneLine(reason))\n") }
    }

    /// `--live`: the story's events in [from, to) from the running service, in the same formats.
    private func replayLive(chronicle: String, story: String) throws {
        let live = try LiveService(service)
        defer { live.close() }
        let sink = try output.map { (file: String) throws(ChronologFailure) in try OutputSink(path: file) } ?? OutputSink()
        let formatter = EventFormatter(format: format)
        formatter.header(into: sink)
        var failure: ChronologFailure?
        do throws(ChronoLogError) {
            try live.client.replayStory(chronicle, story, from: from, to: to ?? .max) { (chunk: StoryChunk) throws(ChronoLogError) in
                for i in 0..<chunk.count { formatter.append(chunk, at: i, into: &sink.buffer) }
                do throws(ChronologFailure) { try sink.flushIfFull() } catch { failure = error; throw .invalidArgument("output failed") }
            }
        } catch {
            throw failure ?? ChronologFailure(path: "\(chronicle)/\(story)", problem: "\(error) (code \(error.returnCode.rawValue))")
        }
        try sink.close()
    }

    /// Writes a partial answer's reasons to standard error; exit status 3 when damaged rows were left out.
    private func report(_ completeness: ArchiveCompleteness) throws {
        guard !completeness.isComplete else { return }
        writeStandardError("chronolog: \(oneLine("\(path): story \"\(chronicle)\"/\"\(story ?? "")\": \(completeness)"))\n")
        for problem in completeness.damaged {
            writeStandardError("chronolog:   \(oneLine("\(problem.location): \(problem.detail)"))\n")
        }
        if completeness.status == .damaged {
            writeStandardError("chronolog: archive damaged: run `chronolog verify \(path)` for a full report\n")
            throw ExitCode(3)
        }
    }
}
