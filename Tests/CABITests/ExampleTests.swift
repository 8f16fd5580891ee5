import Foundation
import Testing
import TestSupport

/// The examples in `examples/`, compiled with the MPI compiler wrappers and `pkg-config` against
/// a prefix installed by `scripts/install.sh`, run MPMD beside that prefix's `chronolog-job`; the
/// archive is read back with h5py.
@Suite("C interface: examples", .serialized)
struct ExampleTests {
    static let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Programs/verify_example_archive.py").path

    /// Runs `program` on `ranks` application ranks beside a 4-rank service, then checks its
    /// allreduce results, the job summary and the archive (every event exactly once).
    func runAndVerify(_ program: String, prefix: URL, ranks: Int, steps: Int, in dir: URL) throws {
        let r = try MPIJob.run([
            (4, [prefix.appendingPathComponent("bin/chronolog-job").path, "--workload", "none"]),
            (ranks, [program, String(steps)]),
        ], timeout: 180, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "ALLREDUCE ok ").count == ranks, "\(r)")
        #expect(r.lines(startingWith: "DURABLE \(steps)").count == ranks, "\(r)")
        #expect(r.stdout.contains("logged=\(ranks * steps) ") && r.stdout.contains(" lost=0"), "\(r)")
        let logged = dir.appendingPathComponent("logged.txt")
        try r.stdout.write(to: logged, atomically: true, encoding: .utf8)
        let archive = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        let v = try MPIJob.runCommand(["/usr/bin/python3", Self.verifier, archive, logged.path], timeout: 120)
        #expect(v.exitCode == 0 && v.stdout.contains("VERIFIED \(ranks * steps)"), "\(v)")
    }

    @Test("the C and C++ examples, installed with pkg-config, MPMD with 2 and 3 application ranks: allreduce right, every event archived once",
          arguments: [("examples/c/logging_app.c", "mpicc", ["-std=c99", "-Wall", "-Wextra", "-Werror"], 2),
                      ("examples/cpp/logging_app.cpp", "mpicxx",
                       ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-cast-function-type"], 3)])
    func example(source: String, compiler: String, warnings: [String], ranks: Int) throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("prefix")
        try CProgram.install(into: prefix)
        let program = try CProgram.buildInstalled(source, prefix: prefix, into: dir, compiler: compiler, warnings: warnings)
        try runAndVerify(program, prefix: prefix, ranks: ranks, steps: 300, in: dir)
    }
}
