import ChronoModel
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

    @Test("a job too small fails at once with status 2, naming the minimum -n")
    func tooSmall() throws {
        let r = try MPIJob.run(ranks: 3, [job], timeout: 60)
        #expect(r.exitCode == 2, "--help promises status 2: \(r)")
        #expect(r.stderr.contains("mpirun -n 5"), "\(r)")
        let shortcuts = try MPIJob.run(ranks: 6, [job, "--keepers-per-node", "2", "--players-per-node", "2"], timeout: 60)
        #expect(shortcuts.exitCode == 2 && shortcuts.stderr.contains("mpirun -n 7"), "\(shortcuts)")
    }

    @Test("an archive directory that cannot be used, or whose archive file cannot be opened, ends the job at start-up with status 2, naming it, and leaves nothing in /dev/shm")
    func unusableArchiveDirectory() throws {
        let dir = try scratchDirectory("chronolog-archive-dir")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a-file")
        #expect(FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8)))
        // An archive file the graphers could not open (damaged, truncated, not HDF5): every event would be lost.
        let damaged = dir.appendingPathComponent("damaged")
        try FileManager.default.createDirectory(at: damaged, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: damaged.appendingPathComponent("chronolog-archive.h5").path,
                                               contents: Data(repeating: 0x5A, count: 4096)))
        for (directory, needle) in [(file.path, "is a file, not a directory"), (file.path + "/sub", "is a file, not a directory"),
                                    ("/proc/chronolog-nope/archive", "cannot create /proc/chronolog-nope"),
                                    (damaged.path, "its archive file cannot be appended to")] {
            // mpirun itself, not `MPIJob.run`, which removes what a job leaves in /dev/shm: the
            // files of dead processes found after it are what this job left.
            let leftovers = SharedMemoryLeftovers()
            let r = try MPIJob.runCommand(["mpirun"] + MPIJob.mpirunFlags + ["-n", "5", job, "--quiet", "--set",
                                                                            "archive.directory=\(directory)"], timeout: 60)
            let left = leftovers.removeNew()
            #expect(r.exitCode == 2 && !r.timedOut, "\(directory): \(r)")
            #expect(r.stderr.contains("archive.directory \(directory)") && r.stderr.contains(needle), "\(r)")
            #expect(!r.stderr.contains("MPI_ABORT"), "\(r)")
            #expect(left.isEmpty, "left in /dev/shm: \(left)")
        }
    }

    @Test("a second job on an archive directory another job is writing is refused at start-up (status 2, naming the holder); once that job ended, the directory serves the next one")
    func oneJobPerArchiveDirectory() throws {
        let dir = try scratchDirectory("chronolog-archive-lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = dir.appendingPathComponent("archive").path
        let chronolog = MPIJob.executable("chronolog")
        let script = """
            cd \(dir.path)
            $MPIRUN -n 6 \(job) --rounds 2000000000 --events 100 --quiet --set archive.directory=\(archive) > first.log 2>&1 &
            first=$!
            for _ in $(seq 600); do grep -q pid \(archive)/chronolog-archive.lock 2>/dev/null && break; sleep 0.05; done
            $MPIRUN -n 6 \(job) --quiet --set archive.directory=\(archive) > second.log 2>&1
            echo "second_exit=$?"
            # A signalled mpirun exits 1 whatever its job did: the job's own status is in its summary.
            kill -TERM $first; wait $first
            grep -q "exit status: 0" first.log && grep -q " lost=0" first.log && echo "first_ended_well"
            $MPIRUN -n 6 \(job) --quiet --set archive.directory=\(archive) > third.log 2>&1
            echo "third_exit=$?"
            \(chronolog) verify \(archive) > /dev/null; echo "verify_exit=$?"
            cat second.log
            """
        let r = try MPIJob.runScript(script, timeout: 180)
        #expect(r.stdout.contains("second_exit=2") && r.stdout.contains("first_ended_well") && r.stdout.contains("third_exit=0")
                && r.stdout.contains("verify_exit=0"), "\(r)")
        #expect(r.stdout.contains("archive.directory \(archive) is in use by another job (host ") && r.stdout.contains(", pid "), "\(r)")
    }

    @Test("workload options out of range, negative values and options of another workload are errors naming the option and its range, exit 2")
    func workloadOptionBounds() throws {
        for (args, needle) in [(["--stories", "3000000000"], "--stories must be 0 to 100000"), (["--events", "-1"], "--events must be 0 to"),
                               (["--rounds", "2147483648"], "--rounds must be 0 to 2147483647"),
                               (["--keepers-per-node", "-1"], "deployment.keepersPerNode"),
                               (["--serve-seconds", "5"], "--serve-seconds is for --workload serve"),
                               (["--workload", "serve", "--run-dir", "/tmp", "--serve-seconds", "1e9"], "at most 31536000"),
                               (["--run-dir", "/tmp"], "--run-dir is for --workload serve")] {
            let r = try MPIJob.runCommand([job] + args, timeout: 30)
            #expect(r.exitCode == 2 && r.stderr.contains(needle), "\(args): \(r)")
        }
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
            (["--set", "keeper.memoryLimitBytes=1099511627776"], "keeper.memoryLimitBytes': must be ≤"),
            (["--set", "keeper.memoryLimitBytes=1099511627776"], "physical memory"),
            (["--set", "story.chunkDurationMs=86400001"], "≤ 86400000 (one day)"),
            (["--set", "deployment.virtualNodes=1000000"], "deployment.virtualNodes"),
        ]
        for (args, needle) in cases {
            let r = try MPIJob.run(ranks: 6, [job] + args, timeout: 60)
            #expect(r.exitCode == 2, "\(args): --help promises status 2: \(r)")
            #expect(r.stderr.contains(needle), "\(args) should name \(needle): \(r)")
        }
        // A mistyped CHRONOLOG_ variable is refused; the launch scripts' own variables are not.
        let typo = try MPIJob.run(ranks: 6, [job], timeout: 60, environment: ["CHRONOLOG_CLIENT_BATCH_EVENT": "4"])
        #expect(typo.exitCode == 2 && typo.stderr.contains("unknown configuration key 'CHRONOLOG_CLIENT_BATCH_EVENT'"), "\(typo)")
    }

    @Test("--print-config shows the effective configuration: file, then CHRONOLOG_* variables, then --set, then shortcuts")
    func printConfig() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("c.json")
        try #"{"client": {"batchEvents": 10, "batchBytes": 999}, "story": {"chunkDurationMs": 250}}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let env = ["CHRONOLOG_CLIENT_BATCH_EVENTS": "20", "CHRONOLOG_STORY_LATE_POLICY": "reject",
                   "CHRONOLOG_RANKS": "8", "CHRONOLOG_BIN": "/nowhere/chronolog-job", "CHRONOLOG_SRUN_MPI": "pmi2"]
        let r = try MPIJob.runCommand([job, "--config", file.path, "--set", "client.batchEvents=30", "--keepers-per-node", "3",
                                       "--players-per-node", "2", "--virtual-nodes", "2", "--print-config"],
                                      timeout: 30, environment: env)
        #expect(r.exitCode == 0, "\(r)")
        let c = try ChronoConfig.parse(json: r.stdout)
        #expect(c.client.batchEvents == 30 && c.client.batchBytes == 999 && c.story.chunkDurationMs == 250, "\(r)")
        #expect(c.story.latePolicy == .reject, "\(r)")
        #expect(c.deployment.keepersPerNode == 3 && c.deployment.playersPerNode == 2 && c.deployment.virtualNodes == 2, "\(r)")
        #expect(c.effectiveDescription() == r.stdout.trimmingCharacters(in: .newlines))
    }

    @Test("--keepers-per-node 2 --players-per-node 2: each group has two keepers and two players, and the job archives everything")
    func groupShapeShortcuts() throws {
        let r = try MPIJob.run(ranks: 8, [job, "--keepers-per-node", "2", "--players-per-node", "2"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        let rows = r.stdout.split(separator: "\n").filter { $0.first?.isNumber == true }
        let roles = rows.map { $0.split(separator: " ", omittingEmptySubsequences: true)[1] }
        #expect(roles == ["visor", "keeper", "keeper", "grapher", "player", "player", "client", "client"], "\(r)")
        #expect(r.stdout.contains("events: logged=600 received=600 archived=600") && r.stdout.contains("lost=0"), "\(r)")
        #expect(r.counters(role: "keeper")[.storiesStarted] ?? 0 >= 2, "\(r)")
    }

    /// Values at the ends of their documented ranges that used to break the job (issue 12):
    /// `timeouts.shutdownDrainMs=0` made the keeper quit its drain holding every event, day-long
    /// chunks were never acknowledged (the keeper waited 30 s and exited 1).
    @Test("settings at the ends of their ranges: the job archives everything and exits 0", arguments: [
        ["--set", "timeouts.shutdownDrainMs=0", "--events", "5000"],
        ["--set", "story.chunkDurationMs=86400000"],
        ["--set", "story.chunkDurationMs=1", "--set", "grapher.archiveIntervalMs=1"],
        ["--set", "keeper.memoryLimitBytes=\(ChronoConfig.physicalMemoryBytes)",
         "--set", "grapher.memoryLimitBytes=\(ChronoConfig.physicalMemoryBytes)"],
    ])
    func settingsAtTheirBounds(_ args: [String]) throws {
        let r = try MPIJob.run(ranks: 6, [job] + args, timeout: 120)
        #expect(r.exitCode == 0 && r.stdout.contains("exit status: 0"), "\(args): \(r)")
        let events = r.stdout.split(separator: "\n").first { $0.hasPrefix("  events: ") }.map(String.init) ?? ""
        let logged = events.firstMatch(of: /logged=(\d+)/)?.1, archived = events.firstMatch(of: /archived=(\d+)/)?.1
        #expect(logged != nil && logged == archived && events.contains("lost=0"), "\(args): \(events)")
        #expect(r.counters(role: "visor")[.undrainedEvents] == 0, "\(args): \(r)")
    }

    @Test("CHRONOLOG_* variables configure a job (the launch scripts' variables are not keys); story.latePolicy=reject with events 5 s late rejects and counts every one, none lost")
    func environmentAndRejectPolicy() throws {
        let env = ["CHRONOLOG_DEPLOYMENT_KEEPERS_PER_NODE": "2", "CHRONOLOG_CLIENT_BATCH_EVENTS": "10",
                   "CHRONOLOG_RANKS": "6", "CHRONOLOG_BIN": job, "CHRONOLOG_SRUN_MPI": "pmix"]
        let r = try MPIJob.run(ranks: 7, [job], timeout: 120, environment: env)
        #expect(r.exitCode == 0 && r.stdout.contains("keeper (2 ranks)") && r.stdout.contains("logged=600 received=600 archived=600"), "\(r)")
        // 600 events in batches of 10 at most.
        #expect((r.counters(role: "keeper")[.batchesReceived] ?? 0) >= 40 && r.stdout.contains("lost=0"), "\(r)")
        // Late events come from a client clock that drifted (a test seam of job-checks, not a key).
        let late = try MPIJob.run(ranks: 6, [MPIJob.executable("job-checks"), "archive-roundtrip", "--events", "75",
                                             "--client-clock-drift-ms=-5000", "--set", "story.latePolicy=reject"], timeout: 120)
        #expect(late.exitCode == 0, "\(late)")
        #expect(late.stdout.contains("events: logged=600 received=600 archived=0 late=0 rejected=600 refused=0 lost=0"), "\(late)")
        #expect(late.counters(role: "keeper")[.eventsRejectedLate] == 600, "\(late)")
    }

    @Test("every event refused at the client: the summary still has its events line (rejected, none lost)")
    func allRejectedSummary() throws {
        let r = try MPIJob.run(ranks: 6, [job, "--set", "story.maxEventBytes=4"], timeout: 60)
        #expect(r.exitCode == 1, "the demo workload fails on its first refused event: \(r)")
        #expect(r.stdout.contains("  events: logged=0 received=0 archived=0 late=0 rejected=2 refused=0 lost=0"), "\(r)")
    }

    @Test("a client failing while it holds a story: the job notices, archives its events and drains at once (exit 1)")
    func failingClient() throws {
        // The drain window is far longer than the test's limit: a drain that waits for the failed
        // client's story times out here.
        let r = try MPIJob.run(ranks: 6, [MPIJob.executable("job-checks"), "failing-client", "--events", "500",
                                          "--set", "timeouts.shutdownDrainMs=600000"], timeout: 90)
        #expect(!r.timedOut && r.exitCode == 1, "\(r)")
        #expect(r.stdout.contains("FAILING client") && r.stdout.contains("exit status: 1"), "\(r)")
        #expect(r.stdout.contains("events: logged=1000 received=1000 archived=1000") && r.stdout.contains("lost=0"), "\(r)")
        let visor = r.counters(role: "visor")
        #expect(visor[.clientsAbandoned] == 1 && visor[.storiesAcquired] == visor[.storiesReleased], "\(r)")
    }

    @Test("--help describes the options")
    func help() throws {
        let r = try MPIJob.runCommand([job, "--help"], timeout: 30)
        #expect(r.exitCode == 0, "\(r)")
        for option in ["--keepers-per-node", "--virtual-nodes", "--players-per-node", "--print-config"] {
            #expect(r.stdout.contains(option), "\(option) missing from help")
        }
        // What it says is what the job accepts: two players per group work (groupShapeShortcuts).
        let flat = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(!flat.contains("(0 or 1)") && flat.contains("0 to 64"), "\(r)")
        #expect(flat.contains("CHRONOLOG_RANKS") && flat.contains("exit status"), "\(r)")
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
        #expect(r.stdout.contains("exit status: 0 (the job's own, after signal 15"), "\(r)")
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
        // mpirun, signalled itself, exits 1 whatever the job did (README); the job's own status is
        // the summary's, which says so.
        #expect(r.exitCode == 1, "\(r)")
        #expect(r.stdout.contains("exit status: 0 (the job's own, after signal 15; an mpirun that was itself signalled exits 1"),
                "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
    }

    @Test("SIGINT (Ctrl-C) to every rank drains like SIGTERM: exit 0, nothing lost, every story released")
    func sigintToRanks() throws {
        let r = try MPIJob.runScript("""
            $MPIRUN -n 6 \(job) --rounds 987654319 &
            pid=$!
            sleep 3
            pkill -INT -P $pid
            wait $pid
            """, timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("exit status: 0 (the job's own, after signal 2") && r.stdout.contains("lost=0"), "\(r)")
        #expect(r.stderr.contains("signal 2"), "\(r)")
        let visor = r.counters(role: "visor")
        #expect(visor[.storiesAcquired] != nil && visor[.storiesAcquired] == visor[.storiesReleased], "\(r)")
    }

    @Test("SIGTERM with timeouts.shutdownDrainMs=0: the visor stops waiting for clients at once, and still nothing is lost")
    func sigtermWithoutDrainWindow() throws {
        let r = try MPIJob.runScript("""
            $MPIRUN -n 6 \(job) --rounds 987654318 --set timeouts.shutdownDrainMs=0 &
            pid=$!
            sleep 3
            pkill -TERM -P $pid
            wait $pid
            echo "mpirun exit $?"
            """, timeout: 90)
        #expect(r.stdout.contains("chronolog-job summary:") && r.stdout.contains("lost=0"), "\(r)")
        #expect(r.stdout.contains("exit status: 0 (the job's own, after signal 15") && r.stdout.contains("mpirun exit 0"), "\(r)")
        #expect(r.counters(role: "visor")[.undrainedEvents] == 0, "\(r)")
    }
}

/// The launch scripts, run as a user would (small jobs, no build: `CHRONOLOG_BIN` names the binary).
@Suite("launch scripts", .serialized)
struct LaunchScriptTests {
    let job = MPIJob.executable("chronolog-job")
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-scripts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("every script parses (bash -n)", arguments: ["scripts/run-job.sh", "scripts/test.sh", "scripts/lib.sh",
                                                      "jobs/chronolog-job.sh", "jobs/chronolog-job.sbatch"])
    func parses(_ script: String) throws {
        let r = try MPIJob.runCommand(["bash", "-n", root.appendingPathComponent(script).path], timeout: 30)
        #expect(r.exitCode == 0, "\(script): \(r)")
    }

    @Test("scripts/settings-sweep.py runs a seed's job and checks it (summary, counts, chronolog verify); no binaries is exit 2")
    func settingsSweep() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sweep = root.appendingPathComponent("scripts/settings-sweep.py").path
        let bin = URL(fileURLWithPath: job).deletingLastPathComponent().path
        // Seed 1004: one client, two stories and the shared one, 1 event each, three rounds of acquire and release.
        let r = try MPIJob.runCommand(["/usr/bin/python3", sweep, "--seed", "1004", "--bin", bin, "--out", dir.path], timeout: 240)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("OK  seed=1004") && r.stdout.contains("settings-sweep: 0 of 1 run(s) failed"), "\(r)")
        let missing = try MPIJob.runCommand(["/usr/bin/python3", sweep, "--runs", "1", "--bin", dir.path], timeout: 60)
        #expect(missing.exitCode == 2 && missing.stderr.contains("no chronolog-job in"), "\(missing)")
    }

    @Test("CHRONOLOG_RANKS=7 CHRONOLOG_BIN=… bash scripts/run-job.sh runs a 7-rank job")
    func runJobScript() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.runScript("bash \(root.appendingPathComponent("scripts/run-job.sh").path) --events 10 "
                                     + "--set archive.directory=\(dir.appendingPathComponent("archive").path)",
                                     timeout: 120, environment: ["CHRONOLOG_RANKS": "7", "CHRONOLOG_BIN": job])
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("chronolog-job: 7 ranks") && r.stdout.contains("exit status: 0"), "\(r)")
        let bad = try MPIJob.runScript("bash \(root.appendingPathComponent("scripts/run-job.sh").path)", timeout: 60,
                                       environment: ["CHRONOLOG_RANKS": "many", "CHRONOLOG_BIN": job])
        #expect(bad.exitCode == 2 && bad.stderr.contains("CHRONOLOG_RANKS"), "\(bad)")
    }

    @Test("CHRONOLOG_BIN=… jobs/chronolog-job.sh -n 6 runs the job")
    func jobScript() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.runScript("bash \(root.appendingPathComponent("jobs/chronolog-job.sh").path) -n 6 --events 10 "
                                     + "--set archive.directory=\(dir.appendingPathComponent("archive").path)",
                                     timeout: 120, environment: ["CHRONOLOG_BIN": job])
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("chronolog-job: 6 ranks") && r.stdout.contains("exit status: 0"), "\(r)")
    }

    @Test("jobs/chronolog-job.sbatch without Slurm: its body runs through a stand-in srun with CHRONOLOG_SRUN_MPI and CHRONOLOG_BIN")
    func sbatchBody() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Stands in for srun: checks the --mpi option, then starts the 6 ranks with mpirun.
        let srun = dir.appendingPathComponent("srun")
        try """
            #!/usr/bin/env bash
            [[ $1 == --mpi=* ]] || { echo "stand-in srun: expected --mpi=..., got $1" >&2; exit 3; }
            echo "srun $1"
            shift
            exec $MPIRUN -n 6 "$@"
            """.write(to: srun, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: srun.path)
        let r = try MPIJob.runScript("""
            export MPIRUN PATH="\(dir.path):$PATH" SLURM_SUBMIT_DIR="\(dir.path)"
            bash \(root.appendingPathComponent("jobs/chronolog-job.sbatch").path) --events 10
            """, timeout: 120, environment: ["CHRONOLOG_BIN": job, "CHRONOLOG_SRUN_MPI": "pmi2"])
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("srun --mpi=pmi2") && r.stdout.contains("exit status: 0"), "\(r)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path),
                "the job did not archive in SLURM_SUBMIT_DIR")
    }
}
