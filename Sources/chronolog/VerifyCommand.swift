import ArgumentParser
import ChronoArchive
import ChronoModel

/// `chronolog verify`: checks an archive end to end; the exit status says whether all is well.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an archive; exit status 0 only when no problem is found.",
        discussion: """
            Checks every archive file: that it opens (not truncated, HDF5, this archive \
            layout); every story's names, id and group path; every index row's checksum, \
            bounds and range; every chunk's event records (checksum, strict event order, times \
            inside the chunk's range, contiguous offsets) and payload bytes (checksum); that \
            chunks do not share rows or bytes; and the durable-range record (the /rounds \
            manifest) against the index rows.

            Then, per story and per client: indexes 0, 1, …, n−1 with no gap and no \
            duplicate, and times that do not decrease as the index grows (what clients write). \
            --skip-client-indexes leaves this out, for archives whose writers number events \
            otherwise (test fixtures, clients that resumed a story or dropped events on purpose).

            Then, per story the archive catalog (chronolog-catalog.json) knows, completeness: \
            "complete" when every writer that released the story has all its events archived \
            (indexes 0..<count, the count it reported at release), "partial" with the reason \
            otherwise (a writer's tail missing: archived N of M; a writer that never released \
            it: tail unknown). A partial story is a problem; so is a story the catalog knows with \
            writers whose events are all missing from the archive (archived 0 of M, or never \
            released). Stories the catalog marks destroyed are not checked (their events stay in \
            the file, hidden).

            Prints a summary and one line per problem (location: what is wrong). Exit status: \
            0 when nothing is wrong, 1 when a problem was found or there is no archive at the \
            path, 2 for a usage error.

            Each file's end is shown from its commit record: "closed cleanly" (every round \
            committed: any index row failing its checksum is damage), "not closed" (the writer \
            was killed or is still writing: rows of rounds after the last committed one that \
            were never completely written are a crash tail, counted as "uncommitted rows", not \
            problems, because they were never acknowledged durable), or "no commit record" \
            (files written before commit records: a damaged row in the last round cannot be \
            told from a crash tail there). A damaged row of a committed round is a problem \
            naming the story, the row and its stored time range.
            """)

    @OptionGroup var archive: ArchivePathArgument
    @OptionGroup var output: JSONOutputOption

    @Flag(name: .long, help: "Skip the per-client dense-index and time-order check.")
    var skipClientIndexes = false

    func run() throws {
        let path = archive.path
        try ArchivePath.requireExisting(path)
        let structural = ArchiveReader.verify(path: path)
        var report = VerifyReport(path: path, structural: structural)
        checkStories(into: &report)
        if skipClientIndexes { report.clientIndexes = "skipped (--skip-client-indexes)" }
        if output.json {
            print(try ReportFormatting.json(report), terminator: "")
        } else {
            print(report.text)
        }
        guard report.problems.isEmpty else {
            let first = report.problems[0]
            writeStandardError("chronolog: \(oneLine("\(path): \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s") found; first: \(first.location): \(first.detail)"))\n")
            throw ExitCode.failure
        }
    }

    /// Reads every story in time windows and runs `ClientIndexCheck` and `CompletenessCheck` on
    /// it. Stories (or files) that cannot be read are already problems of the structural check;
    /// they are noted as skipped.
    private func checkStories(into report: inout VerifyReport) {
        let reader: ArchiveReader
        let chronicles: [ArchivedChronicle]
        let catalog: CatalogView
        do {
            reader = try ArchivePath.open(archive.path)
            catalog = try CatalogView(archivePath: archive.path)
            chronicles = try ArchivePath.chronicles(of: reader)
        } catch {
            report.clientIndexes = "skipped: \(error)"
            if error.problem.hasPrefix("archive catalog") {
                report.problems.append(.init(kind: "catalog", location: error.path, detail: error.problem))
            }
            return
        }
        var stories = 0, clients = 0, skipped: [String] = []
        for story in chronicles.flatMap(\.stories) {
            let entry = catalog.entry(story)
            var check = ClientIndexCheck()
            var completeness = CompletenessCheck(entry: entry)
            check.firstIndexes = completeness.firstIndexes
            do {
                let stored = try StoryScan(reader: reader, story: story, catalogEntry: entry).forEachWindow(in: TimeRange(start: 0, end: .max)) { chunk in
                    check.add(chunk)
                    completeness.add(chunk)
                }
                // Damaged rows are archive problems already; the gaps they leave are not the clients'.
                if stored.status == .damaged { throw ChronologFailure(path: archive.path, problem: "damaged") }
            } catch {
                skipped.append("\"\(story.chronicle)\"/\"\(story.name)\"")
                continue
            }
            stories += 1
            clients += check.clientCount
            let location = "story \"\(story.chronicle)\"/\"\(story.name)\""
            report.record(completeness.result(), chronicle: story.chronicle, story: story.name, location: location)
            guard !skipClientIndexes else { continue }
            for p in check.problems(location: location) {
                report.problems.append(.init(kind: "client-index", location: p.location, detail: p.detail))
            }
        }
        report.clientIndexes = "checked \(stories) stor\(stories == 1 ? "y" : "ies"), \(clients) client stream\(clients == 1 ? "" : "s")"
            + (skipped.isEmpty ? "" : "; skipped unreadable \(skipped.joined(separator: ", "))")
    }
}

