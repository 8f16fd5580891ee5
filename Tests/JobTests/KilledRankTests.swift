import Foundation
import Testing
import TestSupport

/// A keeper or a grapher SIGKILLed mid-ingest: the archive it leaves opens and verifies, and a
/// second job over the same directory opens it, appends to the same stories and verifies.
@Suite("Killed ranks", .serialized)
struct KilledRankTests {
    let checks = MPIJob.executable("job-checks")
    let chronolog = MPIJob.executable("chronolog")
    let partialChecker = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("check_partial_archive.py").path

    /// World ranks of `archive-roundtrip` on 7 ranks: 0 visor, 1 keeper, 2 grapher, 3 player, 4–6 clients.
    @Test("SIGKILL mid-ingest, then a second job over the same directory opens, verifies and appends",
          arguments: [("keeper", 1), ("grapher", 2)])
    func killThenAppend(role: String, rank: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-kill-\(role)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let shm = SharedMemoryLeftovers()
        defer { shm.removeNew() }
        // The job's ranks are mpirun's children; the one whose OMPI_COMM_WORLD_RANK is `rank` is
        // killed. The segments a killed rank leaves in /dev/shm (libfabric shm names start with
        // its pid) are removed afterwards.
        let killed = try MPIJob.runScript("""
            cd \(dir.path)
            $MPIRUN -n 7 \(checks) archive-roundtrip --events 100000000 --pause-microseconds 1000 > out1.txt 2> err1.txt &
            mp=$!
            # Mid-ingest: once the archive holds a round or more (4 stories allocate 8 MiB at their
            # first round), however long a loaded machine takes to get there.
            for i in $(seq 1 600); do
              size=$(stat -c %s chronolog-archive/chronolog-archive.h5 2>/dev/null || echo 0)
              [ "$size" -gt 9000000 ] && break
              sleep 0.2
            done
            sleep 1
            pids=$(pgrep -P $mp)
            for p in $pids; do
              if tr '\\0' '\\n' < /proc/$p/environ | grep -qx 'OMPI_COMM_WORLD_RANK=\(rank)'; then kill -KILL $p; echo "killed $p"; fi
            done
            wait $mp
            echo "mpirun exit $?"
            for p in $pids; do rm -f /dev/shm/$p:*; done
            """, timeout: 300)
        #expect(killed.stdout.contains("killed "), "no rank \(rank) found to kill: \(killed)")
        #expect(!killed.stdout.contains("mpirun exit 0"), "the job should fail when a rank is killed: \(killed)")

        let archiveDir = dir.appendingPathComponent("chronolog-archive").path
        let archive = archiveDir + "/chronolog-archive.h5"
        // The archive is sound; its stories are partial and say why: writers killed before releasing
        // (tail unknown), or writers that released events the killed rank never made durable.
        let before = try StructuralVerify(archiveDir)
        #expect(before.otherProblems.isEmpty, "the killed job's archive verifies: \(before.output)")
        #expect(!before.partial.isEmpty && before.partial.allSatisfy { $0.contains("never released") || $0.contains("archived") },
                "\(before.output)")
        let eventsBefore = before.events
        #expect(eventsBefore > 0, "nothing was archived before the kill: \(before.output)")

        // The second job replays each story in-job first: partial exactly where verify says, naming
        // the same writers (tail missing / never released); then it appends to the same stories.
        let second = try MPIJob.run([(7, [checks, "archive-roundtrip", "--events", "100", "--replay-first"])], timeout: 240, workingDirectory: dir)
        try expectReplaysAgree(second, verifying: archiveDir)
        #expect(second.exitCode == 0 && second.stdout.contains("lost=0"), "\(second)")
        let after = try StructuralVerify(archiveDir)
        #expect(after.otherProblems.isEmpty, "the appended archive verifies: \(after.output)")
        let eventsAfter = after.events
        #expect(eventsAfter == eventsBefore + 1200, "the second job's 1200 events were appended: \(before.output)\n\(after.output)")
        let logFile = dir.appendingPathComponent("logged2.txt")
        try second.stdout.write(to: logFile, atomically: true, encoding: .utf8)
        let h = try MPIJob.runCommand(["/usr/bin/python3", partialChecker, archive, logFile.path], timeout: 300)
        #expect(h.exitCode == 0 && h.stdout.contains("CHECKED"), "\(h)")
        #expect(h.stdout.contains("JOB 1 logged=1200 found=1200\n") && h.stdout.contains("EVENTS \(eventsAfter)\n"), "\(h)")
    }

    /// The writers `chronolog verify` names per story, and those the in-job replays (`REPLAY` lines)
    /// name: the same stories partial, the same writers never released, and no writer named in-job
    /// that verify finds complete.
    private func expectReplaysAgree(_ job: JobResult, verifying archiveDir: String) throws {
        let v = try MPIJob.runCommand([chronolog, "verify", archiveDir, "--json"], timeout: 120)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(v.stdout.utf8)) as? [String: Any], "\(v)")
        let stories = try #require(doc["completeness"] as? [[String: Any]], "\(v)")
        let replays = job.lines(startingWith: "REPLAY ")
        #expect(replays.count == stories.count, "\(job)")
        func clients(_ reasons: [String], _ kind: String) -> Set<String> {
            Set(reasons.filter { $0.contains(kind) }.compactMap { $0.firstMatch(of: #/client (\d+)/#).map { String($0.1) } })
        }
        for story in stories {
            let name = try #require(story["story"] as? String)
            let reasons = story["reasons"] as? [String] ?? []
            let line = try #require(replays.first { $0.hasPrefix("REPLAY \(name): ") }, "\(job)")
            let inJob = line.components(separatedBy: "; ")
            #expect(line.contains("partial") == !reasons.isEmpty, "verify: \(reasons); in-job: \(line)")
            #expect(clients(inJob, "never released") == clients(reasons, "never released"), "verify: \(reasons); in-job: \(line)")
            #expect(clients(inJob, "tail missing").isSubset(of: clients(reasons, "tail missing")), "verify: \(reasons); in-job: \(line)")
        }
    }
}
