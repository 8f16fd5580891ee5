import ChronoModel
import Foundation
import Testing
import TestSupport

/// Replay (issue 6) under mpirun: `job-checks replay` compares random ranges replayed from many
/// threads and ranks — while writers keep logging — with an exact model of what was logged,
/// including events still in keeper memory; then follow, fresh visibility, error codes, and the
/// archive alone after release.
@Suite("Replay from the archive and from memory", .serialized)
struct ReplayTests {
    let checks = MPIJob.executable("job-checks")

    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `job-checks replay` in `directory` (a fresh one by default) and expects every check to
    /// pass and, when the job logs events (`logs`), none lost.
    private func replay(ranks: Int, _ extra: [String], timeout: Int = 240, in directory: URL? = nil, logs: Bool = true,
                        mpirun: [String] = []) throws -> JobResult {
        let dir = try directory ?? scratch()
        defer { if directory == nil { try? FileManager.default.removeItem(at: dir) } }
        let r = try MPIJob.run([(ranks, [checks, "replay"] + extra)], timeout: timeout, extraFlags: mpirun, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        let clients = r.lines(startingWith: "CHECKS ")
        #expect(!clients.isEmpty && clients.allSatisfy { $0.hasSuffix(" failed=0") }, "\(r)")
        if logs { #expect(r.stdout.contains("lost=0"), "\(r)") }
        return r
    }

    /// A summary counter of `role`; -1 when the summary lacks it.
    private func counter(_ r: JobResult, role: String, _ counter: Counter) -> Int {
        r.counters(role: role)[counter].map { Int($0) } ?? -1
    }

    @Test("random ranges and \"last N\" queries from 3 ranks × 3 threads while writing match the model, partly from keeper memory; follow, fresh event, error codes, archive after release")
    func singleGroup() throws {
        let r = try replay(ranks: 7, ["--events", "200", "--queries", "20"])
        #expect(counter(r, role: "keeper", .replaysEvents) > 0, "no replay used keeper memory: \(r)")
        // "Last N": small counts from the keepers' memory alone, counts above what they hold from the archive too.
        // (from memory alone: straight from the keepers, or by the player when its route was stale)
        #expect(max(0, counter(r, role: "player", .lastFromMemory)) + max(0, counter(r, role: "client", .replayLastDirect)) > 0,
                "no last-N query was answered from memory alone: \(r)")
        #expect(counter(r, role: "player", .lastFromArchive) > 0, "no last-N query read the archive: \(r)")
        #expect(counter(r, role: "player", .queriesServed) >= 3 * 3 * 20, "\(r)")
        // Some "last N" answers came straight from the keepers (equal to the model all the same).
        #expect(counter(r, role: "client", .replayLastDirect) > 0 && counter(r, role: "keeper", .replaysDirect) > 0, "\(r)")
        #expect(counter(r, role: "visor", .readsGranted) > 0, "\(r)")
        // Pieces over 64 KiB travel by RMA from the player's registered memory.
        #expect(counter(r, role: "player", .piecesRma) > 0, "no piece went by RMA: \(r)")
        // Windows with no keeper events are read straight from the file into registered memory.
        #expect(counter(r, role: "player", .piecesStraight) > 0, "no piece was read straight from the archive: \(r)")
        // The client reads those pieces' payloads straight into the chunks it hands out.
        #expect(counter(r, role: "client", .replayPiecesInPlace) > 0 && counter(r, role: "client", .replayPiecesDecoded) == 0, "\(r)")
        // Their payloads are lent where they lie in the mapped archive file, not copied into the slot.
        #expect(counter(r, role: "player", .piecesMapped) > 0, "no piece's payload was lent from the mapped archive: \(r)")
        // Readers on the player's node copy those payloads from the archive file they map themselves.
        #expect(counter(r, role: "client", .replayPiecesFromFile) == counter(r, role: "player", .piecesMapped), "\(r)")
        #expect(counter(r, role: "client", .replayPiecesLentByRma) <= 0 && counter(r, role: "client", .replayPiecesFileRefused) <= 0, "\(r)")
    }

    @Test("readers told not to map archive files (client.mapArchiveFiles=false) read the lent payloads by RMA, same answers")
    func lentPayloadsByRma() throws {
        let r = try replay(ranks: 6, ["--events", "120", "--queries", "10", "--set", "client.mapArchiveFiles=false"])
        #expect(counter(r, role: "player", .piecesMapped) > 0, "\(r)")
        #expect(counter(r, role: "client", .replayPiecesLentByRma) == counter(r, role: "player", .piecesMapped), "\(r)")
        #expect(counter(r, role: "client", .replayPiecesFromFile) <= 0, "\(r)")
    }

    @Test("readers whose working directory is not the player's still copy lent payloads from the archive file (its path sent absolute)")
    func readersElsewhereMapTheArchive() throws {
        let dir = try scratch(), elsewhere = try scratch()
        defer {
            try? FileManager.default.removeItem(at: dir)
            try? FileManager.default.removeItem(at: elsewhere)
        }
        // MPMD: the 4 service ranks in `dir` (the archive directory is relative: dir/chronolog-archive),
        // the 2 readers in another directory.
        let args = [checks, "replay", "--events", "120", "--queries", "10"]
        let r = try MPIJob.run([(4, args), (2, ["--wdir", elsewhere.path] + args)], timeout: 240, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "CHECKS ").allSatisfy { $0.hasSuffix(" failed=0") }, "\(r)")
        #expect(counter(r, role: "player", .piecesMapped) > 0, "\(r)")
        #expect(counter(r, role: "client", .replayPiecesFromFile) == counter(r, role: "player", .piecesMapped), "\(r)")
        #expect(counter(r, role: "client", .replayPiecesFileRefused) <= 0, "\(r)")
    }

