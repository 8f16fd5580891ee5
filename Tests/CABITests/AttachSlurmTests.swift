import Foundation
import Testing
import TestSupport

/// `jobs/chronolog-service.sbatch` under a real one-node Slurm (`scripts/slurm-local.sh`): a
/// separately started C program attaches, logs and replays; `scancel` stops the service, which
/// drains and writes its summary into the job's output.
@Suite("The service sbatch script under Slurm", .serialized)
struct AttachSlurmTests {
    @Test("sbatch jobs/chronolog-service.sbatch; a singleton attaches, logs 700 events and replays them; scancel drains: the summary in the job's output, every event archived once",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld") && getuid() == 0))
    func serviceUnderSlurm() throws {
        let (work, client, run) = try AttachTests.attachClient()
        defer { try? FileManager.default.removeItem(at: work) }
        let root = CProgram.packageRoot.path, slurm = work.appendingPathComponent("slurm").path
        let start = try MPIJob.runCommand(["bash", root + "/scripts/slurm-local.sh", "start", slurm], timeout: 60)
        defer { _ = try? MPIJob.runCommand(["bash", root + "/scripts/slurm-local.sh", "stop", slurm], timeout: 30) }
        try #require(start.exitCode == 0, "\(start)")
        let w = work.path, chronolog = MPIJob.executable("chronolog")
        let r = try MPIJob.runScript("""
            set -u
            export SLURM_CONF=\(slurm)/slurm.conf
            cd \(root)
            CHRONOLOG_ARCHIVE_DIRECTORY=\(w)/archive CHRONOLOG_BIN=\(MPIJob.executable("chronolog-job")) \\
              sbatch -N 1 --ntasks-per-node 5 --output=\(w)/service.out jobs/chronolog-service.sbatch --run-dir \(run) --time 120 > \(w)/submitted
            job=$(grep -o '[0-9]*' \(w)/submitted)
            for _ in $(seq 300); do grep -q "accepting attached clients" \(w)/service.out 2>/dev/null && break; sleep 0.1; done
            echo "== client"; timeout 30 \(client) \(run) write slurm attached 700; echo "rc=$?"
            scancel "$job"
            for _ in $(seq 120); do [[ -z $(squeue -h -j "$job" 2>/dev/null) ]] && break; sleep 0.5; done
            echo "== queue"; squeue -h -j "$job" 2>/dev/null; echo "end"
            echo "== output"; cat \(w)/service.out
            echo "== verify"; \(chronolog) verify \(w)/archive; echo "verify_rc=$?"
            echo "== replay"; \(chronolog) replay \(w)/archive slurm attached --format csv | tail -n +2 | cut -d, -f2,3 | sort | uniq -d | wc -l
            \(chronolog) replay \(w)/archive slurm attached --format csv | tail -n +2 | wc -l
            """, timeout: 150)
        let sections = AttachTests.sections(r.stdout)
        #expect(sections["client"]?.contains("replayed=700") == true && sections["client"]?.contains("rc=0") == true, "\(r)")
        #expect(sections["queue"] == "end\n", "the job did not end within a minute of scancel: \(r)")
        let output = sections["output"] ?? ""
        // The drain's summary reaches the job's output although scancel signalled mpirun too.
        #expect(output.contains("events: logged=700 received=700 archived=700 late=0 rejected=0 refused=0 lost=0"), "\(r)")
        #expect(output.contains("exit status: 0"), "\(r)")
        let verify = sections["verify"] ?? ""
        #expect(verify.contains("events 700") && verify.contains("story \"slurm\"/\"attached\": complete") && verify.contains("verify_rc=0"), "\(r)")
        // Each event once: no (client, index) twice, 700 rows.
        #expect(sections["replay"]?.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["0", "700"], "\(r)")
        #expect(!FileManager.default.fileExists(atPath: run + "/ompi-server.uri"), "the URI file outlived the service")
    }
}
