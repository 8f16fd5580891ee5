import ChronoSystem
import ArgumentParser
import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation

/// Every client logs events of many sizes (0 B to 64 KiB, binary, empty) to stories with UTF-8
/// names, flushes and releases; each rank prints what it logged as `LOGGED` lines, which
/// `verify_job_archive.py` compares with the archive after the job. On SIGTERM it stops logging
/// and reports what it logged so far.
struct ArchiveRoundTrip: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "archive-roundtrip")
    @OptionGroup var options: JobChecks.Options
    @Option(help: "Events each client logs to each story.")
    var events = 200
    @Option(help: "Microseconds to pause between events (spreads events over several chunks).")
    var pauseMicroseconds = 0
    @Option(help: "Milliseconds the last client rank holds every story without logging (0: it logs like the others).")
    var idleHolderMs = 0
    @Option(help: "Stories each client logs to (1 to \(Self.maxStories); past the \(Self.stories.count) named ones, `story-N`).")
    var storyCount = Self.stories.count

    @Flag(help: "Client rank 0 (a reader too) first replays every story in the job and prints a REPLAY line per story: its events and the answer's completeness (an earlier job's partial stories).")
    var replayFirst = false
    @Option(help: "After logging, flush durably, print DURABLE lines, then wait this many seconds (to be killed) before releasing.")
    var durableThenWaitSeconds = 0

    /// Prints one line the tests parse and flushes it at once: mpirun forwards each rank's output
    /// in reads of at most 4 KiB, so a rank's buffered lines flushed together could be cut mid-line
    /// and interleaved with another rank's (a CI run once failed on a cut `LOGGED` line).
    static func line(_ text: String) {
        print(text)
        fflush(nil)
    }

    static let chronicle = "Prüfung-📦"
    static let stories = ["plain", "ストーリー", "🚀 launch", "with.dots..and spaces"]
    static let sizes = [0, 1, 17, 255, 4096, 65536, 3, 0]
    static let maxStories = 64

    /// The first `count` story names: the named ones, then `story-4`, `story-5`, ...
    static func storyNames(_ count: Int) -> [String] {
        Array((stories + (stories.count..<max(stories.count, count)).map { "story-\($0)" }).prefix(count))
    }

    /// The payload of event `index` of `client` in `story`: recomputed by the verifier.
    static func payload(story: String, client: UInt64, index: UInt32) -> [UInt8] {
        let size = sizes[Int(index) % sizes.count]
        let s = story.utf8.reduce(UInt64(0)) { $0 &+ UInt64($1) }
        return (0..<size).map { j in UInt8(truncatingIfNeeded: client &* 31 &+ UInt64(index) &* 7 &+ UInt64(j) &* 13 &+ s) }
    }

    /// Replays each story whole and prints `REPLAY <story>: <events> events, complete|partial: …`.
    static func replayEach(_ stories: [String], _ client: ChronoLogClient) throws {
        for story in stories {
            var count = 0
            let outcome = try client.replayStory(chronicle, story, from: 0, to: .max) { (chunk: StoryChunk) throws(ChronoLogError) in
                count += chunk.count
            }
            print("REPLAY \(story): \(count) events, \(outcome.partial ?? "complete")")
        }
    }

    func validate() throws {
        guard (1...Self.maxStories).contains(storyCount) else {
            throw ValidationError("--story-count must be 1 to \(Self.maxStories)")
        }
    }

    func run() throws {
        let stories = Self.storyNames(storyCount)
        let events = self.events, pause = self.pauseMicroseconds, idleHolderMs = self.idleHolderMs
        let durableWait = durableThenWaitSeconds
        let replayFirst = self.replayFirst
        let code = try options.job(minimumClients: 1).run { session, _ in
            guard let peers = session.peers else { throw CheckFailure("no client communicator") }
            var c = Checker()
            let client = ChronoLogClient(session: session, mode: replayFirst && peers.rank == 0 ? .writerReader : .writer)
            try client.connect()
            guard let id = client.clientId else { throw CheckFailure("no client id") }
            if let measured = client.clockOffset { Self.line("OFFSET\t\(id.rawValue)\t\(measured.offset)\t\(measured.errorBound)") }
            if peers.rank == 0 {
                // A job appending to an earlier job's archive finds the chronicle in the catalog.
                do { try client.createChronicle(Self.chronicle) } catch ChronoLogError.chronicleExists {}
                if replayFirst { try Self.replayEach(stories, client) }
            }
            try peers.barrier()
            var handles: [(String, StoryHandle)] = []
            for story in stories { handles.append((story, try client.acquireStory(Self.chronicle, story))) }
            var lastTime: [String: UInt64] = [:]
            // An idle co-holder: its keeper must not wait for it to seal the others' events (its idle
            // watermarks keep the stories' ranges completing).
            let idle = idleHolderMs > 0 && peers.rank == peers.size - 1
            if idle {
                let until = ContinuousClock.now + .milliseconds(idleHolderMs)
                while ContinuousClock.now < until && !ShutdownSignal.isRequested { usleep(10_000) }
            }
            var logged: [String: UInt64] = [:], wentBack = 0, zero = 0
            for i in 0..<(idle ? 0 : events) {
                if ShutdownSignal.isRequested { break }  // SIGTERM: stop logging, flush what was logged
                for (story, h) in handles {
                    let t = try h.log(Self.payload(story: story, client: id.rawValue, index: UInt32(i)))
                    if t < lastTime[story, default: 0] { wentBack += 1 }
                    if t == 0 { zero += 1 }
                    lastTime[story] = t
                    logged[story, default: 0] += 1
                }
                if pause > 0 { usleep(UInt32(pause)) }
            }
            c.expect("timestamps never went back (\(wentBack) went back)", wentBack == 0)
            c.expect("every event got a timestamp (\(zero) got 0)", zero == 0)
            if durableWait > 0 {
                // Durable means it survives the job being killed now: the test SIGKILLs every rank
                // once all DURABLE lines are out and reads the archive.
                for (story, h) in handles {
                    let durable = try h.flush(durable: true) ?? 0
                    c.expect("flush(durable:) counts every event logged to \(story)", durable == h.eventsLogged)
                    Self.line("DURABLE\t\(Self.chronicle)\t\(story)\t\(id.rawValue)\t\(durable)")
                }
                fflush(nil)
                let until = ContinuousClock.now + .seconds(durableWait)
                while ContinuousClock.now < until && !ShutdownSignal.isRequested { usleep(10_000) }
            }
            for (story, h) in handles {
                c.expect("the handle of \(story) counted every event logged (\(h.eventsLogged) of \(logged[story, default: 0]))",
                         h.eventsLogged == logged[story, default: 0])
                try h.flush()
                Self.line("LOGGED\t\(Self.chronicle)\t\(story)\t\(id.rawValue)\t\(h.eventsLogged)")
                Self.line("GROUP\t\(Self.chronicle)\t\(story)\t\(h.groupId)")
                try client.releaseStory(Self.chronicle, story)
            }
            fflush(nil)
            try client.disconnect()
            var counters = try c.finish()
            counters[.checksPassed] = nil
            return counters
        }
        throw ExitCode(code)
    }
}
