import ChronoModel
import Foundation
import Testing
import TestSupport

/// An archive round that never finishes — a collective HDF5 or MPI-IO call stuck on some grapher
/// (a hung file system on one node, a rank failing inside `H5Fflush`) — holds every grapher: after
/// `timeouts.archiveRoundMs` the graphers give the round up as a failed one, the job drains,
/// prints its summary counting what was not made durable and exits 1 instead of hanging, and the
/// archive still opens with every round made durable before.
@Suite("Stuck archive round", .serialized)
struct StuckArchiveTests {
    let checks = MPIJob.executable("job-checks")

    @Test("a round stuck for 30 s with timeouts.archiveRoundMs=3000: a warning at half, then the round is given up naming the file, the setting and the cause; the job drains, prints its summary with lost = events not archived, exits 1 well before the round would end; the archive verifies with what was archived",
          arguments: [7, 11])
    func stuckRoundIsGivenUp(ranks: Int) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 7 ranks: one grapher; 11 with two virtual nodes: two graphers, both in the stuck round.
        // The first round holding events is written; the next one holding events sleeps 30 s.
        let nodes = ranks == 11 ? ["--set", "deployment.virtualNodes=2"] : []
        let started = Date()
        let r = try MPIJob.run([(ranks, [checks, "archive-roundtrip", "--events", "100", "--pause-microseconds", "20000",
                                         "--archive-delay-ms", "30000", "--archive-delay-after-event-rounds", "1",
                                         "--set", "timeouts.archiveRoundMs=3000"] + nodes)],
                               timeout: 120, workingDirectory: dir)
        let took = Date().timeIntervalSince(started)
        #expect(r.exitCode == 1 && !r.timedOut, "\(r)")
        #expect(took < 25, "the job took \(took) s: it waited for the stuck round")
        #expect(r.stderr.contains("has run for") && r.stderr.contains("has not finished after"), "\(r)")
        #expect(r.stderr.contains("timeouts.archiveRoundMs=3000") && r.stderr.contains("stuck on some grapher")
                && r.stderr.contains("chronolog-archive/chronolog-archive.h5"), "the file, the setting and the cause: \(r)")
        #expect(!r.stderr.contains("MPI_ABORT"), "the job drains, it is not aborted: \(r)")

        // The summary counts what was not made durable, the stuck round's events included.
        #expect(r.stdout.contains("chronolog-job summary:") && r.stdout.contains("exit status: 1"), "\(r)")
        guard let m = r.stdout.firstMatch(of: #/events: logged=(\d+) received=\d+ archived=(\d+) late=\d+ rejected=(\d+) refused=\d+ lost=(\d+)/#),
              let logged = Int(m.1), let archived = Int(m.2), let rejected = Int(m.3), let lost = Int(m.4) else {
            Issue.record("no events line in the summary: \(r)")
            return
        }
        let clients = ranks == 11 ? 4 : 3
        #expect(logged == clients * 4 * 100, "\(r)")
        #expect(lost > 0 && lost == logged - archived - rejected, "lost counts every event not made durable: \(r)")
        #expect(archived > 0, "the round before the stuck one was archived: \(r)")
        let grapher = r.counters(role: "grapher")
        let graphers = r.stdout.contains("grapher (2 ranks)") ? 2 : 1
        #expect(grapher[.archiveFailed] == UInt64(graphers), "every grapher stopped archiving: \(r)")
        #expect(Int(grapher[.eventsNotArchived, default: 0]) == lost, "\(r)")
        let stuckEvents = r.stderr.matches(of: #/archive round \d+ \((\d+) events\) has not finished after/#).compactMap { Int($0.1) }
        #expect(!stuckEvents.isEmpty && stuckEvents.reduce(0, +) > 0, "the round given up held events: \(r)")

        // The archive opens and holds exactly what was reported archived; its stories are partial
        // (the catalog knows what the writers logged) and verify says why, nothing else is wrong.
        let v = try StructuralVerify(dir.appendingPathComponent("chronolog-archive").path)
        #expect(v.otherProblems.isEmpty && v.events == archived, "verify counts what the summary reported archived: \(v.output)")
        #expect(!v.partial.isEmpty && v.partial.allSatisfy { $0.contains("tail missing") }, "\(v.output)")
    }
}
