import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation

/// "Last N" the keepers answer only in part (`last-below`): one client logs 300 events to a story
/// it keeps recorded, then asks 20 times for its last 1000. Each query goes to the keepers
/// directly (they hold fewer than 1000), then to the player for the part below what they cover
/// only: the player does not ask the keepers for their last N again (the test compares the
/// keepers' answers with the queries the player received).
struct LastBelowChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "last-below")
    @OptionGroup var options: JobChecks.Options

    func run() throws {
        try options.runOnFirstClient { session, client, c in
            try client.createChronicle("Below")
            let last = try LastDirectChecks.logDurably(client, "Below", "s", events: 300)
            c.expect("the story is complete past its last event", try LastDirectChecks.completePast(client, "Below", "s", last))
            let before = session.replayCounters
            var same = 0
            for _ in 0..<20 where LastDirectChecks.exactly(try client.replayLast("Below", "s", count: 1000), 0..<300) { same += 1 }
            let after = session.replayCounters
            let delta = { (counter: Counter) in LastDirectChecks.delta(before, after, counter) }
            c.expect("20 last-1000 queries are the 300 events logged (\(same))", same == 20)
            // The first query asked the visor for the route.
            c.expect("…each asked the keepers, then the player for the part below theirs (\(after))",
                     delta(.replayLastBelowKeepers) == 20 && delta(.replayLastPlayer) == 20 && delta(.replayRoutes) == 1)
            try client.releaseStory("Below", "s")
        }
    }
}
