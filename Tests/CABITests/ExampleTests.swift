import Foundation
import Testing
import TestSupport

/// The examples in `examples/`, compiled with the MPI compiler wrappers against the built
/// library and run MPMD beside the service; the archive is read back with h5py.
@Suite("C interface: examples", .serialized)
struct ExampleTests {
    static let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Programs/verify_example_archive.py").path

    /// Runs `program` on `ranks` application ranks beside a 4-rank service, then checks its
    /// allreduce results, the job summary and the archive (every event exactly once).
    func runAndVerify(_ program: String, ranks: Int, steps: Int, in dir: URL) throws {
        let r = try MPIJob.run([
            (4, [MPIJob.executable("chronolog-job"), "--workload", "none"]),
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

    @Test("examples/c/logging_app.c, MPMD with 2 application ranks: allreduce right, every event archived once")
    func cExample() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("examples/c/logging_app.c", into: dir)
        try runAndVerify(program, ranks: 2, steps: 300, in: dir)
    }
}
