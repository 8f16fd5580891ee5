import Foundation
import Testing
import TestSupport

/// The event path end to end: clients → keepers → RMA → graphers → parallel HDF5, checked by
/// reading the archive with h5py exactly as docs/ARCHIVE.md describes.
@Suite("Event path to the HDF5 archive", .serialized)
struct EventPathTests {
    let checks = MPIJob.executable("job-checks")
    let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("verify_job_archive.py").path

    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-eventpath-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `archive-roundtrip`, then the h5py verifier and h5dump on the archive.
    private func roundTrip(ranks: Int, _ extra: [String], events: Int = 150) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run([(ranks, [checks, "archive-roundtrip", "--events", String(events)] + extra)], timeout: 240,
                               workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
        let logged = dir.appendingPathComponent("logged.txt")
        try r.stdout.write(to: logged, atomically: true, encoding: .utf8)
        let archive = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        let v = try MPIJob.runCommand(["/usr/bin/python3", verifier, archive, logged.path], timeout: 300)
        #expect(v.exitCode == 0 && v.stdout.contains("VERIFIED"), "\(v)")
        let expected = r.lines(startingWith: "LOGGED\t").compactMap { Int($0.split(separator: "\t").last ?? "") }.reduce(0, +)
        #expect(v.stdout.contains("VERIFIED \(expected)"), "h5py read \(v.stdout), clients logged \(expected)")
        let dump = try MPIJob.runCommand(["h5dump", "-A", archive], timeout: 60)
        #expect(dump.exitCode == 0 && dump.stdout.contains("ChronoLog-Swift"), "\(dump)")
    }

    @Test("SIGTERM during ingest: the job drains, the archive opens and holds every event the clients logged")
    func sigtermDuringIngest() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.runScript("""
            cd \(dir.path)
            $MPIRUN -n 7 \(checks) archive-roundtrip --events 100000000 --pause-microseconds 100 > out.txt 2> err.txt &
            pid=$!
            sleep 4
            pkill -TERM -P $pid
            wait $pid
            echo "mpirun exit $?"
            """, timeout: 180)
        let out = (try? String(contentsOf: dir.appendingPathComponent("out.txt"), encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: dir.appendingPathComponent("err.txt"), encoding: .utf8)) ?? ""
        #expect(r.stdout.contains("mpirun exit 0"), "\(r)\n\(out)\n\(err)")
        #expect(out.contains("lost=0") && out.contains("exit status: 0"), "\(out)\n\(err)")
        let archive = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        let v = try MPIJob.runCommand(["/usr/bin/python3", verifier, archive, dir.appendingPathComponent("out.txt").path], timeout: 300)
        #expect(v.exitCode == 0 && v.stdout.contains("VERIFIED"), "\(v)")
        let logged = out.split(separator: "\n").filter { $0.hasPrefix("LOGGED\t") }
            .compactMap { Int($0.split(separator: "\t").last ?? "") }.reduce(0, +)
        #expect(logged > 0 && v.stdout.contains("VERIFIED \(logged)"), "\(v.stdout) vs \(logged) logged")
    }

    @Test("clients × stories × events (0 B to 64 KiB, binary, UTF-8 names): h5py reads every event exactly once, in order")
    func singleGroup() throws {
        try roundTrip(ranks: 7, [])
    }

    @Test("two graphers on virtual nodes write one archive collectively; stories of both groups present")
    func twoGraphers() throws {
        try roundTrip(ranks: 11, ["--set", "deployment.virtualNodes=2"], events: 100)
    }

    @Test("two keepers per group merge into one story; a slow archive makes writers wait, nothing is lost")
    func slowArchiveAndTwoKeepers() throws {
        try roundTrip(ranks: 8, ["--set", "deployment.keepersPerNode=2", "--set", "grapher.archiveDelayMs=300",
                                  "--set", "keeper.memoryLimitBytes=2097152", "--set", "keeper.transferSlotBytes=131072"],
                      events: 120)
    }
}
