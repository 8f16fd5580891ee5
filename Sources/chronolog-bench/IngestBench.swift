import ChronoDeployment
import ChronoSystem
import ArgumentParser
import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation
import Histogram

/// Event ingest under mpirun: every client rank logs events of a fixed size to its own story as
/// fast as it can; reports events/s, MiB/s and `logEvent` latency, and the job summary gives the
/// time from log to durable (graphers' `durable.latency.p50/p99`).
struct IngestBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Events/s, MiB/s and logEvent latency with every client rank logging at once.",
        discussion: """
            Run under mpirun, e.g. `mpirun -n 6 chronolog-bench ingest` (2 writer ranks: visor, \
            keeper, grapher, player + 2 clients). Latency is sampled on every --sample-every-th \
            event with the monotonic clock. Targets (issue 5): ≥ 2 M events/s with 2 writers of \
            256-B events, logEvent p99 ≤ 2 µs, durable p99 ≤ 1 s.
            """)

    @Option(help: "Events each client rank logs.")
    var events = 2_000_000

    @Option(help: "Bytes per event record.")
    var size = 256

    @Option(help: "Sample the latency of every n-th event.")
    var sampleEvery = 8

    @OptionGroup var configuration: ConfigurationOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard events > 0, size >= 0, sampleEvery > 0 else { throw ValidationError("--events, --sample-every must be positive") }
    }

    func run() throws {
        let config = try configuration.load()
        let events = self.events, size = self.size, every = self.sampleEvery, json = self.json
        let status = try Self.runJob(config: config) { session in
            guard let peers = session.peers else { return [:] }
            let client = ChronoLogClient(session: session)
            // A chronicle of this run's own; a rank's failure ends the run on every rank.
            let chronicle = "ingest-\(try PeerAgreement.runStamp(peers))"
            try PeerAgreement.together(peers, "connect") { try client.connect() }
            try PeerAgreement.onFirst(peers, "createChronicle") { try client.createChronicle(chronicle) }
            let story = try PeerAgreement.together(peers, "acquireStory") { try client.acquireStory(chronicle, "writer-\(peers.rank)") }
            let record = [UInt8](repeating: 0x5A, count: size)
            var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
            try peers.barrier()
            let start = ContinuousClock.now
            var rejected = 0
            record.withUnsafeBytes { bytes in
                for i in 0..<events {
                    if i % every == 0 {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        if story.logEvent(bytes: bytes) == 0 { rejected += 1 }
                        histogram.record(DispatchTime.now().uptimeNanoseconds - t0)
                    } else if story.logEvent(bytes: bytes) == 0 {
                        rejected += 1
                    }
                }
            }
            let logged = (ContinuousClock.now - start) / .microseconds(1)
            let (flushed, durable) = try PeerAgreement.together(peers, "flush") {
                try story.flush()
                let flushed = (ContinuousClock.now - start) / .microseconds(1)
                // The figure that counts: until every event of this writer is in the archive
                // (flushed to the HDF5 file), not only acknowledged by its keeper.
                try story.flush(durable: true)
                let durable = (ContinuousClock.now - start) / .microseconds(1)
                try client.releaseStory(chronicle, "writer-\(peers.rank)")
                try client.disconnect()
                return (flushed, durable)
            }
            let slowestLog = try peers.allreduce(logged, op: .max)
            let slowestFlush = try peers.allreduce(flushed, op: .max)
            let slowestDurable = try peers.allreduce(durable, op: .max)
            let p50 = try peers.allreduce(UInt64(histogram.valueAtPercentile(50)), op: .max)
            let p99 = try peers.allreduce(UInt64(histogram.valueAtPercentile(99)), op: .max)
            let p999 = try peers.allreduce(UInt64(histogram.valueAtPercentile(99.9)), op: .max)
            let total = Double(events * peers.size)
            if peers.rank == 0 {
                let rate = total / (slowestLog / 1e6), drained = total / (slowestFlush / 1e6)
                let durableRate = total / (slowestDurable / 1e6)
                let mib = rate * Double(size) / 1_048_576
                if json {
                    print("{\"writers\": \(peers.size), \"eventBytes\": \(size), \"eventsPerSecond\": \(Int(rate)), "
                        + "\"eventsPerSecondIncludingFlush\": \(Int(drained)), \"durableEventsPerSecond\": \(Int(durableRate)), "
                        + "\"mibPerSecond\": \(Int(mib)), "
                        + "\"logEventP50ns\": \(p50), \"logEventP99ns\": \(p99), \"logEventP999ns\": \(p999)}")
                } else {
                    print("ingest: \(peers.size) writer rank(s), \(events) events of \(size) B each")
                    print("  logged        \(Int(rate)) events/s, \(Int(mib)) MiB/s")
                    print("  with flush    \(Int(drained)) events/s (acknowledged by the keepers)")
                    print("  durable       \(Int(durableRate)) events/s, \(Int(durableRate * Double(size) / 1_048_576)) MiB/s "
                        + "(until the last event is in the archive)")
                    print("  logEvent      p50 \(p50) ns, p99 \(p99) ns, p99.9 \(p999) ns (max over writers)")
                    print("  rejected      \(rejected) on rank 0")
                }
                fflush(nil)
            }
            return [:]
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// `ChronoJob.run`, plus, once the job has drained, a raw `fi_read` of the grapher's average
    /// chunk size between the same keeper and grapher, printed by the grapher next to the chunk
    /// transfer bandwidth it saw (`bytes.transferred` over the time its reads were outstanding).
    static func runJob(config: ChronoConfig, client: (ChronoSession) throws -> Counters) throws -> Int32 {
        ShutdownSignal.install()
        let job = ChronoJob(config: config, minimumClients: 1)
        let m = try job.join(asService: true)
        var counters: Counters = [:]
        var status: Int32 = 0
        if let session = m.session {
            do {
                counters = try client(session)
            } catch {
                printError("ingest: \(error)")
                counters[.workloadFailed] = 1
                status = 1
            }
        } else {
            (counters, status) = try job.serve(m)
            let transferred = counters[.bytesTransferred] ?? 0, chunks = counters[.chunksReceived] ?? 0
            let average = chunks > 0 ? Int(transferred / chunks) : 0
            if let raw = try m.measureRawChunkRead(byteCount: average, repetitions: 20) {
                let busy = Double(counters[.readBusyUs] ?? 0) / 1e6
                let inJob = busy > 0 ? Double(transferred) / busy : 0
                let mib = 1_048_576.0
                print("  chunk transfer \(Int(inJob / mib)) MiB/s in the job (\(transferred) B over \(Int(busy * 1000)) ms of outstanding reads)")
                print("  raw fi_read    \(Int(raw / mib)) MiB/s (\(average) B, the average chunk, keeper → grapher after the ingest)"
                    + " → chunk transfer at \(Int((inJob / raw * 100).rounded())) % of raw")
                fflush(nil)
            }
        }
        return job.leave(m, counters: counters, status: status)
    }
}
