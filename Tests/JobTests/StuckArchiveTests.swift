import Foundation
import Testing
import TestSupport

/// An archive round that never finishes — a collective HDF5 or MPI-IO call stuck on some grapher
/// (a hung file system on one node) — holds every grapher: the job aborts with the reason after
/// `timeouts.archiveRoundMs` instead of hanging, and the archive still opens.
@Suite("Stuck archive round", .serialized)
struct StuckArchiveTests {
    let checks = MPIJob.executable("job-checks")

    @Test("a round stuck for 30 s with timeouts.archiveRoundMs=3000: a warning at half, then the job aborts naming the setting, well before the round would end; the archive verifies",
          arguments: [7, 11])
    func stuckRoundAbortsTheJob(ranks: Int) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 7 ranks: one grapher; 11 with two virtual nodes: two graphers, both in the stuck round.
        let nodes = ranks == 11 ? ["--set", "deployment.virtualNodes=2"] : []
        let started = Date()
        let r = try MPIJob.run([(ranks, [checks, "archive-roundtrip", "--events", "100", "--archive-delay-ms", "30000",
                                         "--set", "timeouts.archiveRoundMs=3000"] + nodes)],
                               timeout: 120, workingDirectory: dir)
        let took = Date().timeIntervalSince(started)
        #expect(r.exitCode != 0 && !r.timedOut, "\(r)")
        #expect(took < 25, "the job took \(took) s: it waited for the stuck round")
        #expect(r.stderr.contains("has run for") && r.stderr.contains("has not finished after"), "\(r)")
        #expect(r.stderr.contains("timeouts.archiveRoundMs=3000") && r.stderr.contains("stuck on some grapher"), "\(r)")
        let verify = try MPIJob.runCommand([MPIJob.executable("chronolog"), "verify"], timeout: 60, workingDirectory: dir)
        #expect(verify.exitCode == 0, "\(verify)")
    }
}
