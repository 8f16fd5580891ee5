import Foundation
import Testing
import TestSupport

/// `chronolog` on what a real job archived: `chronolog-job` (6 ranks, demo workload) writes
/// ./chronolog-archive in a scratch directory; the tool, run there without a path, finds it.
@Suite("chronolog on a job's archive", .serialized)
struct CLIJobArchiveTests {
    @Test("verify passes with the per-client index check; ls and replay agree on the events")
    func jobArchive() throws {
        let dir = try ScratchDirectory()
        let job = try MPIJob.run([(6, [MPIJob.executable("chronolog-job"), "--events", "50", "--stories", "2"])],
                                 timeout: 120, workingDirectory: dir.url)
        try #require(job.exitCode == 0, "\(job)")
        let chronolog = MPIJob.executable("chronolog")
        let verify = try MPIJob.runCommand([chronolog, "verify"], timeout: 60, workingDirectory: dir.url)
        #expect(verify.exitCode == 0, "\(verify)")
        #expect(verify.stdout.hasPrefix("OK chronolog-archive") && verify.stdout.contains("client indexes: checked"), "\(verify)")
        // The graphers closed the file at the end of the job: every round committed.
        #expect(verify.stdout.contains("chronolog-archive.h5: closed cleanly after"), "\(verify)")

        let ls = try MPIJob.runCommand([chronolog, "ls", "--json"], timeout: 60, workingDirectory: dir.url)
        try #require(ls.exitCode == 0, "\(ls)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [String: Any])
        let stories = (doc["chronicles"] as? [[String: Any]] ?? []).flatMap { $0["stories"] as? [[String: Any]] ?? [] }
        try #require(!stories.isEmpty, "\(ls)")
        var total = 0
        for s in stories {
            let (c, name) = (s["chronicle"] as! String, s["name"] as! String)
            let events = (s["events"] as! NSNumber).intValue
            total += events
            let replay = try MPIJob.runCommand([chronolog, "replay", "chronolog-archive", c, name, "--format", "jsonl"],
                                               timeout: 60, workingDirectory: dir.url)
            try #require(replay.exitCode == 0, "\(replay)")
            let lines = replay.stdout.split(separator: "\n")
            #expect(lines.count == events, "\(c)/\(name): \(lines.count) replayed, \(events) listed")
            // Each client's indexes are 0, 1, 2, … in time order.
            var next: [UInt64: UInt32] = [:]
            for line in lines {
                let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let client = (o["client_id"] as! NSNumber).uint64Value, index = (o["index"] as! NSNumber).uint32Value
                #expect(index == next[client, default: 0], "\(line)")
                next[client] = index + 1
            }
        }
        // As many events as the job's summary says the clients had acknowledged.
        let acked = (job.stdout + job.stderr).split(whereSeparator: { $0 == " " || $0 == "\n" })
            .first { $0.hasPrefix("events.acked=") }.flatMap { Int($0.dropFirst("events.acked=".count)) }
        #expect(acked != nil && total == acked, "listed \(total), job summary: \(job)")
    }
}