    @Test("""
        readers that see another file at the archive's path (their own mount namespace: another directory bound over the \
        archive directory, as in a container) refuse to map it and read the lent payloads by RMA, same answers
        """, .enabled(if: ReplayTests.canBindMount, "needs `unshare -m` and `mount --bind` (root with CAP_SYS_ADMIN)"))
    func readersSeeingAnotherFileRefuseIt() throws {
        let dir = try scratch(), decoy = try scratch()
        defer {
            try? FileManager.default.removeItem(at: dir)
            try? FileManager.default.removeItem(at: decoy)
        }
        // The archive's directory exists before the job (a bind mount needs its target), and the
        // decoy directory holds a file of the archive's name, large enough for every range a piece
        // names: only its identity (device and inode) tells it from the archive.
        let archive = dir.appendingPathComponent("chronolog-archive")
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        let decoyFile = decoy.appendingPathComponent("chronolog-archive.h5")
        #expect(FileManager.default.createFile(atPath: decoyFile.path, contents: nil))
        let handle = try FileHandle(forWritingTo: decoyFile)
        try handle.truncate(atOffset: 1 << 30)
        try handle.close()
        let args = [checks, "replay", "--events", "120", "--queries", "10"]
        // MPMD: the 4 service ranks see the archive; the 2 readers run in a mount namespace of their
        // own where the decoy directory is bound over the archive's.
        let bind = "mount --bind \"$0\" \"$1\" && shift && exec \"$@\""
        let readers = ["unshare", "-m", "sh", "-c", bind, decoy.path, archive.path] + args
        let r = try MPIJob.run([(4, args), (2, readers)], timeout: 240, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        let checkLines = r.lines(startingWith: "CHECKS ")
        #expect(checkLines.count == 2 && checkLines.allSatisfy { $0.hasSuffix(" failed=0") }, "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
        let mapped = counter(r, role: "player", .piecesMapped)
        #expect(mapped > 0, "no piece's payload was lent from the mapped archive: \(r)")
        // Every lent piece was offered the file, refused (its identity differs from the one the
        // player named), and read by RMA instead: none copied from the decoy.
        #expect(counter(r, role: "client", .replayPiecesFileRefused) == mapped, "\(r)")
        #expect(counter(r, role: "client", .replayPiecesLentByRma) == mapped, "\(r)")
        #expect(counter(r, role: "client", .replayPiecesFromFile) <= 0, "\(r)")
    }

    /// Whether this machine lets a process bind a directory over another in a mount namespace of its own.
    static let canBindMount: Bool = {
        guard let a = try? scratchDirectory("chronolog-bind"), let b = try? scratchDirectory("chronolog-bind") else {
            return false
        }
        defer {
            try? FileManager.default.removeItem(at: a)
            try? FileManager.default.removeItem(at: b)
        }
        let r = try? MPIJob.runCommand(["unshare", "-m", "mount", "--bind", a.path, b.path], timeout: 20)
        return r?.exitCode == 0
    }()

    @Test("""
        "last N" straight from the keepers: the visor is asked once per story and reader, readers without access are \
        refused -9 by the visor and by the keepers (in their own name or another's), a stale route is refused and asked again, \
        a story being written is answered from the keepers' complete events, a reader's grants end when it disconnects
        """)
    func lastDirect() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Archive rounds every 100 ms (the default): the keepers keep each story's latest durable
        // piece, so the last events stay in memory.
        let r = try MPIJob.run([(6, [checks, "last-direct"])], timeout: 180, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty && r.lines(startingWith: "CHECKS passed=").count == 2, "\(r)")
        let keeper = r.counters(role: "keeper"), visor = r.counters(role: "visor")
        // Bob twice, alice's stale route once, and her old name after she reconnected.
        #expect(keeper[.replaysDirectRefused] == 4 && (keeper[.replaysDirect] ?? 0) >= 63, "\(keeper)")
        #expect(visor[.readsGranted] == 4 && visor[.unauthorizedReplay] == 1, "\(visor)")
        // Alice's grants of Direct/s, Direct/w and Open/kept withdrawn at her disconnect; only
        // Open/kept was still recorded (the keepers drop a story's grants when it stops).
        #expect(visor[.readsRevoked] == 3 && keeper[.replaysDirectRevoked] == 1, "\(visor) \(keeper)")
    }

