import ChronoModel
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

    /// Runs `archive-roundtrip`, then the h5py verifier (every event time must fall within the
    /// job's wall-clock span) and h5dump on the archive. - Returns: the job's output.
    @discardableResult
    private func roundTrip(ranks: Int, _ extra: [String], events: Int = 150) throws -> JobResult {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let started = UInt64(Date().timeIntervalSince1970 * 1e9)
        let r = try MPIJob.run([(ranks, [checks, "archive-roundtrip", "--events", String(events)] + extra)], timeout: 240,
                               workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
        let logged = dir.appendingPathComponent("logged.txt")
        try r.lines(startingWith: "LOGGED\t").joined(separator: "\n").write(to: logged, atomically: true, encoding: .utf8)
        let archive = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        let ended = UInt64(Date().timeIntervalSince1970 * 1e9)
        let v = try MPIJob.runCommand(["/usr/bin/python3", verifier, archive, logged.path, String(started - 2_000_000_000),
                                       String(ended + 2_000_000_000)], timeout: 300)
        #expect(v.exitCode == 0 && v.stdout.contains("VERIFIED"), "\(v)")
        let expected = r.lines(startingWith: "LOGGED\t").compactMap { Int($0.split(separator: "\t").last ?? "") }.reduce(0, +)
        #expect(v.lines(startingWith: "VERIFIED ") == ["VERIFIED \(expected)"], "h5py read \(v.stdout), clients logged \(expected)")
        let dump = try MPIJob.runCommand(["h5dump", "-A", archive], timeout: 60)
        #expect(dump.exitCode == 0 && dump.stdout.contains("ChronoLog-Swift"), "\(dump)")
        return r
    }

    @Test("flush(durable: true) does not wait for its events' range to end: with day-long ranges each flush is answered and the archive holds every event")
    func durableFlushCutsItsRange() throws {
        // Day-long ranges end long after the job. The keeper cuts a story's open range where a
        // durable flush waits, once every watermark has passed it; without the cut the flushes
        // would wait until the client gave up (its stall limit) and the job would fail.
        let r = try roundTrip(ranks: 7, ["--set", "story.chunkDurationMs=86400000", "--durable-then-wait-seconds", "1"], events: 60)
        let durable = r.lines(startingWith: "DURABLE\t")
        #expect(durable.count == 3 * 4, "\(r)")
        #expect(durable.allSatisfy { $0.hasSuffix("\t60") }, "every flush covered the client's 60 events: \(durable)")
        #expect((r.counters(role: "keeper")[.rangesSplit] ?? 0) > 0, "the keepers cut ranges: \(r)")
    }

    @Test("a client clock 60 s off is corrected by the offset measured at connect: events carry job time, none late")
    func skewedClockIsCorrected() throws {
        let r = try roundTrip(ranks: 7, ["--client-clock-skew-ms", "60000"], events: 60)
        #expect(r.stdout.contains(" late=0 "), "\(r)")
        // Each client measured its clock 60 s ahead of the job's (visor − client ≈ −60 s): the skew
        // was there to correct. Each line: OFFSET, client id, offset ns, error bound ns.
        let offsets = r.lines(startingWith: "OFFSET\t").compactMap { Int64($0.split(separator: "\t")[2]) }
        #expect(offsets.count == 3 && offsets.allSatisfy { abs($0 + 60_000_000_000) < 1_000_000_000 }, "\(offsets) \(r)")
    }

    @Test("events 1.5 s late (clock drift after connect) are accepted as revisions, counted late, archived, none lost")
    func lateEventsAreRevised() throws {
        // Times shift 1.5 s back: still inside the verifier's 2 s margin around the job.
        let r = try roundTrip(ranks: 7, ["--client-clock-drift-ms=-1500", "--pause-microseconds", "2000"], events: 60)
        let late = r.stdout.firstMatch(of: #/events: .* late=(\d+) /#).flatMap { Int($0.1) } ?? 0
        #expect(late > 0, "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
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
        #expect(logged > 0 && v.lines(startingWith: "VERIFIED ") == ["VERIFIED \(logged)"], "\(v.stdout) vs \(logged) logged")
    }

    @Test("flush(durable: true) means the events survive the job being killed: SIGKILL right after it, the archive holds them all")
    func durableFlushSurvivesSigkill() throws {
        // Every client logs, flushes durably and prints DURABLE lines; once all are out the whole job
        // is killed with SIGKILL (no drain, no close). A slow archive (300 ms per round) makes a plain
        // flush fail this test: the keeper acknowledges long before the grapher's flush.
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.runScript("""
            cd \(dir.path)
            ls /dev/shm > shm-before.txt
            $MPIRUN -n 7 \(checks) archive-roundtrip --events 200 --pause-microseconds 200 --durable-then-wait-seconds 60 \\
              --archive-delay-ms 300 > out.txt 2> err.txt &
            pid=$!
            for i in $(seq 1 1200); do
              [ "$(grep -c '^DURABLE' out.txt)" -ge 12 ] && break
              kill -0 $pid 2>/dev/null || break
              sleep 0.05
            done
            ranks=$(pgrep -P $pid)
            kill -KILL $ranks $pid 2>/dev/null
            wait $pid
            # Killed ranks leave their shared-memory files behind: remove what this job created.
            for p in $ranks; do rm -f /dev/shm/$p:*; done
            ls /dev/shm | grep '^vader_segment' | grep -vxF -f shm-before.txt | sed 's|^|/dev/shm/|' | xargs -r rm -f
            echo "durable lines $(grep -c '^DURABLE' out.txt)"
            """, timeout: 180)
        let out = (try? String(contentsOf: dir.appendingPathComponent("out.txt"), encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: dir.appendingPathComponent("err.txt"), encoding: .utf8)) ?? ""
        #expect(r.stdout.contains("durable lines 12"), "\(r)\n\(out)\n\(err)")
        // The verifier compares with LOGGED lines: here what each client was told is durable.
        let durable = out.split(separator: "\n").filter { $0.hasPrefix("DURABLE\t") }.map { "LOGGED" + $0.dropFirst("DURABLE".count) }
        let logged = dir.appendingPathComponent("durable.txt")
        try durable.joined(separator: "\n").write(to: logged, atomically: true, encoding: .utf8)
        let count = durable.compactMap { Int($0.split(separator: "\t").last ?? "") }.reduce(0, +)
        #expect(count == 3 * 4 * 200, "\(out)")
        let archive = dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path
        let v = try MPIJob.runCommand(["/usr/bin/python3", verifier, archive, logged.path], timeout: 300)
        #expect(v.exitCode == 0 && v.stdout.contains("VERIFIED \(count)\n"), "\(v)")
    }

    @Test("clients × stories × events (0 B to 64 KiB, binary, UTF-8 names): h5py reads every event exactly once, in order")
    func singleGroup() throws {
        try roundTrip(ranks: 7, [])
    }

    @Test("a whole job with the bulk plane on tcp;ofi_rxm (the provider between nodes): every event archived once")
    func tcpProvider() throws {
        // A tcp endpoint can take seconds to open on a loaded 2-core box (a grapher once registered
        // after the visor's wait of 3/4 of timeouts.acquireMs, 7.5 s by default): a longer wait.
        let r = try roundTrip(ranks: 7, ["--set", "fabric.provider=tcp;ofi_rxm", "--set", "log.level=debug",
                                         "--set", "timeouts.acquireMs=40000"], events: 60)
        #expect(r.counters(role: "grapher")[.chunksReceived, default: 0] > 0, "\(r)")
        // The endpoints the keeper and the grapher opened (not the setting) name the provider.
        let opened = r.stderr.split(separator: "\n").filter { $0.contains("bulk plane open: provider ") }
        #expect(opened.count == 3 && opened.allSatisfy { $0.hasSuffix("provider tcp;ofi_rxm") }, "\(r)")
    }

    @Test("two graphers on virtual nodes write one archive collectively; stories of both groups present")
    func twoGraphers() throws {
        // 16 stories placed uniformly at random on 2 groups all land on one in 1 run of 32768: the
        // check that both graphers archived stories is not left to chance (with 4, 1 run in 8).
        let r = try roundTrip(ranks: 11, ["--set", "deployment.virtualNodes=2", "--story-count", "16"], events: 40)
        let groups = Set(r.lines(startingWith: "GROUP\t").compactMap { $0.split(separator: "\t").last.map(String.init) })
        #expect(groups == ["0", "1"], "stories of both recording groups expected, got groups \(groups.sorted()): \(r)")
    }

    @Test("saturated keepers (every slot in flight, archive rounds of 700 ms) hold their watermarks back, alone or two in a group: no event becomes late",
          arguments: [1, 2])
    func saturatedKeepersMakeNothingLate(keepers: Int) throws {
        // Rounds of 700 ms, far longer than a chunk's way to the grapher. A keeper must not guess
        // that a full pool is a deadlock: a single keeper that did made 1247 of 1440 events late,
        // two keepers of one group that did after 500 ms made 922. The grapher reads a keeper's
        // slot free at once, so its bound (1 MiB) must stop its reads for the slots to stay taken.
        let r = try roundTrip(ranks: 6 + keepers,
                              ["--archive-delay-ms", "700", "--set", "deployment.keepersPerNode=\(keepers)",
                               "--set", "keeper.memoryLimitBytes=\(4 << 20)", "--set", "grapher.memoryLimitBytes=\(1 << 20)",
                               "--set", "keeper.transferSlotBytes=262144", "--set", "client.batchBytes=65536"],
                              events: 120)
        let keeper = r.counters(role: "keeper")
        #expect((keeper[.slotsExhausted] ?? 0) > 0, "the keepers' slot pools never filled, the scenario proves nothing: \(r)")
        // Every event waited in a round that slept 700 ms before it wrote (logged → durable).
        let p50 = r.stdout.firstMatch(of: #/grapher \(1 rank\):.* durable\.latency\.p50\.us\.max=(\d+)/#).flatMap { Int($0.1) } ?? 0
        #expect(p50 >= 600_000, "the archive rounds were not slow (durable p50 \(p50) µs), the scenario proves nothing: \(r)")
        #expect(r.stdout.contains(" late=0 "), "\(r)")
        #expect(keeper[.watermarksReleased, default: 0] == 0, "\(r)")
    }

    @Test("archive rounds are written on a thread of their own: with 300 ms rounds the grapher goes on reading chunks during them; every event archived once")
    func roundsOverlapReads() throws {
        let r = try roundTrip(ranks: 7, ["--archive-delay-ms", "300", "--set", "story.chunkDurationMs=20",
                                         "--pause-microseconds", "2000"],
                              events: 300)
        let grapher = r.counters(role: "grapher")
        // 300 events 2 ms apart per writer span about 0.6 s of 20 ms ranges: chunks arrive all along,
        // so several must be read while a 300 ms round is written (none could with rounds on the
        // grapher's own thread, which reads nothing while it writes).
        #expect((grapher[.chunksReceivedDuringRounds] ?? 0) > 0, "no chunk was read during a round: \(r)")
        // Each chunk's slot came back when the grapher had read it, not when it became durable
        // (with slots held until durable no chunk could be read during a round either).
        let keeper = r.counters(role: "keeper")
        #expect(keeper[.chunksRead] == keeper[.chunksShipped] && (keeper[.chunksRead] ?? 0) > 0, "\(r)")
        #expect((grapher[.eventsArchived] ?? 0) == r.counters(role: "client")[.eventsLogged], "\(r)")
    }

    @Test("a range holding more than a keeper's memory bound is cut at the writers' watermarks and archived in parts: no stall, nothing late or lost")
    func rangeLargerThanTheKeeperBound() throws {
        // Two writers put about 5 MiB into one story within a 3 s range, against a keeper bound of
        // 2 MiB (four 256 KiB slots). The keeper cannot wait for the range to complete: at its bound
        // it withholds acknowledgements, so the writers (and their watermarks) stop. It cuts the
        // range below the writers' watermarks and ships the part in pieces; the grapher archives
        // what it has below the keeper's watermark and acknowledges it, so the slots come back.
        // Before, the writers waited until their 30 s stall limit and the job lost events.
        let r = try roundTrip(ranks: 6, ["--story-count", "1", "--set", "keeper.memoryLimitBytes=\(2 << 20)",
                                         "--set", "keeper.transferSlotBytes=262144", "--set", "story.chunkDurationMs=3000",
                                         "--set", "client.batchBytes=65536"],
                              events: 300)
        let keeper = r.counters(role: "keeper"), grapher = r.counters(role: "grapher")
        #expect(r.stdout.contains(" late=0 "), "\(r)")
        #expect(keeper[.rangesSplit, default: 0] > 0, "the keeper never cut a range: \(r)")
        #expect(grapher[.rangesSplit, default: 0] > 0, "the grapher never archived part of a range: \(r)")
        #expect(keeper[.watermarksReleased, default: 0] == 0, "\(r)")
        // The keeper reached its bound and held acknowledgements back (whether a writer's window then
        // filled, so that it waited, depends on how fast the pieces left: once, none did).
        #expect(keeper[.acksHeld, default: 0] > 0, "the writers never reached the bound: \(r)")
    }

    @Test("a range holding more than the grapher's memory bound is archived in parts, with one and two keepers: no stall, nothing late or lost",
          arguments: [1, 2])
    func rangeLargerThanTheGrapherBound(keepers: Int) throws {
        // About 5 MiB into one 3 s range of one story against a grapher bound of 1 MiB. The grapher
        // stops reading at its bound; each piece it merged moves its keeper's watermark on, so the
        // part below is archived and freed; with two keepers it reads on, one chunk at a time, from
        // the keeper the range waits for. Before, the grapher applied a keeper's watermark only once
        // every queued chunk of it was read, so it waited for itself: the job hung until the
        // keepers' drain deadline and the grapher failed.
        let r = try roundTrip(ranks: 5 + keepers, ["--story-count", "1", "--set", "deployment.keepersPerNode=\(keepers)",
                                                   "--set", "grapher.memoryLimitBytes=\(1 << 20)", "--set", "keeper.transferSlotBytes=262144",
                                                   "--set", "story.chunkDurationMs=3000", "--set", "client.batchBytes=65536"],
                              events: 300)
        #expect(r.stdout.contains(" late=0 "), "\(r)")
        #expect(r.counters(role: "grapher")[.rangesSplit, default: 0] > 0, "the grapher never archived part of a range: \(r)")
    }

    @Test("a client holding the stories idle for 4 s does not hold the others' events back: durable p99 well under its hold")
    func idleHolderDoesNotDelaySealing() throws {
        // Without the idle holder's watermarks (sent many to a message) every range would wait for
        // its release, 4 s after the start: the archive's durable latency would be about that.
        let r = try roundTrip(ranks: 6, ["--pause-microseconds", "2000", "--idle-holder-ms", "4000"], events: 300)
        let p99 = r.stdout.firstMatch(of: #/grapher \(1 rank\):.* durable\.latency\.p99\.us\.max=(\d+)/#).flatMap { Int($0.1) }
        #expect(p99 != nil && p99! < 2_000_000, "durable p99 \(p99.map(String.init) ?? "missing") µs: \(r)")
        let sets = r.stdout.firstMatch(of: #/keeper \(1 rank\):.* watermarkSets\.received=(\d+)/#).flatMap { Int($0.1) } ?? 0
        #expect(sets > 0, "the idle holder sent no watermark set: \(r)")
    }

    @Test("two keepers per group merge into one story; a slow archive makes writers wait, keeper memory stays bounded, nothing is lost")
    func slowArchiveAndTwoKeepers() throws {
        // 3 clients × 4 stories × 120 events (≈ 1 MiB per client and story) reach two keepers of
        // 3 MiB each: each keeper receives about twice its bound, so it must reach it and writers
        // must wait for its acknowledgements.
        let limit = 3 << 20
        let r = try roundTrip(ranks: 8, ["--set", "deployment.keepersPerNode=2", "--archive-delay-ms", "300",
                                         "--set", "keeper.memoryLimitBytes=\(limit)", "--set", "keeper.transferSlotBytes=262144",
                                         "--set", "client.batchBytes=65536", "--set", "client.maxPendingBatches=1"],
                              events: 120)
        let waits = r.stdout.firstMatch(of: #/ingest\.windowWaits=(\d+)/#).flatMap { Int($0.1) } ?? 0
        // The bound holds up to what writers may have in flight when the keeper stops acknowledging:
        // the window is per story, so at most 3 clients × 4 stories × 1 batch × (64 KiB batch + one
        // 64 KiB event) = 1.5 MiB over the 3 MiB bound (a keeper twice over its bound fails).
        let peak = r.stdout.firstMatch(of: #/keeper \(2 ranks\):.* memory\.peak\.bytes\.max=(\d+)/#).flatMap { Int($0.1) } ?? Int.max
        #expect(peak <= limit + 3 * 4 * 1 * (128 << 10), "keeper peak \(peak) B over the \(limit) B bound: \(r)")
        #expect(peak >= limit, "no keeper reached its bound, the scenario proves nothing: \(r)")
        // A keeper at its bound withholds acknowledgements: writers must have waited.
        #expect(waits > 0, "keepers reached their bound but no writer waited: \(r)")
    }
}
