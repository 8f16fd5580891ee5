import Foundation
import Testing
import TestSupport

/// The `jobs/` scripts: they parse, pass shellcheck, answer --help, fail clearly without their
/// binary, lay an MPMD job out per node, and run under a real one-node Slurm.
@Suite("jobs/ scripts", .serialized)
struct JobScriptTests {
    static let scripts = ["jobs/chronolog-job.sh", "jobs/chronolog-job.sbatch", "jobs/chronolog-mpmd.sh", "jobs/chronolog-mpmd.sbatch",
                          "jobs/ior-scaling.sh", "jobs/ior-scaling.sbatch", "benchmarks/ior.sh", "scripts/slurm-local.sh",
                          "jobs/chronolog-service.sh", "jobs/chronolog-service.sbatch"]

    static func path(_ script: String) -> String { checkoutRoot.appendingPathComponent(script).path }

    @Test("every script parses (bash -n) and passes shellcheck at warning level", arguments: scripts)
    func parses(script: String) throws {
        let r = try MPIJob.runCommand(["bash", "-n", Self.path(script)], timeout: 30)
        #expect(r.exitCode == 0, "\(r)")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/shellcheck") else { return }
        let s = try MPIJob.runCommand(["/usr/bin/shellcheck", "-x", "-S", "warning", Self.path(script)], timeout: 60,
                                      workingDirectory: URL(fileURLWithPath: Self.path(script)).deletingLastPathComponent())
        #expect(s.exitCode == 0, "\(s)")
    }

