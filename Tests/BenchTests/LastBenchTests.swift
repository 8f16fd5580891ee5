import Foundation
import Testing
import TestSupport

/// `chronolog-bench last`: latency of "last N" queries on a live and on an archived story.
@Suite("chronolog-bench last", .serialized)
struct LastBenchTests {
    @Test("a small run: p50/p99 of last-N queries on the live story, of a 1-ms replay, and on the archived story; every answer N events")
    func smallRun() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run(ranks: 5, [MPIJob.executable("chronolog-bench"), "last", "-n", "20", "--samples", "50", "--warmup", "5",
                                          "--set", "archive.directory=\(dir.path)"], timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        let lines = r.lines(startingWith: "last: ")
        #expect(lines.count == 3 && lines.allSatisfy { $0.contains("p50 ") && $0.contains("p99 ") }, "\(r)")
        // Every last-N answer held N events: the live story holds more than 20 after its first second.
        #expect(lines.first?.contains("20 events each on average") == true && lines.last?.contains("20 events each on average") == true, "\(r)")
        let player = r.counters(role: "player")
        #expect((player["queries.last.memory"] ?? 0) + (player["queries.last.archive"] ?? 0) == 65, "\(player)")  // 5 + 50 live, 5 + 5 archived
    }
}
