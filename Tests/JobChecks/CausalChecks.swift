import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation

/// Causal order across processes of one host (`causal`): two client ranks ping-pong over MPI, each
/// logging an event just before it sends and just after it receives, into one story. Replayed,
/// the events must come in the order they happened: ping i, pong i, ping i + 1, … On the visor's
/// host every client reads the visor's clock itself (offset exactly 0), so no estimate's error
/// can swap two of them.
struct CausalChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "causal")
    @OptionGroup var options: JobChecks.Options
    @Option(help: "Round trips.")
    var rounds = 500

    func run() throws {
        let rounds = self.rounds
        let code = try options.job(minimumClients: 2).run { session, _ in
            guard let peers = session.peers, peers.size >= 2 else { throw CheckFailure("needs 2 client ranks") }
            var c = Checker()
            let client = ChronoLogClient(session: session, mode: .writerReader)
            try client.connect()
            if let offset = client.clockOffset { print("OFFSET\t\(peers.rank)\t\(offset.offset)\t\(offset.errorBound)") }
            if peers.rank == 0 { try client.createChronicle("Causal") }
            try peers.barrier()
            if peers.rank < 2 {
                let story = try client.acquireStory("Causal", "pingpong")
                let other = 1 - peers.rank
                for i in 0..<rounds {
                    if peers.rank == 0 {
                        _ = story.logEvent("ping \(i)")
                        try peers.send([1], to: other, tag: 7)
                        _ = try peers.receive(from: other, tag: 7)
                    } else {
                        _ = try peers.receive(from: other, tag: 7)
                        _ = story.logEvent("pong \(i)")
                        try peers.send([1], to: other, tag: 7)
                    }
                }
                try client.releaseStory("Causal", "pingpong")
            }
            try peers.barrier()
            if peers.rank == 0 {
                var names: [String] = []
                try client.replayStory("Causal", "pingpong", from: 0, to: .max) { (chunk: StoryChunk) throws(ChronoLogError) in
                    for k in 0..<chunk.count { names.append(String(decoding: chunk.event(at: k).record, as: UTF8.self)) }
                }
                let expected = (0..<rounds).flatMap { ["ping \($0)", "pong \($0)"] }
                let swapped = zip(names, expected).filter { $0 != $1 }.count
                c.expect("the \(names.count) events replay in the order they happened (\(swapped) out of place)",
                         names == expected)
            }
            try client.disconnect()
            return try c.finish()
        }
        throw ExitCode(code)
    }
}
