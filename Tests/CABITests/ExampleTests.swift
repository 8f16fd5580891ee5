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
    /// Embedded, the program runs alone on 4 + `ranks` ranks and makes the service of 4 of them.
    func runAndVerify(_ program: String, prefix: URL, ranks: Int, steps: Int, embedded: Bool, in dir: URL) throws {
        let apps: [(ranks: Int, argv: [String])] = embedded
            ? [(4 + ranks, [program, "--embedded", String(steps)])]
            : [(4, [prefix.appendingPathComponent("bin/chronolog-job").path, "--workload", "none"]), (ranks, [program, String(steps)])]
        let r = try MPIJob.run(apps, timeout: 180, workingDirectory: dir)
        try verify(r, ranks: ranks, steps: steps, in: dir)
    }

    /// Checks a run of an example with `ranks` logging ranks: allreduce results, the job summary,
    /// the archive (every event exactly once).
    func verify(_ r: JobResult, ranks: Int, steps: Int, in dir: URL) throws {
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "ALLREDUCE ok ").count == ranks, "\(r)")
        #expect(r.lines(startingWith: "DURABLE \(steps)").count == ranks, "\(r)")
        #expect(r.stdout.contains("logged=\(ranks * steps) ") && r.stdout.contains(" lost=0"), "\(r)")
        let logged = dir.appendingPathComponent("logged.txt")
        try r.stdout.write(to: logged, atomically: true, encoding: .utf8)
        let archive = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        let v = try MPIJob.runCommand(["/usr/bin/python3", Self.verifier, archive, logged.path], timeout: 120)
        #expect(v.exitCode == 0 && v.lines(startingWith: "VERIFIED ") == ["VERIFIED \(ranks * steps)"], "\(v)")
    }

    static let c = ("examples/c/logging_app.c", "mpicc", ["-std=c99", "-Wall", "-Wextra", "-Werror"])
    static let cpp = ("examples/cpp/logging_app.cpp", "mpicxx", ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-cast-function-type"])
    static let fortran = ("examples/fortran/logging_app.f90", "mpifort", ["-std=f2018", "-Wall", "-Wextra", "-Werror"])

    @Test("the C, C++ and Fortran examples, installed and built with pkg-config, MPMD and embedded with 2-4 compute ranks: allreduce right, every event archived once",
          arguments: [(c, 2, false), (cpp, 3, false), (fortran, 4, false), (c, 2, true), (cpp, 2, true), (fortran, 3, true)])
    func example(language: (source: String, compiler: String, warnings: [String]), ranks: Int, embedded: Bool) throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("prefix")
        try CProgram.install(into: prefix)
        let program = try CProgram.buildInstalled(language.source, prefix: prefix, into: dir, compiler: language.compiler,
                                                  warnings: language.warnings)
        try runAndVerify(program, prefix: prefix, ranks: ranks, steps: 300, embedded: embedded, in: dir)
    }

    @Test("embedded over a part of MPI_COMM_WORLD: the last 2 ranks compute alone meanwhile, the others make a job (4 serve, 2-3 log)",
          arguments: [2, 3])
    func embeddedInPart(ranks: Int) throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("examples/c/logging_app.c", into: dir)
        let r = try MPIJob.run([(4 + ranks + 2, [program, "--embedded-split", "300"])], timeout: 180, workingDirectory: dir)
        try verify(r, ranks: ranks, steps: 300, in: dir)
        #expect(r.lines(startingWith: "UNLOGGED ok ").count == 2, "\(r)")
        #expect(r.lines(startingWith: "WORLD ok").count == 1, "\(r)")
        #expect(r.stdout.contains("chronolog_init: \(4 + ranks) ranks"), "\(r)")
    }

    @Test("a durable flush waits for the grapher's next round when that is further off than the stall limit (the service's rounds every 4 s, timeouts of 1.5 s): DURABLE, not -8")
    func durableFlushWaitsForALongArchiveInterval() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("examples/c/logging_app.c", into: dir)
        // The interval is the service's setting alone: the application learns it from the connect
        // reply (its own configuration says 1 s, which would give up after 2.6 s).
        let settings = ["CHRONOLOG_TIMEOUTS_CONNECT_MS": "1500", "CHRONOLOG_TIMEOUTS_SHUTDOWN_DRAIN_MS": "1500"]
        let service = [MPIJob.executable("chronolog-job"), "--workload", "none", "--set", "grapher.archiveIntervalMs=4000"]
        let r = try MPIJob.run([(4, service), (2, [program, "50"])], timeout: 120,
                               environment: settings, extraFlags: settings.keys.sorted().flatMap { ["-x", $0] }, workingDirectory: dir)
        try verify(r, ranks: 2, steps: 50, in: dir)
    }

    @Test("embedded in a job too small for the service and one client: every rank's chronolog_init returns -7, the message names the smallest -n")
    func embeddedTooSmall() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("examples/c/logging_app.c", into: dir)
        let r = try MPIJob.run([(4, [program, "--embedded", "10"])], timeout: 60, workingDirectory: dir)
        #expect(!r.timedOut && r.exitCode != 0, "\(r)")
        #expect(r.stderr.contains("run with mpirun -n 5 or more"), "\(r)")
    }

    @Test("chronolog_init refused as too small (-7 on MPI_COMM_SELF) can be tried again: the same ranks then make a job of MPI_COMM_WORLD and log")
    func embeddedRetryAfterRefusal() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/init_retry.c", into: dir)
        let r = try MPIJob.run([(5, [program])], timeout: 90, workingDirectory: dir)
        #expect(r.exitCode == 0 && r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "RETRY ok").count == 1 && r.stdout.contains("lost=0"), "\(r)")
    }
}
