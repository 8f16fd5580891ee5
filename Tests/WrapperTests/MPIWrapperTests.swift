import Foundation
import Testing
import TestSupport

/// The MPI wrapper, exercised by `wrapper-checks mpi ...` programs under mpirun.
@Suite("MPI wrapper under mpirun", .serialized)
struct MPIWrapperTests {
    let checks = MPIJob.executable("wrapper-checks")

    @Test("point-to-point: blocking, non-blocking, probe, mprobe; 0 B to 1 MiB; 20 large sends in flight at once from pooled memory", arguments: [2, 3])
    func pointToPoint(ranks: Int) throws {
        let r = try MPIJob.run(ranks: ranks, [checks, "mpi", "p2p"], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS mpi p2p").count == 1, "\(r)")
    }

    @Test("collectives on 2 and 4 ranks", arguments: [2, 4])
    func collectives(ranks: Int) throws {
        let r = try MPIJob.run(ranks: ranks, [checks, "mpi", "collectives"], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS mpi collectives").count == 1, "\(r)")
    }

    @Test("MPMD launch: MPI_APPNUM tells the applications apart")
    func appNumbers() throws {
        let r = try MPIJob.run([(1, [checks, "mpi", "appnum"]), (2, [checks, "mpi", "appnum"])], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "APPNUMS") == ["APPNUMS 0,1,1"], "\(r)")
    }

    @Test("MPI-IO: each rank writes its block of a shared file, reads the next rank's; closed and missing files are typed errors")
    func fileIO() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mpifile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run(ranks: 3, [checks, "mpi", "file", "--path", dir.appendingPathComponent("shared.bin").path], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS mpi file").count == 1, "\(r)")
    }

    @Test("split by node, by colour, with no colour; dup and free")
    func split() throws {
        let r = try MPIJob.run(ranks: 4, [checks, "mpi", "split"], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS mpi split").count == 1, "\(r)")
    }

    @Test("a failing call on an owned communicator is a typed error naming the call, not an abort")
    func errors() throws {
        let r = try MPIJob.run(ranks: 2, [checks, "mpi", "errors"], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        let caught = r.lines(startingWith: "CAUGHT")
        #expect(caught.count == 1 && caught[0].contains("MPI_Send failed: MPI_ERR_RANK"), "\(r)")
    }

    @Test("a check that fails makes the job fail (the harness can fail)")
    func failingCheckFails() throws {
        // `p2p` needs 2 ranks; on 1 rank its own precondition fails and must abort the job.
        let r = try MPIJob.run(ranks: 1, [checks, "mpi", "p2p"], timeout: 60)
        #expect(r.exitCode != 0, "\(r)")
        #expect(r.stderr.contains("FAIL mpi p2p"), "\(r)")
    }
}
