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
        #expect(r.exitCode != 0 && !r.timedOut, "\(r)")
        #expect(r.stderr.contains("no-such-option"), "\(r)")
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
