import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation

/// "Last N" when the keepers fail the direct path (`last-fallback`), run with keepers that take
/// read grants slowly (`--grant-delay-ms`, longer than `timeouts.connectMs`) and never answer
/// direct queries (`--keepers-ignore-direct`). The route request waits as long as the query may
/// (not `timeouts.connectMs`); a direct query the keepers leave unanswered falls back to the
/// player after half the query's timeout, with the right events, and the route is asked again
/// by the next query.
struct LastFallbackChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "last-fallback")
    @OptionGroup var options: JobChecks.Options

    func run() throws {
        try options.runOnFirstClient { session, client, c in
            try client.createChronicle("Fallback")
            let last = try LastDirectChecks.logDurably(client, "Fallback", "s", events: 50)
            c.expect("the story is complete past its last event", try LastDirectChecks.completePast(client, "Fallback", "s", last))
            for query in 1...2 {
                let before = session.replayCounters
                let started = ContinuousClock.now
                var got: [Event]?
                let code = rc { got = try client.replayLast("Fallback", "s", count: 10, timeoutMs: 2_000) }
                let took = ContinuousClock.now - started
                let after = session.replayCounters
                let delta = { (counter: Counter) in LastDirectChecks.delta(before, after, counter) }
                c.expect("query \(query): last 10 → 0 (\(code), \(took))", code == 0)
                c.expect("query \(query): events 40…49 (\(got?.map(\.index) ?? []))", LastDirectChecks.exactly(got, 40..<50))
                c.expect("query \(query): the route was asked, the keepers timed out, the player answered (\(after))",
                         delta(.replayRoutes) == 1 && delta(.replayLastDirectTimedOut) == 1 && delta(.replayLastPlayer) == 1
                            && delta(.replayLastDirect) == 0)
            }
            try client.releaseStory("Fallback", "s")
        }
    }
}
