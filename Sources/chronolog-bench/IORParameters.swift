import ArgumentParser
import ChronoModel
import Foundation

/// The validated settings of one `chronolog-bench ior` run, the same on every rank (they come
/// from the command line). Written into the JSON summary as `parameters`.
struct IORParameters: Codable, Sendable {
    /// How the summary is written.
    enum SummaryFormat: String, Codable, Sendable {
        /// IOR-like text on standard output.
        case text
        /// The JSON document on standard output instead of the text.
        case json
    }

    /// The APIs, in the order they run within each iteration (`-a`).
    var apis: [IORAPI]
    /// Record bytes per event (`-t`).
    var eventBytes: Int
    /// Metadata bytes stored with every event by every API: ChronoLog's 32-byte event record.
    var recordBytes = EventRecord.byteSize
    /// Events each writer stores per write phase (from `-b`), spread round-robin over its stories.
    var eventsPerWriter: Int
    /// Stories (baselines: files or HDF5 groups) each writer writes to (`-s`).
    var storiesPerWriter: Int
    /// `-F`: each writer has stories (files) of its own; otherwise every writer writes to the same shared ones.
    var storyPerRank: Bool
    /// Whether write phases run (`-w`; both phases when neither `-w` nor `-r` is given).
    var write: Bool
    /// Whether read phases run (`-r`).
    var read: Bool
    /// `-C`: each rank reads what another rank wrote (the next rank's, with `-F`).
    var readOtherRank: Bool
    /// Repetitions of the whole test (`-i`).
    var iterations: Int
    /// Stonewall (`-D`): a writer stops storing events after this many seconds of writing; 0 = off.
    var stonewallSeconds: Int
    /// `-e`: the timed write phase ends only once the data is durable.
    var durable: Bool
    /// Directory of the baselines' files and, unless `--set archive.directory` names another, of the archive (`-o`).
    var directory: String
    /// Baselines: bytes buffered per story before one I/O call (`--buffer-size`).
    var bufferBytes: Int
    /// `logEvent` (and baseline append) latency is sampled on every n-th event.
    var sampleEvery: Int
    /// CHRONOLOG: interval of the time-to-durable probe during a write phase, ms (0 = only the final flush).
    var durableProbeMs: Int
    /// `-k`: keep the baselines' files.
    var keepFiles: Bool
    /// `-O summaryFormat=`.
    var summaryFormat: SummaryFormat
    /// `-O summaryFile=` or `--json`: where the JSON summary is written.
    var summaryFile: String?
    /// CHRONOLOG: the archive bytes each grapher leaves in the page cache (`archive.pageCacheBytes`);
    /// printed in the header, since the baselines' files stay there whole.
    var archivePageCacheBytes = 0
    /// CHRONOLOG: the archive's directory (`archive.directory`).
    var archiveDirectory = ""
    /// What the page cache holds of each API's files when its read phase starts (`--read-cache`).
    var readCache = IORReadCache.cold
    /// `-R`: every event read back is compared with what its writer wrote (``IORReadCheck``).
    var readCheck = false

    /// Bytes one event takes in every API: its record bytes plus its 32-byte metadata record.
    var storedEventBytes: Int { eventBytes + recordBytes }

    /// Events per baseline I/O call of one story.
    var eventsPerTransfer: Int { max(1, bufferBytes / storedEventBytes) }

    // MARK: Parsing IOR-style values

    /// The largest block a writer may store per phase: 1 TiB.
    static let maxBlockBytes = 1 << 40