    @Test("""
        "last N" when the direct path fails: the route request waits as long as the query (keepers taking grants slower \
        than timeouts.connectMs), a direct query the keepers leave unanswered falls back to the player and the route is asked again
        """)
    func lastFallback() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run([(5, [checks, "last-fallback", "--grant-delay-ms", "2500", "--keepers-ignore-direct",
                                     "--set", "timeouts.connectMs=1000"])], timeout: 180, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty && r.lines(startingWith: "CHECKS passed=").count == 1, "\(r)")
        #expect(r.counters(role: "visor")[.readsGranted] == 2, "\(r)")
        #expect(r.counters(role: "client")[.replayLastDirectTimedOut] == 2, "\(r)")
    }

    @Test("""
        "last N" the keepers answer in part: the player reads only the part below theirs, asking each keeper once per query \
        instead of twice (7 messages a query instead of 9, and the archive lease's 3)
        """)
    func lastBelowKeepers() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run([(5, [checks, "last-below"])], timeout: 180, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty && r.lines(startingWith: "CHECKS passed=").count == 1, "\(r)")
        let keeper = r.counters(role: "keeper"), player = r.counters(role: "player")
        // Every keeper answer: a direct query (20), or one per query the player received (20 below
        // the keepers, and the replays that waited for completeness). Before: two per "last N" query.
        #expect(keeper[.replaysDirect] == 20, "\(keeper)")
        #expect(keeper[.replaysAnswered] == (player[.queriesReceived] ?? 0) + 20, "keeper \(keeper), player \(player)")
    }

    @Test("reads as under a provider that requires registered local memory (FI_MR_LOCAL): whole pieces decoded, same answers")
    func registeredReads() throws {
        let r = try replay(ranks: 6, ["--events", "120", "--queries", "10", "--registered-reads"])
        #expect(counter(r, role: "client", .replayPiecesDecoded) > 0 && counter(r, role: "client", .replayPiecesInPlace) == 0, "\(r)")
        // A payload lent from the mapped archive is copied from the reader's own mapping of the file
        // into the registered slot, behind the head read by RMA.
        #expect(counter(r, role: "player", .piecesMapped) > 0, "\(r)")
        #expect(counter(r, role: "client", .replayPiecesFromFile) == counter(r, role: "player", .piecesMapped), "\(r)")
    }

    @Test("two recording groups (virtual nodes), 8 KiB archive rows: queries go to the story's group, leases hold both graphers' rounds")
    func twoGroups() throws {
        // Rows of at most 8 KiB: windows of many rows, read straight from the file and merged.
        let r = try replay(ranks: 11, ["--events", "120", "--queries", "10", "--set", "deployment.virtualNodes=2",
                                       "--set", "archive.maxRowBytes=8192"])
        #expect(counter(r, role: "player", .piecesStraight) > 0, "no piece was read straight from the archive: \(r)")
        #expect(counter(r, role: "player", .piecesMapped) > 0, "windows of many rows lend their payloads in parts: \(r)")
    }

    @Test("a cluster rehearsed: 2 virtual nodes, MPI over TCP only, shm bulk plane; replays across nodes travel over MPI, within a node by RMA, same answers")
    func acrossVirtualNodes() throws {
        let r = try replay(ranks: 11, ["--events", "120", "--queries", "10", "--set", "deployment.virtualNodes=2"],
                           mpirun: ["--mca", "btl", "tcp,self"])
        // shm does not reach another node: those queries are answered inline over MPI.
        #expect(counter(r, role: "visor", .replaysAcrossNodes) > 0, "no replay crossed virtual nodes: \(r)")
        #expect(counter(r, role: "visor", .replaysAcrossNodes) < counter(r, role: "visor", .replaysRouted), "\(r)")
        #expect(counter(r, role: "player", .piecesRma) > 0, "no replay within a node used RMA: \(r)")
    }

    @Test("2 virtual nodes, MPI over TCP, tcp;ofi_rxm bulk plane: readers on the player's node copy lent payloads from the archive file, readers on the other node read them by RMA")
    func archiveFileOnlyWithinANode() throws {
        let r = try replay(ranks: 11, ["--events", "120", "--queries", "10", "--set", "deployment.virtualNodes=2",
                                       "--set", "fabric.provider=tcp;ofi_rxm", "--set", "timeouts.acquireMs=40000"],
                           mpirun: ["--mca", "btl", "tcp,self"])
        #expect(counter(r, role: "visor", .replaysAcrossNodes) <= 0, "tcp;ofi_rxm reaches every node: \(r)")
        // Ranks of different nodes share no memory, not even a file's page cache: the readers on
        // the other node (same host, same boot) are never offered the file.
        #expect(counter(r, role: "client", .replayPiecesFromFile) > 0, "\(r)")
        #expect(counter(r, role: "client", .replayPiecesLentByRma) > 0, "\(r)")
        #expect(counter(r, role: "client", .replayPiecesFromFile) + counter(r, role: "client", .replayPiecesLentByRma)
                == counter(r, role: "player", .piecesMapped), "\(r)")
        #expect(counter(r, role: "client", .replayPiecesFileRefused) <= 0, "\(r)")
    }

    @Test("1 MiB keepers and grapher, 2 s ranges: ranges archived in parts, answers still match the model")
    func rangesArchivedInParts() throws {
        // Ranges larger than both bounds: the keeper cuts them below its writers' watermarks and the
        // grapher archives below the keeper's, so a query's range meets parts of ranges in the
        // archive and the rest in keeper memory.
        let r = try replay(ranks: 7, ["--events", "200", "--queries", "20", "--set", "keeper.memoryLimitBytes=1048576",
                                      "--set", "grapher.memoryLimitBytes=1048576", "--set", "story.chunkDurationMs=2000",
                                      "--set", "keeper.transferSlotBytes=65536"])
        #expect(counter(r, role: "keeper", .rangesSplit) > 0, "no range was cut: \(r)")
        #expect(counter(r, role: "grapher", .rangesSplit) > 0, "no range was archived in parts: \(r)")
        // A single keeper never lets a held watermark go on a timeout, so CI load (slow rounds)
        // cannot make events late here.
        #expect(r.stdout.contains(" late=0 "), "\(r)")
    }

    @Test("4 KiB pieces, one in flight, two queries at a time, slow archive rounds: many pieces, queued queries, same answers")
    func smallPiecesAndQueuedQueries() throws {
        let r = try replay(ranks: 7, ["--events", "150", "--queries", "10", "--set", "player.pieceBytes=4096",
                                      "--set", "player.piecesInFlight=1", "--set", "player.maxConcurrentQueries=2",
                                      "--set", "grapher.archiveIntervalMs=700"])
        #expect(counter(r, role: "player", .piecesSent) > counter(r, role: "player", .queriesReceived) * 3, "\(r)")
    }

    @Test("a slow reader of a long story does not hold archive rounds off: the grapher recalls the player's lease")
    func slowReaderAndRecall() throws {
        // The story is archived by a first job, so the second reads it all from the archive.
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try replay(ranks: 5, ["--stage", "long-write", "--events", "1500"], timeout: 120, in: dir)
        // The reader takes its pieces as fast as they come (it acknowledges a piece once read) and
        // the player reads the 6 MB story in tens of milliseconds: rounds every 2 ms make sure one
        // falls due while the lease is held, which 100 ms rounds did only by chance.
        let r = try replay(ranks: 7, ["--stage", "slow-reader", "--events", "1500", "--set", "player.pieceBytes=262144",
                                      "--set", "grapher.archiveIntervalMs=2"],
                           timeout: 180, in: dir)
        #expect(r.stdout.contains("SLOW-READER pieces="), "\(r)")
        #expect(counter(r, role: "player", .eventsReplayed) >= 1500 && counter(r, role: "keeper", .replaysEvents) <= 0,
                "the story was not read from the archive alone: \(r)")
        #expect(counter(r, role: "grapher", .leasesRecalled) > 0, "\(r)")
        #expect(counter(r, role: "player", .leasesRecalled) > 0, "\(r)")
    }

    @Test("a player slower than the query's timeout answers −12; an empty range is answered at once")
    func queryTimesOut() throws {
        let r = try replay(ranks: 6, ["--expect-code=-12", "--query-delay-ms", "1500"], timeout: 120)
        #expect(counter(r, role: "player", .queriesTimedOut) == 2, "\(r)")
    }

    @Test("a job without players answers replays with −10")
    func noPlayers() throws {
        try replay(ranks: 5, ["--expect-code=-10", "--set", "deployment.playersPerNode=0"], timeout: 120)
    }

    @Test("a later job in the same directory replays stories an earlier job archived; an unknown story is −3")
    func storiesOfAnEarlierJob() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try replay(ranks: 6, ["--stage", "write"], timeout: 120, in: dir)
        let r = try replay(ranks: 6, ["--stage", "read"], timeout: 120, in: dir, logs: false)
        #expect(counter(r, role: "player", .queriesServed) == 2, "\(r)")
    }

    @Test("a damaged index row in an earlier job's archive: the replay returns the intact events and says partial (CL_ERR_PARTIAL_RESULT)")
    func damagedRowReplaysPartial() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try replay(ranks: 6, ["--stage", "write"], timeout: 120, in: dir)
        let file = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        for rank in 0..<2 {
            try ArchiveSurgery.flipIndexByte(file: file, chronicle: "replay-✓", story: "kept-\(rank)", row: 0, column: 4)
        }
        let r = try replay(ranks: 6, ["--stage", "read-damaged"], timeout: 120, in: dir, logs: false)
        #expect(r.lines(startingWith: "PARTIAL rank ").count == 2, "\(r)")
        #expect(counter(r, role: "player", .queriesPartial) == 2, "\(r)")
    }

    @Test("""
        a writer's tail the catalog records but the archive lacks (or a writer that never released) makes an in-job \
        replay partial (CL_ERR_PARTIAL_RESULT) with the reason, only when the range reaches past its last archived event; \
        a clean story, and one this job writes (held, then released), replay complete
        """)
    func missingWriterTailReplaysPartial() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try replay(ranks: 7, ["--stage", "write"], timeout: 120, in: dir)
        // What a killed keeper (events logged, released, never archived) and a killed client
        // (never released) leave in the catalog.
        let url = dir.appendingPathComponent("chronolog-archive/\(ArchiveCatalog.fileName)")
        var catalog = try ArchiveCatalog(json: Data(contentsOf: url))
        for (story, count) in [("kept-0", UInt64(12)), ("kept-1", nil)] {
            let writer = try #require(catalog.story(chronicle: ReplayTests.chronicle, story: story)?.writers.first, "\(catalog)")
            #expect(writer.count == 10, "\(catalog)")
            catalog.chronicles[ReplayTests.chronicle]?.stories[story]?.writers[0].count = count
        }
        try catalog.json().write(to: url)
        let r = try replay(ranks: 7, ["--stage", "read-tails"], timeout: 120, in: dir, logs: false)
        #expect(r.lines(startingWith: "TAILS rank ").count == 3 * 2 + 1 + 2, "\(r)")
        // Per damaged story: the whole story twice and the range past its last archived event.
        #expect(counter(r, role: "player", .queriesTailMissing) == 6 && counter(r, role: "player", .queriesPartial) == 6, "\(r)")
    }

    static let chronicle = "replay-✓"
}
