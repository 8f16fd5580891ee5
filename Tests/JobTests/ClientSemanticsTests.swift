import Testing
import TestSupport

/// ChronoLog's client semantics, checked by whole jobs (`job-checks`) under mpirun.
@Suite("Client semantics in a running job", .serialized)
struct ClientSemanticsTests {
    let checks = MPIJob.executable("job-checks")

    private func passed(_ r: JobResult) -> Int {
        r.lines(startingWith: "CHECKS passed=").compactMap { line in
            line.split(separator: " ").dropFirst().first.flatMap { Int($0.dropFirst("passed=".count)) }
        }.reduce(0, +)
    }

    @Test("every single-client rule and its code: before connect, names, exists, acquired, not acquired, disconnect; the clock offset follows a visor whose clock is a day ahead")
    func singleClientRules() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "semantics", "--visor-clock-ahead-ms", "86400000"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(passed(r) >= 40, "\(r)")
        // One client measures its clock offset at its first connect (4 ping-pongs); its reconnect
        // reuses the estimate (with the connect exchange as a fresh sample) and sends none.
        #expect(r.stdout.contains(" clock.pings=4 "), "\(r)")
    }

    @Test("several clients share one story; it stays recorded until the last holder releases it")
    func sharedStory() throws {
        let r = try MPIJob.run(ranks: 9, [checks, "shared-story"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        // 5 clients x 3 rounds; one start and one stop per round.
        #expect(r.stdout.contains("recordings.started=3 recordings.stopped=3"), "\(r)")
        #expect(r.stdout.contains("stories.acquired=15"), "\(r)")
    }

    @Test("a durable flush racing the story's release answers at once: its events durable, or -5 once released, never after the stall limit")
    func durableFlushDuringRelease() throws {
        let r = try MPIJob.run(ranks: 5, [checks, "durable-release"], timeout: 240)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty && passed(r) == 3, "\(r)")
        #expect(r.stdout.contains("lost=0") && r.stdout.contains(" acks.stray=0 "), "\(r)")
    }

    @Test("two processes on the visor's host ping-pong, logging before each send and after each receive: replayed in the order it happened (their clock offset is exactly 0, no ping-pong estimate)")
    func causalOrderOnTheVisorsHost() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "causal"], timeout: 120)
        #expect(r.exitCode == 0 && r.lines(startingWith: "FAIL").isEmpty && passed(r) == 1, "\(r)")
        // Each line: OFFSET, client rank, offset ns, error bound ns.
        let offsets = r.lines(startingWith: "OFFSET\t")
        #expect(offsets.count == 2 && offsets.allSatisfy { $0.hasSuffix("\t0\t0") }, "\(offsets)")
        #expect((r.counters(role: "visor")[.clockPings] ?? 0) == 0 && r.stdout.contains("lost=0"), "\(r)")
    }

    @Test("a story destroyed and made again replays its new events only; the writer's indexes go on (the archive hides the old ones by them)")
    func recreatedStory() throws {
        let r = try MPIJob.run(ranks: 5, [checks, "recreate"], timeout: 120)
        #expect(r.exitCode == 0 && r.lines(startingWith: "FAIL").isEmpty && passed(r) == 3, "\(r)")
    }

    @Test("stories spread over two recording groups on virtual nodes")
    func twoGroups() throws {
        let r = try MPIJob.run(ranks: 10, [checks, "groups", "--set", "deployment.virtualNodes=2"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        let groups = r.lines(startingWith: "GROUPS ").first ?? ""
        #expect(groups.contains("0:") && groups.contains("1:"), "both groups should record stories: \(r)")
    }

    // The visor serves acquires once every planned process registered, or after 3/4 of the acquire
    // timeout: group 0 must have registered by then, which on an oversubscribed box (10 ranks on
    // 2 cores, CI) can take well over the 1.5 s a 2 s timeout would give.
    @Test("a group without a grapher is never chosen")
    func groupWithoutGrapher() throws {
        let r = try MPIJob.run(ranks: 10, [checks, "groups", "--set", "deployment.virtualNodes=2", "--silent", "grapher",
                                           "--silent-group", "1", "--set", "timeouts.acquireMs=8000"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "GROUPS ") == ["GROUPS 0:40"], "\(r)")
    }

    @Test("no active group: acquire fails with -7 (no keepers)")
    func noActiveGroup() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "groups", "--stories", "3", "--silent", "grapher", "--expect-no-keepers",
                                          "--set", "timeouts.acquireMs=2000"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(passed(r) == 3, "\(r)")
        #expect(r.lines(startingWith: "CHECK story").filter { $0.contains("CL_ERR_NO_KEEPERS") }.count == 3, "\(r)")
    }

    @Test("the -7 check can fail: with every group active, --expect-no-keepers fails the job")
    func noKeepersCheckCanFail() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "groups", "--stories", "3", "--expect-no-keepers"], timeout: 120)
        #expect(r.exitCode != 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL story").count == 3, "\(r)")
    }
}

/// MPMD: `mpirun -n 4 chronolog-job : -n 2 app` — the application's ranks are the clients.
@Suite("MPMD launch", .serialized)
struct MPMDTests {
    @Test("application ranks join as clients with their own communicator; the service ranks carry the roles")
    func mpmd() throws {
        let r = try MPIJob.run([
            (4, [MPIJob.executable("chronolog-job"), "--workload", "none"]),
            (2, [MPIJob.executable("job-checks"), "app"]),
        ], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "CHECKS passed=").count == 2, "\(r)")
        let roles = r.stdout.split(separator: "\n").filter { $0.first?.isNumber == true }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true)[1] }
        #expect(roles == ["visor", "keeper", "grapher", "player", "client", "client"], "\(r)")
    }

    @Test("embedded from Swift (every rank joins as a service rank): the application communicator holds the client ranks alone")
    func embeddedApplication() throws {
        let r = try MPIJob.run(ranks: 6, [MPIJob.executable("job-checks"), "app", "--embedded"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "CHECKS passed=").count == 2, "\(r)")
    }
}