/// What `verify` found (and its `--json` document).
struct VerifyReport: Codable {
    struct FileState: Codable {
        var file: String
        /// `closed`, `not-closed` or `legacy`.
        var state: String
        var committedRounds: Int?
        var rounds: Int
        var detail: String

        init(_ status: ArchiveFileStatus) {
            file = status.file
            detail = status.state.description
            switch status.state {
            case .closedCleanly(let r): (state, committedRounds, rounds) = ("closed", r, r)
            case .notClosed(let c, let r): (state, committedRounds, rounds) = ("not-closed", c, r)
            case .legacy(let r): (state, committedRounds, rounds) = ("legacy", nil, r)
            }
        }

        enum CodingKeys: String, CodingKey {
            case file, state, rounds, detail
            case committedRounds = "committed_rounds"
        }
    }

    struct Problem: Codable {
        /// `archive` (files, indexes, chunks, manifest), `client-index`, `completeness` or `catalog`.
        var kind: String
        var location: String
        var detail: String
    }

    var path: String
    var ok: Bool { problems.isEmpty }
    var files: [String]
    var stories: Int
    var chunks: Int
    var events: Int
    var uncommittedRows: Int
    /// How each file ended: `closed`, `not-closed` or `legacy`, with a sentence.
    var fileStates: [FileState]
    /// What became of the per-client index check.
    var clientIndexes = ""
    /// Each checked story's completeness (`complete`, `partial`, or `unknown` without a catalog entry).
    var completeness: [StoryCompleteness] = []
    var problems: [Problem]

    /// One story's completeness.
    struct StoryCompleteness: Codable {
        var chronicle: String
        var story: String
        var state: CompletenessCheck.State
        var reasons: [String]
    }

    /// Records a story's completeness; a partial story is a problem.
    mutating func record(_ result: (state: CompletenessCheck.State, reasons: [String]), chronicle: String, story: String,
                         location: String) {
        completeness.append(StoryCompleteness(chronicle: chronicle, story: story, state: result.state, reasons: result.reasons))
        for reason in result.reasons { problems.append(Problem(kind: "completeness", location: location, detail: "partial: " + reason)) }
    }

    /// `complete 3, partial 1, unknown 0`.
    private var completenessSummary: String {
        let count = { (s: CompletenessCheck.State) in self.completeness.filter { $0.state == s }.count }
        return "complete \(count(.complete)), partial \(count(.partial)), not in a catalog \(count(.unknown))"
    }

    init(path: String, structural: ArchiveVerification) {
        self.path = path
        files = structural.files
        stories = structural.stories
        chunks = structural.chunks
        events = structural.events
        uncommittedRows = structural.uncommittedRows
        fileStates = structural.fileStates.map(FileState.init)
        problems = structural.problems.map { Problem(kind: "archive", location: $0.location, detail: oneLine($0.detail)) }
    }

    var text: String {
        var lines = [
            "\(ok ? "OK" : "PROBLEMS") \(path)",
            "  files \(files.count), stories \(stories), chunks \(chunks), events \(events), uncommitted rows \(uncommittedRows)",
            "  client indexes: \(clientIndexes)",
            "  stories: \(completenessSummary)",
        ]
        lines += fileStates.map { "  file \($0.file): \($0.detail)" }
        lines += completeness.filter { $0.state != .unknown }.map { "  story \"\($0.chronicle)\"/\"\($0.story)\": \($0.state.rawValue)" }
        if !ok { lines.append("  \(problems.count) problem\(problems.count == 1 ? "" : "s"):") }
        lines += problems.map { "  \($0.location): \($0.detail)" }
        return lines.joined(separator: "\n")
    }

    enum CodingKeys: String, CodingKey {
        case path, ok, files, stories, chunks, events, problems
        case uncommittedRows = "uncommitted_rows", clientIndexes = "client_indexes", fileStates = "file_states", completeness
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(ok, forKey: .ok)
        try c.encode(files, forKey: .files)
        try c.encode(stories, forKey: .stories)
        try c.encode(chunks, forKey: .chunks)
        try c.encode(events, forKey: .events)
        try c.encode(uncommittedRows, forKey: .uncommittedRows)
        try c.encode(fileStates, forKey: .fileStates)
        try c.encode(clientIndexes, forKey: .clientIndexes)
        try c.encode(completeness, forKey: .completeness)
        try c.encode(problems, forKey: .problems)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        files = try c.decode([String].self, forKey: .files)
        stories = try c.decode(Int.self, forKey: .stories)
        chunks = try c.decode(Int.self, forKey: .chunks)
        events = try c.decode(Int.self, forKey: .events)
        uncommittedRows = try c.decode(Int.self, forKey: .uncommittedRows)
        fileStates = try c.decode([FileState].self, forKey: .fileStates)
        clientIndexes = try c.decode(String.self, forKey: .clientIndexes)
        completeness = try c.decodeIfPresent([StoryCompleteness].self, forKey: .completeness) ?? []
        problems = try c.decode([Problem].self, forKey: .problems)
    }
}