    @Test("--help prints the header comments, also without the binary and outside Slurm", arguments: [
        "jobs/chronolog-mpmd.sh", "jobs/ior-scaling.sh", "jobs/chronolog-service.sh", "jobs/chronolog-job.sh",
        "jobs/chronolog-job.sbatch", "jobs/chronolog-mpmd.sbatch", "jobs/chronolog-service.sbatch", "jobs/ior-scaling.sbatch",
    ])
    func help(script: String) throws {
        let r = try MPIJob.runCommand(["bash", Self.path(script), "--help"], timeout: 30,
                                      environment: ["CHRONOLOG_BIN": "/nowhere/binary", "CHRONOLOG_BENCH_BIN": "/nowhere/binary"])
        #expect(r.exitCode == 0 && r.stdout.contains("\(script) [") && r.stdout.contains("CHRONOLOG_")
                && !r.stdout.contains("set -euo") && !r.stdout.contains("#SBATCH"), "\(r)")
    }

    @Test("a missing binary fails at once, saying how to build it", arguments: [
        ("jobs/chronolog-job.sbatch", [String](), "CHRONOLOG_BIN", "--product chronolog-job"),
        ("jobs/chronolog-service.sh", [String](), "CHRONOLOG_BIN", "--product chronolog-job"),
        ("jobs/chronolog-service.sbatch", [String](), "CHRONOLOG_BIN", "--product chronolog-job"),
        ("jobs/chronolog-mpmd.sh", ["--", "ls"], "CHRONOLOG_BIN", "--product chronolog-job"),
        ("jobs/chronolog-mpmd.sbatch", ["--", "ls"], "CHRONOLOG_BIN", "--product chronolog-job"),
        ("jobs/ior-scaling.sh", [], "CHRONOLOG_BENCH_BIN", "--product chronolog-bench"),
        ("jobs/ior-scaling.sbatch", [], "CHRONOLOG_BENCH_BIN", "--product chronolog-bench"),
    ])
    func missingBinary(script: String, args: [String], variable: String, build: String) throws {
        let r = try MPIJob.runCommand(["bash", Self.path(script)] + args, timeout: 30,
                                      environment: [variable: "/nowhere/binary", "SLURM_SUBMIT_DIR": checkoutRoot.path,
                                                    "SLURM_JOB_NUM_NODES": "1"])
        #expect(r.exitCode == 1, "\(r)")
        #expect(r.stderr.contains("/nowhere/binary is missing") && r.stderr.contains(build), "\(r)")
    }

    @Test("jobs/chronolog-mpmd.sbatch puts a recording group's tasks first on every node (stand-in srun shows the multi-prog file)")
    func mpmdLayout() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let srun = dir.appendingPathComponent("srun")
        try """
            #!/usr/bin/env bash
            echo "srun $*"
            while (($#)); do [[ $1 == --multi-prog ]] && cat "$2"; shift; done
            """.write(to: srun, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: srun.path)
        let r = try MPIJob.runCommand(["bash", Self.path("jobs/chronolog-mpmd.sbatch"), "--keepers-per-node", "2", "--", "/bin/true", "x"],
                                      timeout: 30, environment: [
                                          "PATH": "\(dir.path):/usr/bin:/bin", "CHRONOLOG_BIN": "/bin/true", "SLURM_SUBMIT_DIR": dir.path,
                                          "SLURM_JOB_NUM_NODES": "2", "SLURM_NTASKS_PER_NODE": "8", "CHRONOLOG_SRUN_MPI": "pmi2"])
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("srun --mpi=pmi2 -n 16 --distribution=block --multi-prog"), "\(r)")
        // Node 0: the visor and 2 keepers, a grapher, a player (tasks 0-4); node 1: tasks 8-11.
        #expect(r.stdout.contains("0-4,8-11 /bin/true --workload none") && r.stdout.contains("5-7,12-15 /bin/true x"), "\(r)")
    }

    @Test("under a real one-node Slurm (scripts/slurm-local.sh): the deployment, an MPMD application and the scaling series",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld") && getuid() == 0))
    func realSlurm() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let slurm = dir.appendingPathComponent("slurm").path
        let start = try MPIJob.runCommand(["bash", Self.path("scripts/slurm-local.sh"), "start", slurm], timeout: 60)
        defer { _ = try? MPIJob.runCommand(["bash", Self.path("scripts/slurm-local.sh"), "stop", slurm], timeout: 30) }
        try #require(start.exitCode == 0, "\(start)")
        let bin = MPIJob.binDirectory.path, out = dir.path
        let r = try MPIJob.runScript("""
            export SLURM_CONF=\(slurm)/slurm.conf CHRONOLOG_ARCHIVE_DIRECTORY=\(out)/archive
            cd \(checkoutRoot.path)
            CHRONOLOG_BIN=\(bin)/chronolog-job sbatch --wait -N 1 --ntasks-per-node 6 --output=\(out)/job.out jobs/chronolog-job.sbatch --events 10
            echo "job $?"
            CHRONOLOG_ARCHIVE_DIRECTORY=\(out)/archive-mpmd CHRONOLOG_BIN=\(bin)/chronolog-job sbatch --wait -N 1 --ntasks-per-node 6 \\
              --output=\(out)/mpmd.out jobs/chronolog-mpmd.sbatch -- \(bin)/job-checks app
            echo "mpmd $?"
            CHRONOLOG_BENCH_BIN=\(bin)/chronolog-bench sbatch --wait -N 1 --ntasks-per-node 6 --output=\(out)/ior.out \\
              jobs/ior-scaling.sbatch --series weak -b 32k --out \(out)/scaling -- -a CHRONOLOG,POSIX
            echo "ior $?"
            """, timeout: 240)
        #expect(r.stdout.contains("job 0") && r.stdout.contains("mpmd 0") && r.stdout.contains("ior 0"), "\(r)")
        for (file, text) in [("job.out", "exit status: 0"), ("mpmd.out", "exit status: 0"), ("ior.out", "results in")] {
            let body = (try? String(contentsOfFile: "\(out)/\(file)", encoding: .utf8)) ?? ""
            #expect(body.contains(text), "\(file):\n\(body)")
        }
        #expect(FileManager.default.fileExists(atPath: "\(out)/scaling/ior-weak-1n.json"))
        if plottingPython != nil {
            #expect(FileManager.default.fileExists(atPath: "\(out)/scaling/scaling-weak.png"))
        }
    }
}
