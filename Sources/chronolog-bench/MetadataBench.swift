import ChronoDeployment
import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation

/// Metadata-call rates (connect, create chronicle, acquire, release) of a whole job under mpirun.
struct MetadataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata",
        abstract: "Connect, create-chronicle, acquire and release rates with every client rank calling at once.",
        discussion: """
            Run under mpirun, e.g. `mpirun -n 5 chronolog-bench metadata` (1 client) or \
            `mpirun -n 8 chronolog-bench metadata` (4 clients). Each client rank performs \
            --count operations of each kind between barriers; the rate is all operations over \
            the slowest client's time. ChronoLog v2.7's published single-node sample: 845 \
            connects/s, 555 acquires/s, 248 releases/s.
            """)

    @Option(help: "Operations of each kind per client rank.")
    var count = 1000

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
    }

    func run() throws {
        let count = self.count, json = self.json
        let job = ChronoJob(config: try ChronoConfig.load(environment: ProcessInfo.processInfo.environment), minimumClients: 1)
        let status = job.run { session, _ in
            guard let peers = session.peers else { return [:] }
            let me = peers.rank
            // Names of this run's own (a run killed before its clean-up leaves its chronicles).
            let prefix = "meta-\(try PeerAgreement.runStamp(peers))-\(me)"
            var results: [(String, Double)] = []
            func measure(_ name: String, _ body: () throws -> Void) throws {
                try peers.barrier()
                let start = ContinuousClock.now
                try PeerAgreement.together(peers, name, body)  // a rank's failure ends the run on all
                let mine = (ContinuousClock.now - start) / .microseconds(1)
                let slowest = try peers.allreduce(mine, op: .max)
                results.append((name, Double(count * peers.size) / (slowest / 1e6)))
            }
            let client = ChronoLogClient(session: session)
            try measure("connect+disconnect") {
                for _ in 0..<count { try client.connect(); try client.disconnect() }
            }
            try PeerAgreement.together(peers, "connect") { try client.connect() }
            try measure("createChronicle") {
                for i in 0..<count { try client.createChronicle("\(prefix)-\(i)") }
            }
            try measure("acquireStory") {
                for i in 0..<count { _ = try client.acquireStory("\(prefix)-\(i)", "s") }
            }
            try measure("releaseStory") {
                for i in 0..<count { try client.releaseStory("\(prefix)-\(i)", "s") }
            }
            // Not measured: the chronicles go, so runs over the same archive directory (whose
            // catalog a job loads) do not pile them up; without events they leave no trace.
            try PeerAgreement.together(peers, "destroyChronicle") {
                for i in 0..<count { try client.destroyChronicle("\(prefix)-\(i)") }
                try client.disconnect()
            }
            if me == 0 {
                if json {
                    let fields = results.map { "\"\($0.0)\": \(Int($0.1))" }.joined(separator: ", ")
                    print("{\"clients\": \(peers.size), \"countPerClient\": \(count), \(fields)}")
                } else {
                    print("metadata rates, \(peers.size) client rank(s), \(count) ops each:")
                    for (name, rate) in results {
                        print("  \(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(Int(rate)) ops/s")
                    }
                }
                fflush(nil)
            }
            return [:]
        }
        if status != 0 { throw ExitCode(status) }
    }
}
