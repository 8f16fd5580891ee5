import ArgumentParser
import ChronoClient
import ChronoDeployment
import ChronoModel
import Foundation
import Histogram
import Synchronization

/// "Last N" latency under mpirun: one client rank logs steadily to a live story on a thread of
/// its own while its main thread asks for the story's last N events again and again, timing each
/// answer (`replayLast`: the keepers' memory, the archive for what they no longer hold); then the
/// same on the story once released and archived (the archive path).
struct LastBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "last",
        abstract: "Latency (p50/p99) of \"last N\" queries on a live story and on an archived one.",
        discussion: """
            Run under mpirun with one client rank, e.g. `mpirun -n 5 chronolog-bench last` (visor, \
            keeper, grapher, player + 1 client). Target (issue 18): p50 ≤ 0.2 ms for N = 100 on a \
            live story (ChronoLog 3.1: 0.4 ms). The client's summary counts queries the story's keepers \
            answered directly (replay.last.direct) and those sent through the visor to the player \
            (replay.last.player); the player's, those it answered from memory alone (queries.last.memory) \
            and those that read the archive (queries.last.archive).
            """)

    @Option(name: .short, help: "Events per query (N).")
    var n = 100

    @Option(help: "Queries timed per phase (after --warmup untimed ones).")
    var samples = 2000

    @Option(help: "Untimed queries before each phase.")
    var warmup = 100

    @Option(help: "Events per second the writer logs to the live story.")
    var rate = 2000

    @Option(help: "Bytes per event record.")
    var size = 256

    @OptionGroup var configuration: ConfigurationOptions

    func validate() throws {
        guard n > 0, samples > 0, warmup >= 0, rate > 0, size >= 0 else {
            throw ValidationError("-n, --samples and --rate must be positive, --warmup and --size at least 0")
        }
    }

    func run() throws {
        let config = try configuration.load()
        let (n, samples, warmup, rate, size) = (self.n, self.samples, self.warmup, self.rate, self.size)
        let status = ChronoJob(config: config, minimumClients: 1).run { session, _ in
            guard let peers = session.peers, peers.rank == 0 else { return [:] }
            let client = ChronoLogClient(session: session, mode: .writerReader)
            try client.connect()
            // A chronicle of this run's own: earlier runs over the same archive left theirs.
            let chronicle = "last-\(PeerAgreement.stamp())"
            try client.createChronicle(chronicle)
            let live = try client.acquireStory(chronicle, "live")
            let stop = Atomic<Bool>(false)
            let writer = Thread {
                let record = [UInt8](repeating: 0x4c, count: size)
                let gap = 1.0 / Double(rate)
                var next = Date()
                while !stop.load(ordering: .relaxed) {
                    _ = live.logEvent(record)
                    next += gap
                    let wait = next.timeIntervalSinceNow
                    if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                }
            }
            writer.start()
            Thread.sleep(forTimeInterval: 1)  // the story holds more than N events
            let liveResult = try Self.time(client, chronicle: chronicle, n: n, samples: samples, warmup: warmup)
            print("last: live story (\(rate) events/s), N=\(n): \(liveResult)")
            // The same path's floor: a replay of the story's last millisecond (visor, player, keepers).
            let small = try Self.time(client, chronicle: chronicle, n: 0, samples: samples, warmup: warmup)
            print("last: for comparison, replay of the live story's last 1 ms: \(small)")
            stop.store(true, ordering: .relaxed)
            while !writer.isFinished { Thread.sleep(forTimeInterval: 0.001) }
            try client.releaseStory(chronicle, "live")
            Thread.sleep(forTimeInterval: 2)  // archived, and let go of by the keeper
            let archived = try Self.time(client, chronicle: chronicle, n: n, samples: max(1, samples / 10), warmup: min(warmup, 10))
            print("last: archived story, N=\(n): \(archived)")
            fflush(nil)
            try client.disconnect()
            return [:]
        }
        throw ExitCode(status)
    }

    /// Times `samples` last-N queries of `chronicle`/live after `warmup` untimed ones (`n` 0: replays of
    /// its last millisecond instead).
    /// - Returns: "p50 … ms, p99 … ms, max … ms (k queries, m events each)".
    static func time(_ client: ChronoLogClient, chronicle: String, n: Int, samples: Int, warmup: Int) throws -> String {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var events = 0
        for i in 0..<(warmup + samples) {
            let started = ContinuousClock.now
            var got = 0
            let count = { (chunk: StoryChunk) throws(ChronoLogError) in got += chunk.count }
            if n > 0 {
                try client.replayLast(chronicle, "live", count: n, pieces: count)
            } else {
                let now = UInt64(clamping: Int64(bitPattern: SystemClock().now()) &+ (client.clockOffset?.offset ?? 0))
                try client.replayStory(chronicle, "live", from: now &- 1_000_000, to: .max, pieces: count)
            }
            let took = ContinuousClock.now - started
            if i >= warmup {
                histogram.record(UInt64(took / .nanoseconds(1)))
                events += got
            }
        }
        let ms = { (v: UInt64) in String(format: "%.3f", Double(v) / 1e6) }
        return "p50 \(ms(histogram.valueAtPercentile(50))) ms, p99 \(ms(histogram.valueAtPercentile(99))) ms, "
            + "max \(ms(histogram.max)) ms (\(samples) queries, \(events / max(1, samples)) events each on average)"
    }
}
