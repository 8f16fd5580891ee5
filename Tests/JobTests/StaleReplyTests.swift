import ChronoModel
import Foundation
import Testing
import TestSupport

/// Answers matched to their requests by request id, under mpirun (`job-checks stale-reply`).
@Suite("Visor answers matched to their requests", .serialized)
struct StaleReplyTests {
    let checks = MPIJob.executable("job-checks")

    @Test("""
        a request that timed out (a "last N" route while the keepers take the grant slowly) answered late: the next \
        request, an acquire, gets its own story and the call after it its own answer; the late answer is counted in replies.stale
        """)
    func lateAnswerDropped() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-stale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run([(5, [checks, "stale-reply", "--grant-delay-ms", "3500", "--set", "timeouts.connectMs=1000"])], timeout: 180, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty && r.lines(startingWith: "CHECKS passed=").count == 1, "\(r)")
        #expect(r.counters(role: "client")[.repliesStale] == 1, "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
    }

    @Test("""
        the channel as pollers meet it: free, withChannelIfAvailable runs its body; held by another thread, it returns \
        false without waiting or running it; errors come out as ChronoLogError (−8 naming the context for others); \
        a SIGPIPE does not kill a job's rank; Request.testSome reports completions and leaves pending requests pending
        """)
    func channelIfAvailable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run([(5, [checks, "channel-lock"])], timeout: 120, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty && r.lines(startingWith: "CHECKS passed=12").count == 1, "\(r)")
    }
}