    /// Parses `-b`: bytes of event records per writer with an optional `k`, `m`, `g` or `t` suffix
    /// (powers of 1024, as in IOR), or a count of events with the suffix `e` (`-b 100000e`).
    /// - Returns: events per writer.
    /// - Throws: `ValidationError` for a malformed value, fewer bytes than one event, or more than 1 TiB.
    static func parseBlock(_ text: String, eventBytes: Int) throws -> Int {
        let lower = text.lowercased()
        let suffixes: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        var digits = Substring(lower), multiplier = 1, isEvents = false
        if let last = digits.last {
            if last == "e" {
                isEvents = true
                digits = digits.dropLast()
            } else if let m = suffixes[last] {
                multiplier = m
                digits = digits.dropLast()
            }
        }
        guard let n = Int(digits), n > 0 else {
            throw ValidationError("-b \(text): expected a positive number of bytes (suffix k, m, g or t for KiB … TiB) or of events (suffix e)")
        }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: isEvents ? eventBytes : multiplier)
        guard !overflow, bytes <= maxBlockBytes else {
            throw ValidationError("-b \(text): more than 1 TiB of event records per writer")
        }
        let events = isEvents ? n : bytes / eventBytes
        guard events > 0 else {
            throw ValidationError("-b \(text): \(bytes) B is less than one \(eventBytes)-B event (-t)")
        }
        return events
    }

    /// Parses IOR's `-O key=value` settings: `summaryFormat=JSON|default` and `summaryFile=PATH`.
    /// - Throws: `ValidationError` naming an unknown key or value.
    static func parseIOROptions(_ settings: [String]) throws -> (format: SummaryFormat, file: String?) {
        var format = SummaryFormat.text, file: String?
        for setting in settings {
            for item in setting.split(separator: ",") {
                let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, !kv[1].isEmpty else {
                    throw ValidationError("-O \(setting): expected key=value (summaryFormat=JSON or summaryFile=PATH)")
                }
                switch kv[0].lowercased() {
                case "summaryformat":
                    switch kv[1].lowercased() {
                    case "json": format = .json
                    case "default", "text": format = .text
                    default: throw ValidationError("-O summaryFormat=\(kv[1]): expected JSON or default")
                    }
                case "summaryfile":
                    file = kv[1]
                default:
                    throw ValidationError("-O \(kv[0]): unknown setting (known: summaryFormat, summaryFile)")
                }
            }
        }
        return (format, file)
    }

    /// Checks every bound; the messages name the option and its range.
    /// - Parameter maxEventBytes: the configuration's `story.maxEventBytes` (CHRONOLOG refuses larger events).
    func validate(maxEventBytes: Int) throws {
        func bound(_ name: String, _ value: Int, _ range: ClosedRange<Int>, _ why: String = "") throws {
            guard range.contains(value) else {
                throw ValidationError("\(name) \(value) is outside \(range.lowerBound)…\(range.upperBound)\(why.isEmpty ? "" : " (\(why))")")
            }
        }
        try bound("-t", eventBytes, 1...maxEventBytes, "story.maxEventBytes; raise it with --set story.maxEventBytes=N")
        try bound("-s", storiesPerWriter, 1...4096)
        try bound("-i", iterations, 1...10_000)
        try bound("-D", stonewallSeconds, 0...86_400, "one day")
        try bound("--buffer-size", bufferBytes, max(4096, storedEventBytes)...(1 << 30), "at least one event and its 32-B record, at most 1 GiB")
        try bound("--sample-every", sampleEvery, 1...1_000_000)
        try bound("--durable-probe-ms", durableProbeMs, 0...60_000)
        guard eventsPerWriter >= storiesPerWriter else {
            throw ValidationError("-b gives \(eventsPerWriter) event(s) per writer, fewer than the \(storiesPerWriter) stories of -s: every story needs one")
        }
        guard storiesPerWriter * bufferBytes <= 4 << 30 else {
            throw ValidationError("-s \(storiesPerWriter) × --buffer-size \(bufferBytes) is more than 4 GiB of baseline buffers per writer")
        }
        guard !read || write else {
            throw ValidationError("-r needs the events of a write phase of the same run: give -w -r (or neither)")
        }
        guard !readOtherRank || read else { throw ValidationError("-C needs a read phase (-r, or neither -w nor -r)") }
        guard !directory.isEmpty, !directory.utf8.contains(0) else { throw ValidationError("-o must be a non-empty path") }
    }
}
