import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation

/// A request that times out, whose answer comes late (`stale-reply`), run with keepers that take
/// read grants slowly (`--grant-delay-ms`, longer than a route request with a short query timeout
/// waits): the route request of a "last N" query gives up (−8); the visor's route answer (an
/// `acquireReply`, like an acquire's) arrives while the next request, an acquire of another story,
/// waits. The acquire must get its own story, and the call after it its own answer; the late
/// answer is dropped and counted (`replies.stale`).
struct StaleReplyChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stale-reply")
    @OptionGroup var options: JobChecks.Options

    func run() throws {
        try options.runOnFirstClient { session, client, c in
            try client.createChronicle("Stale")
            let first = try client.acquireStory("Stale", "first")
            for i in 0..<10 { _ = try first.log("first \(i)") }
            _ = try first.flush(durable: true)
            // The route request waits the query's timeout plus 2 s (at least timeouts.connectMs, 1 s here);
            // the keepers take the grant later.
            let started = ContinuousClock.now
            let routeCode = rc { _ = try client.replayLast("Stale", "first", count: 3, timeoutMs: 100) }
            c.expect("the route request timed out: −8 (\(routeCode), \(ContinuousClock.now - started))", routeCode == -8)
            let staleBefore = session.requestCounters[.repliesStale] ?? 0
            let second = try client.acquireStory("Stale", "second")
            c.expect("the acquire got its own story (\(second.storyId), not \(first.storyId)), by the acquire's answer",
                     second.storyId != first.storyId && second.story == "second")
            c.expect("the call after it gets its own answer", rc { try client.createChronicle("After") } == 0)
            c.expect("the chronicle it created is listed", (try? client.showChronicles().contains("After")) == true)
            c.expect("the late route answer was dropped and counted (\(session.requestCounters))",
                     (session.requestCounters[.repliesStale] ?? 0) == staleBefore + 1)
            // Events logged to the second story are the second story's.
            for i in 0..<5 { _ = try second.log("second \(i)") }
            _ = try second.flush(durable: true)
            let replayed = try client.replayStory("Stale", "second", from: 0, to: .max)
            c.expect("the second story replays its own 5 events (\(replayed.map(\.recordText)))",
                     replayed.map(\.recordText) == (0..<5).map { "second \($0)" })
            try client.releaseStory("Stale", "first")
            try client.releaseStory("Stale", "second")
        }
    }
}
