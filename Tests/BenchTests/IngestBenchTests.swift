import Foundation
import Testing
import TestSupport

/// `chronolog-bench ingest` (what `benchmarks/ingest.sh` runs): the durable rate and the per-role
/// cost counters it and the script report.
@Suite("chronolog-bench ingest", .serialized)
struct IngestBenchTests {
    @Test("a small run: events/s until durable no higher than acknowledged, every role's faults.minor and cpu.us in the summary, nothing lost")
    func durableRateAndCosts() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run(ranks: 6, [MPIJob.executable("chronolog-bench"), "ingest", "--events", "20000", "--json",
                                          "--set", "archive.directory=\(dir.path)"], timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("{\"writers\"") }, "\(r)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let acked = try #require(doc["eventsPerSecondIncludingFlush"] as? Int), durable = try #require(doc["durableEventsPerSecond"] as? Int)
        #expect(durable > 0 && durable <= acked, "\(line)")
        #expect(r.stdout.contains("events: logged=40000 received=40000 archived=40000 ") && r.stdout.contains(" lost=0"), "\(r)")
        for role in ["visor", "keeper", "grapher", "player", "client"] {
            let c = r.counters(role: role)
            #expect(c["faults.minor"] != nil && (c["cpu.us"] ?? 0) > 0, "\(role): \(c)")
        }
        // A keeper's slots come back once read; the grapher reads while rounds are written.
        #expect(r.counters(role: "keeper")["chunks.read"] == r.counters(role: "keeper")["chunks.shipped"], "\(r)")
    }
}
