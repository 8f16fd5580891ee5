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

    @Test("a second run over the same archive directory makes a chronicle of its own and ends like the first (it used to fail on one writer and leave the other waiting)")
    func secondRunOverTheSameArchive() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for run in 1...2 {
            let r = try MPIJob.run(ranks: 6, [MPIJob.executable("chronolog-bench"), "ingest", "--events", "2000",
                                              "--set", "archive.directory=\(dir.path)"], timeout: 120)
            #expect(r.exitCode == 0, "run \(run): \(r)")
            #expect(r.stdout.contains("events: logged=4000 received=4000 archived=4000 ") && r.stdout.contains(" lost=0"), "run \(run): \(r)")
        }
    }

    @Test("each grapher leaves only archive.pageCacheBytes of the archive in the page cache: older pages, flushed, are dropped for the next writes to reuse",
          arguments: [(4 << 20, true), (1 << 40, false)])
    func archivePagesDropped(keep: Int, drops: Bool) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 2 writers × 80,000 events of 256 B: a 46 MB archive written in many rounds.
        let r = try MPIJob.run(ranks: 6, [MPIJob.executable("chronolog-bench"), "ingest", "--events", "80000",
                                          "--set", "archive.directory=\(dir.path)", "--set", "archive.pageCacheBytes=\(keep)"],
                               timeout: 180)
        #expect(r.exitCode == 0 && r.stdout.contains(" lost=0"), "\(r)")
        let path = dir.appendingPathComponent("chronolog-archive.h5").path
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let resident = try #require(PageCache.residentBytes(path: path), "cannot map \(path)")
        #expect(size > 40_000_000, "the archive is too small to tell (\(size) B)")
        if drops {
            // The last 4 MiB stay, and what the close wrote after the last round's drop.
            #expect(resident <= 8 << 20, "\(resident) B of \(size) B resident, keep \(keep)")
        } else {
            // Kept: the pages were written through the page cache and stay (the check can see them).
            #expect(resident >= size / 2, "\(resident) B of \(size) B resident")
        }
    }
}
