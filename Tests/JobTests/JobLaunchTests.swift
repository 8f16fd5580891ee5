import Foundation
import Testing
import TestSupport

/// `chronolog-job` launched under mpirun.
@Suite("chronolog-job under mpirun", .serialized)
struct JobLaunchTests {
    let job = MPIJob.executable("chronolog-job")

    @Test("the default 6-rank job prints the rank → role map and exits 0")
    func defaultJobPrintsMap() throws {
        let r = try MPIJob.run(ranks: 6, [job], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        let rows = r.stdout.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(rows.count == 6, "\(r)")
        let roles = rows.map { $0.split(separator: " ", omittingEmptySubsequences: true)[1] }
        #expect(roles == ["visor", "keeper", "grapher", "player", "client", "client"], "\(r)")
    }

    @Test("two virtual nodes give two recording groups")
    func virtualNodes() throws {
        let r = try MPIJob.run(ranks: 8, [job, "--virtual-nodes", "2"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("2 recording group(s)"), "\(r)")
    }

    @Test("a job too small fails at once, naming the minimum -n")
    func tooSmall() throws {
        let r = try MPIJob.run(ranks: 3, [job], timeout: 60)
        #expect(r.exitCode != 0 && !r.timedOut, "\(r)")
        #expect(r.stderr.contains("mpirun -n 5"), "\(r)")
    }

    @Test("an unknown option is an error, not a hang")
    func unknownOption() throws {
        let r = try MPIJob.runCommand([job, "--no-such-option"], timeout: 30)
        #expect(r.exitCode == 2 && !r.timedOut, "\(r)")
        #expect(r.stderr.contains("no-such-option"), "\(r)")
    }

    @Test("a missing config file, an unknown key and a mistyped value are errors naming the problem, exit 2, no hang")
    func badConfiguration() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let unknown = dir.appendingPathComponent("unknown.json")
        try #"{"keeper": {"memoryLimitBytes": 1048576, "noSuchKey": 1}}"#.write(to: unknown, atomically: true, encoding: .utf8)
        let mistyped = dir.appendingPathComponent("mistyped.json")
        try #"{"client": {"batchEvents": "many"}}"#.write(to: mistyped, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--config", dir.appendingPathComponent("missing.json").path], "missing.json"),
            (["--config", unknown.path], "keeper.noSuchKey"),
            (["--config", mistyped.path], "client.batchEvents"),
            (["--set", "story.chunkDurationMs=0"], "story.chunkDurationMs"),
        ]
        for (args, needle) in cases {
            let r = try MPIJob.run(ranks: 6, [job] + args, timeout: 60)
            #expect(r.exitCode != 0 && !r.timedOut, "\(args): \(r)")
            #expect(r.stderr.contains(needle), "\(args) should name \(needle): \(r)")
        }
    }

    @Test("--help describes the options")
    func help() throws {
        let r = try MPIJob.runCommand([job, "--help"], timeout: 30)
        #expect(r.exitCode == 0, "\(r)")
        for option in ["--keepers-per-node", "--virtual-nodes", "--players-per-node"] {
            #expect(r.stdout.contains(option), "\(option) missing from help")
        }
    }
}

/// Termination signals: the job drains and ends cleanly, with its summary.
@Suite("chronolog-job on SIGTERM", .serialized)
struct JobSignalTests {
    let job = MPIJob.executable("chronolog-job")

    @Test("SIGTERM to every rank (as Slurm's scancel does): clients stop, release, the job drains and exits 0")
    func sigtermToRanks() throws {
        let r = try MPIJob.runScript("""
            $MPIRUN -n 6 \(job) --rounds 987654321 &
            pid=$!
            sleep 3
            pkill -TERM -P $pid
            wait $pid
            """, timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("exit status: 0"), "\(r)")
        #expect(r.stderr.contains("signal 15"), "\(r)")
        // Every story acquired was released again.
        let visor = r.stdout.split(separator: "\n").first { $0.contains("visor (1 rank)") }.map(String.init) ?? ""
        let acquired = visor.firstMatch(of: /stories\.acquired=(\d+)/)?.1
        let released = visor.firstMatch(of: /stories\.released=(\d+)/)?.1
        #expect(acquired != nil && acquired == released, "\(visor)")
    }

    @Test("SIGTERM to mpirun with a drain window (odls_base_sigkill_timeout): the job drains before the kill")
    func sigtermToMpirun() throws {
        let r = try MPIJob.runScript("""
            $MPIRUN --mca odls_base_sigkill_timeout 5 -n 6 \(job) --rounds 987654320 &
            pid=$!
            sleep 3
            kill -TERM $pid
            wait $pid
            """, timeout: 90)
        #expect(r.stdout.contains("exit status: 0"), "\(r)")
        #expect(r.stdout.contains("chronolog-job summary:"), "\(r)")
    }
}
