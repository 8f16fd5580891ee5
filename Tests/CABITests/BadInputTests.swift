import ChronoModel
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
        // Bad input is refused by the client: the visor never sees a message it must drop.
        #expect(!r.stdout.contains("malformed message") && !r.stderr.contains("malformed message"), "\(r)")
        // The reader's story left held at finalize was flushed and released: 20 events, none lost.
        #expect(r.stdout.contains("lost=0"), "\(r)")
        #expect(r.stdout.contains("exit status: 0"), "\(r)")
    }

    @Test("the application follows the service's deployment settings it was not given (3 keepers, no player): one map, no hang, every event archived")
    func applicationFollowsServiceLayout() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/partial_replay.c", into: dir)
        // The service's 5 ranks: visor, 3 keepers, grapher, no player. With its own configuration
        // (the defaults: 1 keeper, 1 player) the application would lay them out otherwise.
        let service = (5, [MPIJob.executable("chronolog-job"), "--workload", "none", "--keepers-per-node", "3",
                           "--players-per-node", "0"])
        let r = try MPIJob.run([service, (2, [program, "write"])], timeout: 120, workingDirectory: dir)
        #expect(r.exitCode == 0 && r.lines(startingWith: "FAIL").isEmpty && r.stdout.contains("lost=0"), "\(r)")
        // The keepers took the batches (the summary sums its 3 keeper ranks).
        let received = r.stdout.firstMatch(of: #/keeper \(3 ranks\):.* batches\.received=(\d+)/#).flatMap { Int($0.1) } ?? 0
        #expect(received > 0 && !r.stdout.contains("player ("), "\(r)")
        // Too few ranks for the service's layout with the application's defaults (a player
        // besides): the application does not fail alone while the service waits for it.
        let small = (3, [MPIJob.executable("chronolog-job"), "--workload", "none", "--players-per-node", "0"])
        let second = dir.appendingPathComponent("second")
        try FileManager.default.createDirectory(at: second, withIntermediateDirectories: true)
        let s = try MPIJob.run([small, (2, [program, "write"])], timeout: 120, workingDirectory: second)
        #expect(s.exitCode == 0 && s.lines(startingWith: "FAIL").isEmpty && s.stdout.contains("lost=0"), "\(s)")
    }

    @Test("a client rank that calls MPI_Finalize without chronolog_finalize (MPMD join or embedded init): MPI_Finalize leaves the job for it, the job ends and archives every event",
          arguments: ["join", "init"])
    func mpiFinalizeWithoutChronologFinalize(mode: String) throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/forgets_finalize.c", into: dir)
        let ranks: [(Int, [String])] = mode == "join"
            ? [(4, [MPIJob.executable("chronolog-job"), "--workload", "none"]), (2, [program, "join", "500"])]
            : [(6, [program, "init", "500"])]
        let r = try MPIJob.run(ranks, timeout: 90, workingDirectory: dir)
        #expect(!r.timedOut && r.exitCode == 0 && r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "LOGGED 500").count == 2, "\(r)")
        #expect(r.stdout.contains("archived=1000 ") && r.stdout.contains("lost=0"), "\(r)")
        // Left already: a chronolog_finalize after MPI_Finalize is CL_ERR_NO_CONNECTION and touches no MPI.
        #expect(r.lines(startingWith: "AFTER -8").count == 2, "\(r)")
    }

    @Test("SIGTERM to every rank of a job whose C ranks log (SIGTERM left at its default), MPMD or embedded: the ranks drain, the summary is printed, every logged event archived",
          arguments: ["join", "init"])
    func sigtermDrainsCRanks(mode: String) throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/sigterm_logger.c", into: dir)
        let ranks = mode == "join" ? "-n 4 \(MPIJob.executable("chronolog-job")) --workload none --quiet : -n 2 \(program) join"
                                   : "-n 6 \(program) init"
        let r = try MPIJob.runScript("""
            cd \(dir.path)
            $MPIRUN \(ranks) > out.txt 2>&1 &
            pid=$!
            for _ in $(seq 600); do [ "$(grep -c LOGGING out.txt)" -ge 2 ] && break; sleep 0.05; done
            sleep 0.3
            pkill -TERM -P $pid
            wait $pid
            cat out.txt
            """, timeout: 120)
        #expect(r.lines(startingWith: "LOGGING").count == 2 && r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        let events = r.stdout.split(separator: "\n").first { $0.hasPrefix("  events: ") }.map(String.init) ?? ""
        let logged = events.firstMatch(of: /logged=(\d+)/)?.1, archived = events.firstMatch(of: /archived=(\d+)/)?.1
        #expect(logged != nil && Int(logged ?? "0") ?? 0 > 2000 && logged == archived && events.contains("lost=0"), "\(r)")
        #expect(r.stdout.contains("exit status: 0"), "\(r)")
    }

    @Test("after chronolog_finalize SIGTERM has its default again: a rank that goes on after leaving ends of it (the library's handler swallowed it)")
    func sigtermDefaultAfterFinalize() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/sigterm_logger.c", into: dir)
        let r = try MPIJob.runScript("""
            cd \(dir.path)
            $MPIRUN -n 4 \(MPIJob.executable("chronolog-job")) --workload none --quiet : -n 2 \(program) after > out.txt 2>&1 &
            pid=$!
            for _ in $(seq 600); do [ "$(grep -c FINALIZED out.txt)" -ge 2 ] && break; sleep 0.05; done
            for _ in $(seq 600); do grep -q "exit status" out.txt && break; sleep 0.05; done
            pkill -TERM -P $pid -f "[s]igterm_logger after"
            for _ in $(seq 200); do pgrep -P $pid -f "[s]igterm_logger after" > /dev/null || break; sleep 0.05; done
            pgrep -P $pid -f "[s]igterm_logger after" > /dev/null && echo "still running" && pkill -KILL -P $pid -f "[s]igterm_logger after"
            wait $pid
            cat out.txt
            """, timeout: 90)
        #expect(r.lines(startingWith: "FINALIZED 0").count == 2 && r.stdout.contains("lost=0"), "\(r)")
        #expect(!r.stdout.contains("still running"), "\(r)")
    }

    @Test("an MPMD application that never joins: the service says after 10 s what it waits for, instead of waiting without a word")
    func applicationThatNeverJoins() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/never_joins.c", into: dir)
        // The job cannot end (the service waits for the application's ranks): killed after 13 s.
        // Its ranks may still be dying when the launch's own clean-up looks: their shared-memory
        // files are removed here once no process maps them (at most 5 s).
        let leftovers = SharedMemoryLeftovers()
        let r = try MPIJob.run([(4, [MPIJob.executable("chronolog-job"), "--workload", "none", "--quiet"]), (1, [program, "60"])],
                               timeout: 13, workingDirectory: dir)
        var tries = 0
        while leftovers.hasNew && tries < 50 {
            leftovers.removeNew()
            usleep(100_000)
            tries += 1
        }
        #expect(r.timedOut, "\(r)")
        #expect(r.stderr.contains("waited 10.0 seconds for every one of the job's 5 ranks to join")
                && r.stderr.contains("chronolog_join or chronolog_init"), "\(r)")
    }

    @Test("a damaged archive row: chronolog_replay and the cursor deliver the intact events and return CL_ERR_PARTIAL_RESULT (-18)")
    func partialReplay() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/partial_replay.c", into: dir)
        let service = (4, [MPIJob.executable("chronolog-job"), "--workload", "none"])
        let write = try MPIJob.run([service, (2, [program, "write"])], timeout: 120, workingDirectory: dir)
        #expect(write.exitCode == 0 && write.lines(startingWith: "FAIL").isEmpty && write.stdout.contains("lost=0"), "\(write)")
        let file = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        for rank in 0..<2 {
            try ArchiveSurgery.flipIndexByte(file: file, chronicle: "partial", story: "s-\(rank)", row: 0, column: 4)
        }
        let read = try MPIJob.run([service, (2, [program, "read"])], timeout: 120, workingDirectory: dir)
        #expect(read.exitCode == 0, "\(read)")
        #expect(read.lines(startingWith: "FAIL").isEmpty, "\(read)")
        #expect(passed(read) == [7, 7], "\(read)")
    }

    @Test("a writer's tail the catalog records but the archive lacks: chronolog_replay and the cursor deliver what is archived and return CL_ERR_PARTIAL_RESULT (-18)")
    func tailMissingReplay() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try CProgram.build("Tests/CABITests/Programs/partial_replay.c", into: dir)
        let service = (4, [MPIJob.executable("chronolog-job"), "--workload", "none"])
        let write = try MPIJob.run([service, (2, [program, "write"])], timeout: 120, workingDirectory: dir)
        #expect(write.exitCode == 0 && write.lines(startingWith: "FAIL").isEmpty && write.stdout.contains("lost=0"), "\(write)")
        // What a keeper killed before archiving the last 2 events leaves: the catalog records 12.
        let url = dir.appendingPathComponent("chronolog-archive/\(ArchiveCatalog.fileName)")
        var catalog = try ArchiveCatalog(json: Data(contentsOf: url))
        for rank in 0..<2 {
            let writer = try #require(catalog.story(chronicle: "partial", story: "s-\(rank)")?.writers.first, "\(catalog)")
            catalog.release(chronicle: "partial", story: "s-\(rank)", by: ClientID(writer.client), count: 12)
        }
        try catalog.json().write(to: url)
        let read = try MPIJob.run([service, (2, [program, "read-tail"])], timeout: 120, workingDirectory: dir)
        #expect(read.exitCode == 0, "\(read)")
        #expect(read.lines(startingWith: "FAIL").isEmpty, "\(read)")
        #expect(passed(read) == [7, 7], "\(read)")
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
