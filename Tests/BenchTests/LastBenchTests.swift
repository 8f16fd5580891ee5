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
        // 5 + 50 on the live story, 5 + 5 on the archived one: each answered by the story's keepers
        // directly (a recorded story whose last N they hold) or by the player.
        let player = r.counters(role: "player"), client = r.counters(role: "client")
        let byPlayer = (player["queries.last.memory"] ?? 0) + (player["queries.last.archive"] ?? 0)
        let direct = client["replay.last.direct"] ?? 0
        #expect(byPlayer + direct == 65 && direct > 0, "player \(player), client \(client)")
    }
}
