import ArgumentParser
import ChronoClient
import ChronoModel
import ChronoSystem
import Foundation

/// `chronolog tail`: a live story's events as they complete, from a running service.
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow a story of a running service: print its events as they complete (Ctrl-C ends).",
        discussion: """
            Attaches to the service of the run directory (jobs/chronolog-service.sh; docs/ATTACH.md) \
            with the run directory's token (token.read is enough) and prints each event once, in \
            event order, as soon as every writer of the story has passed its time (the player's \
            answer says up to when it is complete), polling every --interval-ms. -n N first \
            prints the last N events already complete (from the archive and the keepers' memory). \
            Output formats as for `chronolog replay`. --no-follow prints the last N and exits.

            A story that does not exist yet is waited for (noted once on standard error). Exit \
            status: 0 after SIGINT/SIGTERM or --no-follow; 1 when no service answers (missing or \
            stale run directory: at once), the token is refused, or (--no-follow) the story does not exist.
            """)

    @OptionGroup var live: LiveServiceOptions

    @Argument(help: "Chronicle name.")
    var chronicle: String

    @Argument(help: "Story name.")
    var story: String

    @Option(name: .short, parsing: .unconditional, help: "Start with the last N events that are already complete.")
    var n: Int = 0

    @Option(name: .long, help: "Output format: text, csv or jsonl.")
    var format: EventFormat = .text

    @Option(name: .long, help: "Milliseconds between two polls of the player.")
    var intervalMs: Int = 20

    @Flag(name: .long, help: "Print the last N events and exit.")
    var noFollow = false

    nonisolated(unsafe) private static var waitingNoted = false

    func validate() throws {
        guard n >= 0, n <= Int(UInt32.max) else { throw ValidationError("-n must be 0 … \(UInt32.max)") }
        guard (1...60_000).contains(intervalMs) else { throw ValidationError("--interval-ms must be 1 … 60000") }
        try NameArguments.check(chronicle: chronicle, story: story)
    }

    func run() throws {
        ShutdownSignal.install()
        let service = try LiveService(live)
        defer { service.close() }
        let sink = OutputSink()
        let formatter = EventFormatter(format: format)
        formatter.header(into: sink)
        var cursor = try n > 0 ? printLast(n, service, formatter, sink) : service.visorNow
        try sink.flush()
        if !noFollow {
            // On standard error, so it never mixes with the events: from here on every event is printed.
            writeStandardError("chronolog: following \(chronicle)/\(story) (events completing from now on; Ctrl-C ends)\n")
        }
        while !noFollow && !ShutdownSignal.isRequested {
            cursor = try poll(from: cursor, service, formatter, sink)
            try sink.flush()
            Thread.sleep(forTimeInterval: Double(intervalMs) / 1000)
        }
    }

    /// Prints the last `count` complete events (one "last N" query: the keepers' memory, then the
    /// archive for what they no longer hold). - Returns: where following goes on.
    private func printLast(_ count: Int, _ service: LiveService, _ formatter: EventFormatter, _ sink: OutputSink) throws -> UInt64 {
        var last: UInt64?
        let outcome = try replay(service, from: 0, last: count) { chunk in
            for i in 0..<chunk.count { formatter.append(chunk, at: i, into: &sink.buffer) }
            if chunk.count > 0 { last = chunk.records[chunk.count - 1].time }
        }
        return outcome.isRecording ? outcome.completeBefore : (last.map { $0 + 1 } ?? 0)
    }

    /// Prints what completed since `cursor`. - Returns: the new cursor.
    private func poll(from cursor: UInt64, _ service: LiveService, _ formatter: EventFormatter, _ sink: OutputSink) throws -> UInt64 {
        var pieces: [StoryChunk] = []
        let outcome = try replay(service, from: cursor) { pieces.append($0) }
        // A story no longer recorded is final: everything in the answer is printed.
        let upTo = outcome.isRecording ? max(cursor, outcome.completeBefore) : .max
        var next = outcome.isRecording ? upTo : cursor
        for chunk in pieces {
            let part = chunk.slice(TimeRange(start: cursor, end: upTo))
            for i in 0..<part.count { formatter.append(part, at: i, into: &sink.buffer) }
            if !outcome.isRecording, part.count > 0 { next = max(next, part.records[part.count - 1].time + 1) }
        }
        return next
    }

    /// One replay from `start` on (its last `last` events when `last` > 0). A story that does not exist yet is empty (the first time, a
    /// note on standard error says tail waits for it).
    private func replay(_ service: LiveService, from start: UInt64, last: Int = 0,
                        _ body: (StoryChunk) -> Void) throws -> (completeBefore: UInt64, isRecording: Bool) {
        do throws(ChronoLogError) {
            let each = { (chunk: StoryChunk) throws(ChronoLogError) in body(chunk) }
            let outcome = last > 0
                ? try service.client.replayLast(chronicle, story, count: last, from: start, pieces: each)
                : try service.client.replayStory(chronicle, story, from: start, to: .max, pieces: each)
            return (outcome.completeBefore, outcome.isRecording)
        } catch where error.returnCode == .notExist && !noFollow {
            if !Self.waitingNoted {
                Self.waitingNoted = true
                writeStandardError("chronolog: \(chronicle)/\(story) does not exist yet; waiting for it\n")
            }
            return (start, true)
        } catch {
            throw ChronologFailure(path: "\(chronicle)/\(story)", problem: "\(error) (code \(error.returnCode.rawValue))")
        }
    }
}
