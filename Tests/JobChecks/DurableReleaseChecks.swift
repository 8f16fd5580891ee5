import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation
import Synchronization

/// A durable flush racing a release (`durable-release`): one thread logs, another flushes durably
/// again and again, and the main thread releases the story meanwhile, ten times over. Each flush
/// must answer promptly — the events durable, or −5 once the story is released — never wait out
/// the stall limit for a reply the client stopped routing to it.
struct DurableReleaseChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "durable-release")
    @OptionGroup var options: JobChecks.Options

    func run() throws {
        try options.runOnFirstClient { _, client, c in
            try client.createChronicle("Race")
            var slowest: Duration = .zero
            var codes: [Int32: Int] = [:]
            var durableAnswers = 0
            for round in 0..<10 {
                let story = try client.acquireStory("Race", "s-\(round)")
                let stop = Atomic<Bool>(false)
                let results = Mutex<[(rc: Int32, took: Duration)]>([])
                let logger = Thread {
                    var i = 0
                    while !stop.load(ordering: .relaxed) {
                        _ = story.logEvent("event \(i)")
                        i += 1
                    }
                }
                let flusher = Thread {
                    while !stop.load(ordering: .relaxed) {
                        let started = ContinuousClock.now
                        let code = rc { _ = try story.flush(durable: true) }
                        results.withLock { $0.append((code, ContinuousClock.now - started)) }
                        if code != 0 { break }
                    }
                }
                logger.start()
                flusher.start()
                Thread.sleep(forTimeInterval: 0.25)
                try client.releaseStory("Race", "s-\(round)")
                stop.store(true, ordering: .relaxed)
                // The flusher's last call returns by itself: wait for it (bounded), then for the logger.
                let deadline = ContinuousClock.now + .seconds(60)
                while !flusher.isFinished || !logger.isFinished, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
                for r in results.withLock({ $0 }) {
                    slowest = max(slowest, r.took)
                    codes[r.rc, default: 0] += 1
                    if r.rc == 0 { durableAnswers += 1 }
                }
            }
            print("FLUSHES \(codes.sorted { $0.key < $1.key }) slowest \(slowest)")
            c.expect("durable flushes answered while the stories were released (\(durableAnswers))", durableAnswers > 0)
            c.expect("every flush answered 0 or -5 (\(codes))", codes.keys.allSatisfy { $0 == 0 || $0 == -5 })
            // The stall limit is max(timeouts.shutdownDrainMs, timeouts.connectMs): 30 s by default.
            c.expect("no flush waited out the stall limit (slowest \(slowest))", slowest < .seconds(10))
        }
    }
}
