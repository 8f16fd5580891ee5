import ArgumentParser
import ChronoClient
import ChronoModel

/// A client whose workload fails while it holds a story: `job-checks failing-client`. Every
/// client acquires a story of its own and logs `--events` events; the first client then throws
/// without releasing or disconnecting, the others release and disconnect. The job must notice the
/// failed client (its rank finishes), archive everything it logged and drain at once, with exit
/// status 1 for the failed workload.
struct FailingClient: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "failing-client")
    @OptionGroup var options: JobChecks.Options
    @Option(help: "Events each client logs.")
    var events = 500

    func run() throws {
        let events = self.events
        let code = try options.job(minimumClients: 1).run { session, _ in
            guard let peers = session.peers else { throw CheckFailure("no client communicator") }
            let client = ChronoLogClient(session: session)
            try client.connect()
            if peers.rank == 0 { try client.createChronicle("failing") }
            try peers.barrier()
            let story = try client.acquireStory("failing", "held-\(peers.rank)")
            for i in 0..<events { _ = try story.log("event \(i) of client \(peers.rank)") }
            try peers.barrier()
            if peers.rank == 0 {
                print("FAILING client rank \(session.layout.worldRank) holds held-0")
                throw CheckFailure("deliberate failure while holding a story")
            }
            try client.releaseStory("failing", "held-\(peers.rank)")
            try client.disconnect()
            return [:]
        }
        throw ExitCode(code)
    }
}
