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

/// A story destroyed and made again (`recreate`): the archive keeps every event and hides those of
/// earlier incarnations by each writer's index below its count then (docs/ARCHIVE.md), so a client's
/// indexes go on in the new story, and a replay of it holds the new events only.
struct RecreateChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recreate")
    @OptionGroup var options: JobChecks.Options

    func run() throws {
        try options.runOnFirstClient { _, client, c in
            func replayed(_ story: String) throws -> [String] {
                var out: [String] = []
                try client.replayStory("Again", story, from: 0, to: .max) { (chunk: StoryChunk) throws(ChronoLogError) in
                    for k in 0..<chunk.count {
                        let e = chunk.event(at: k)
                        out.append("\(e.index):" + String(decoding: e.record, as: UTF8.self))
                    }
                }
                return out
            }
            func logAndRelease(_ story: String, _ tag: String, _ count: Int) throws {
                let h = try client.acquireStory("Again", story)
                for i in 0..<count { _ = h.logEvent("\(tag)\(i)") }
                _ = try h.flush(durable: true)
                try client.releaseStory("Again", story)
            }
            try client.createChronicle("Again")
            try logAndRelease("s", "a", 3)
            try logAndRelease("s", "b", 2)
            c.expect("released and acquired again: indexes go on (\(try replayed("s")))",
                     try replayed("s") == ["0:a0", "1:a1", "2:a2", "3:b0", "4:b1"])
            try client.destroyStory("Again", "s")
            try logAndRelease("s", "c", 3)
            c.expect("destroyed and made again: the new events only, indexes going on (\(try replayed("s")))",
                     try replayed("s") == ["5:c0", "6:c1", "7:c2"])
            try client.destroyStory("Again", "s")
            try client.destroyChronicle("Again")
            try client.createChronicle("Again")
            try logAndRelease("s", "d", 2)
            c.expect("its chronicle destroyed and made again: the new events only (\(try replayed("s")))",
                     try replayed("s") == ["8:d0", "9:d1"])
        }
    }
}
