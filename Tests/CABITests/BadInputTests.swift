import Foundation
import Testing
import TestSupport

/// Every return code reachable from C, checked by a C program (`Programs/abi_checks.c`) run MPMD
/// beside the service: `mpirun -n 4 chronolog-job --workload none : -n 2 abi_checks`.
@Suite("C interface: bad input and codes", .serialized)
struct BadInputTests {
    private func passed(_ r: JobResult) -> [Int] {
        r.lines(startingWith: "CHECKS passed=").compactMap { line in
            line.firstMatch(of: #/passed=(\d+) failed=0/#).flatMap { Int($0.1) }
        }
    }

    @Test("NULLs, bad names, non-UTF-8, over-long events, before join, after finalize, join twice, released handles")
    func everyCode() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/abi_checks.c", into: dir)
        let r = try MPIJob.run([
            (4, [MPIJob.executable("chronolog-job"), "--workload", "none"]),
            (2, [program]),
        ], timeout: 180, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(passed(r).count == 2 && passed(r).allSatisfy { $0 >= 90 }, "\(r)")
        // The reader's story left held at finalize was flushed and released: 20 events, none lost.
        #expect(r.stdout.contains("lost=0"), "\(r)")
        #expect(r.stdout.contains("exit status: 0"), "\(r)")
    }

    @Test("a join every application rank refuses (MPI below MPI_THREAD_MULTIPLE, unreadable configuration): -2, the job still ends",
          arguments: [("--single", "MPI_THREAD_MULTIPLE"), ("--bad-config", "/nonexistent/chronolog.json")])
    func joinRefused(mode: String, message: String) throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/abi_checks.c", into: dir)
        let r = try MPIJob.run([
            (4, [MPIJob.executable("chronolog-job"), "--workload", "none"]),
            (2, [program, mode]),
        ], timeout: 120, workingDirectory: dir)
        #expect(!r.timedOut, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(passed(r) == [4, 4], "\(r)")
        #expect(r.stderr.contains(message), "\(r)")
    }
}
