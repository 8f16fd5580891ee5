import ChronoSystem
import ChronoClient
import ChronoModel
import ChronoRoles
import Logging

/// The built-in workload of client ranks: connect, create the demo chronicle (one client wins,
/// the others see "chronicle exists"), acquire a shared story and stories of its own, list
/// them, log `eventsPerStory` events to each, release everything and disconnect; `rounds` times,
/// or until SIGTERM/SIGINT (a round cut short by the visor's refusal to start stories once it
/// drains releases what it holds and ends the workload).
struct DemoWorkload {
    let session: ChronoSession
    let storiesPerClient: Int
    let rounds: Int
    let eventsPerStory: Int
    let logger: Logger

    func run() throws(ChronoLogError) -> Counters {
        var counters: Counters = [:]
        let rank = session.layout.worldRank
        let client = ChronoLogClient(session: session)
        try client.connect()
        counters[.connects] = 1
        if let offset = client.clockOffset {
            counters[.clockOffsetErrorBoundNs] = offset.errorBound
        }
        do {
            try client.createChronicle("demo", attributes: ["purpose": "built-in workload"])
            counters[.chroniclesCreated] = 1
        } catch .chronicleExists {
            counters[.chroniclesExisted] = 1
        }
        var names = ["shared"]
        for s in 0..<storiesPerClient { names.append("rank\(rank)-story\(s)") }
        for _ in 0..<rounds {
            if ShutdownSignal.isRequested { break }
            var held: [String] = []
            for name in names {
                let story: StoryHandle
                do {
                    story = try client.acquireStory("demo", name)
                } catch .noConnection where ShutdownSignal.isRequested {
                    break  // the visor stopped starting stories (its drain deadline passed): end the round
                }
                held.append(name)
                counters[.storiesAcquired, default: 0] += 1
                for i in 0..<eventsPerStory {
                    _ = try story.log("demo event \(i) of \(name) from rank \(rank)")
                }
            }
            if held.count == names.count {
                let listed = try client.showStories("demo")
                counters[.storiesListed, default: 0] += UInt64(listed.count)
            }
            for name in held {
                try client.releaseStory("demo", name)
                counters[.storiesReleased, default: 0] += 1
            }
            if held.count < names.count { break }
            counters[.rounds, default: 0] += 1
        }
        try client.disconnect()
        counters[.disconnects] = 1
        logger.debug("demo workload done: \(counters)")
        return counters
    }
}
