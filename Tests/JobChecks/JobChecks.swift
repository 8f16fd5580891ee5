import ChronoSystem
import ChronoRuntime
import ChronoDeployment
import ArgumentParser
import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation
import Logging
import MPI

/// Whole deployments whose client ranks check ChronoLog's client semantics. Each scenario
/// prints `CHECK <name>` per passed check and `FAIL <detail>` per failure; a failure makes the
/// job's exit status non-zero.
@main
struct JobChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job-checks",
        abstract: "Client-semantics scenarios run as whole chronolog jobs under mpirun.",
        subcommands: [Semantics.self, SharedStory.self, Groups.self, Application.self, ArchiveRoundTrip.self, IngestChecks.self, ReplayChecks.self,
                      AuthChecks.self, FailingClient.self, CatalogChecks.self, LastDirectChecks.self,
                      LastFallbackChecks.self, LastBelowChecks.self, StaleReplyChecks.self, ChannelLockChecks.self,
                      DurableReleaseChecks.self, CausalChecks.self, RecreateChecks.self])

    /// Line-buffered output, so that mpirun's merge of the ranks' output never splits a line.
    static func main() {
        StandardOutput.lineBuffered()
        main(nil)
    }

    struct Options: ParsableArguments {
        @Option(name: .customLong("set"), help: "Configuration overrides key=value.")
        var overrides: [String] = []
        @Option(help: "Silence (never register) these roles: keeper, grapher, player.")
        var silent: [String] = []
        @Option(help: "Silence only the roles of these groups.")
        var silentGroup: [Int] = []
        @Option(help: "Fault: every keeper holds each batch acknowledgement this many microseconds (a slow keeper).")
        var ackDelayMicroseconds = 0
        @Option(help: "Fault: every grapher sleeps this many milliseconds at the start of each archive round (a slow archive).")
        var archiveDelayMs = 0
        @Option(help: "Fault: with --archive-delay-ms, delay only rounds holding events, once this many of them were written (0: every round).")
        var archiveDelayAfterEventRounds = 0
        @Option(help: "Fault: every replay query waits this many milliseconds before the player serves it (a slow player).")
        var queryDelayMs = 0
        @Option(help: "Fault: the visor's clock is this many milliseconds ahead of the other ranks' (event time only).")
        var visorClockAheadMs: Int64 = 0
        @Option(help: "Fault: every keeper sleeps this many milliseconds as it takes a read grant.")
        var grantDelayMs = 0
        @Flag(help: "Fault: keepers leave the \"last N\" queries readers send them directly unanswered.")
        var keepersIgnoreDirect = false
        @Option(help: "Fault: the clients' raw clock is this many milliseconds off (a node whose clock is off; the offset measured at connect corrects it).")
        var clientClockSkewMs: Int64 = 0
        @Option(help: "Fault: the clients' event times are shifted by this many milliseconds after the correction (a clock that drifted after connect: late events).")
        var clientClockDriftMs: Int64 = 0
        @Flag(help: "Clients read replay pieces whole into registered memory and decode them, as under a provider that requires FI_MR_LOCAL.")
        var registeredReads = false

        /// The faults these options inject into the service roles.
        var faults: InjectedFaults {
            InjectedFaults(silentRoles: Set(silent.compactMap(Role.init(rawValue:))), silentGroups: Set(silentGroup),
                           ackDelay: .microseconds(ackDelayMicroseconds), archiveDelay: .milliseconds(archiveDelayMs),
                           archiveDelayAfterEventRounds: archiveDelayAfterEventRounds,
                           queryDelay: .milliseconds(queryDelayMs), grantDelay: .milliseconds(grantDelayMs),
                           keepersIgnoreDirect: keepersIgnoreDirect)
        }

        /// Runs `body` on the job's first client rank with a connected writer-reader client and a
        /// checker, disconnecting after it (the other client ranks do nothing), then exits with
        /// the job's status: failed checks fail the job.
        func runOnFirstClient(_ body: (ChronoSession, ChronoLogClient, inout Checker) throws -> Void) throws -> Never {
            let code = try job(minimumClients: 1).run { session, _ in
                guard session.peers?.rank == 0 else { return [:] }
                var c = Checker()
                let client = ChronoLogClient(session: session, mode: .writerReader)
                try client.connect()
                try body(session, client, &c)
                try client.disconnect()
                return try c.finish()
            }
            throw ExitCode(code)
        }

        func job(minimumClients: Int) throws -> ChronoJob {
            var pairs: [String: String] = [:]
            for o in overrides {
                let (k, v) = try ChronoConfig.parseOverride(o)
                pairs[k] = v
            }
            var job = ChronoJob(config: try ChronoConfig.load(overrides: pairs), minimumClients: minimumClients)
            job.faults = faults
            job.clientSeams = ClientTestSeams(clockSkewNanoseconds: clientClockSkewMs * 1_000_000,
                                              clockDriftNanoseconds: clientClockDriftMs * 1_000_000,
                                              registeredReadsOnly: registeredReads)
            // A visor not shifted reads the host's clock itself (clients on its host then need no offset).
            if visorClockAheadMs != 0 {
                let visorClock = ShiftedRoleClock(offset: visorClockAheadMs * 1_000_000)
                job.clocks = { role in role == .visor ? visorClock : SystemRoleClock() as any RoleClock }
            }
            return job
        }
    }

    /// The single-client rules of COMPAT.md, with their codes.
    struct Semantics: ParsableCommand {
        @OptionGroup var options: Options

        func run() throws {
            let visorAhead = Int64(options.visorClockAheadMs) * 1_000_000
            let code = try options.job(minimumClients: 1).run { session, _ in
                guard session.peers?.rank == 0 else { return [:] }
                var c = Checker()
                let client = ChronoLogClient(session: session)
                c.expect("before connect: create → -8", rc { try client.createChronicle("C1") } == -8)
                c.expect("before connect: acquire → -8", rc { _ = try client.acquireStory("C1", "s") } == -8)
                c.expect("before connect: show → -8", rc { _ = try client.showChronicles() } == -8)
                c.expect("before connect: disconnect → -8", rc { try client.disconnect() } == -8)
                c.expect("connect → 0", rc { try client.connect() } == 0)
                let firstId = client.clientId
                c.expect("connect again → 0, same id", rc { try client.connect() } == 0 && client.clientId == firstId)
                c.expect("clock offset measured", client.clockOffset != nil)
                // The offset follows the visor's clock (the job's time), however far off it is.
                let offset = client.clockOffset ?? ClockOffset(offset: .min, errorBound: 0)
                let error = offset.offset.subtractingReportingOverflow(visorAhead).partialValue.magnitude
                c.expect("clock offset \(offset.offset) ns ± \(offset.errorBound) follows the visor's clock (\(visorAhead) ns ahead)",
                         error <= offset.errorBound + 100_000_000)
                for bad in ["", "a/b", "..", ".", "nul\0byte", String(repeating: "x", count: 10_000)] {
                    c.expect("create bad name \(bad.prefix(8).debugDescription) → -2", rc { try client.createChronicle(bad) } == -2)
                }
                c.expect("create → 0", rc { try client.createChronicle("C1", attributes: ["tier": "hot"]) } == 0)
                c.expect("create again → -6", rc { try client.createChronicle("C1") } == -6)
                c.expect("create UTF-8 name → 0", rc { try client.createChronicle("Chronik-Ü-🚀") } == 0)
                c.expect("acquire in missing chronicle → -3", rc { _ = try client.acquireStory("Missing", "s") } == -3)
                c.expect("acquire bad story name → -2", rc { _ = try client.acquireStory("C1", "a/b") } == -2)
                var h1: StoryHandle?, h2: StoryHandle?
                c.expect("acquire → 0", rc { h1 = try client.acquireStory("C1", "s1") } == 0)
                c.expect("acquire twice → 0", rc { h2 = try client.acquireStory("C1", "s1") } == 0)
                c.expect("acquire twice → same handle", h1 != nil && h1 === h2)
                c.expect("show stories lists s1", (try? client.showStories("C1")) == ["s1"])
                c.expect("show chronicles", (try? client.showChronicles()) == ["C1", "Chronik-Ü-🚀"])
                c.expect("show stories of missing → -3", rc { _ = try client.showStories("Missing") } == -3)
                c.expect("destroy acquired chronicle → -4", rc { try client.destroyChronicle("C1") } == -4)
                c.expect("destroy acquired story → -4", rc { try client.destroyStory("C1", "s1") } == -4)
                c.expect("release not acquired → -5", rc { try client.releaseStory("C1", "nope") } == -5)
                c.expect("release → 0", rc { try client.releaseStory("C1", "s1") } == 0)
                c.expect("handle invalid after release", h1?.isValid == false)
                c.expect("release again → -5", rc { try client.releaseStory("C1", "s1") } == -5)
                c.expect("destroy story → 0", rc { try client.destroyStory("C1", "s1") } == 0)
                c.expect("destroy story again → -3", rc { try client.destroyStory("C1", "s1") } == -3)
                c.expect("destroy story in missing chronicle → -3", rc { try client.destroyStory("Missing", "s1") } == -3)
                c.expect("destroy chronicle → 0", rc { try client.destroyChronicle("C1") } == 0)
                c.expect("destroy chronicle again → -3", rc { try client.destroyChronicle("C1") } == -3)
                // Disconnect releases what the client still holds.
                c.expect("create C2 → 0", rc { try client.createChronicle("C2") } == 0)
                c.expect("acquire held → 0", rc { _ = try client.acquireStory("C2", "held") } == 0)
                c.expect("disconnect while holding → 0", rc { try client.disconnect() } == 0)
                c.expect("after disconnect: show → -8", rc { _ = try client.showChronicles() } == -8)
                c.expect("reconnect → 0, new id", rc { try client.connect() } == 0 && client.clientId != firstId)
                c.expect("reconnect: clock offset known", client.clockOffset != nil)
                c.expect("story released by disconnect: destroy → 0", rc { try client.destroyStory("C2", "held") } == 0)
                c.expect("destroy C2 → 0", rc { try client.destroyChronicle("C2") } == 0)
                c.expect("final disconnect → 0", rc { try client.disconnect() } == 0)
                return try c.finish()
            }
            throw ExitCode(code)
        }
    }

    /// Several clients acquire and release one story concurrently; it stays recorded (and cannot
    /// be destroyed) until its last holder releases it.
    struct SharedStory: ParsableCommand {
        @OptionGroup var options: Options

        func run() throws {
            let code = try options.job(minimumClients: 2).run { session, _ in
                guard let peers = session.peers else { throw CheckFailure("no client communicator") }
                var c = Checker()
                let client = ChronoLogClient(session: session)
                try client.connect()
                if peers.rank == 0 { try client.createChronicle("Shared") }
                try peers.barrier()
                for round in 0..<3 {
                    let h = try client.acquireStory("Shared", "story")
                    let groups = try peers.allgather(Int64(h.groupId))
                    c.expect("round \(round): every holder sees the same group", Set(groups).count == 1)
                    try peers.barrier()
                    // All but the last release; the story must stay recorded.
                    if peers.rank != peers.size - 1 { try client.releaseStory("Shared", "story") }
                    try peers.barrier()
                    if peers.rank == 0 {
                        c.expect("round \(round): still held → destroy -4", rc { try client.destroyStory("Shared", "story") } == -4)
                    }
                    try peers.barrier()
                    if peers.rank == peers.size - 1 { try client.releaseStory("Shared", "story") }
                    try peers.barrier()
                    if peers.rank == 0 && round == 2 {
                        c.expect("last holder released → destroy 0", rc { try client.destroyStory("Shared", "story") } == 0)
                    }
                    try peers.barrier()
                }
                try client.disconnect()
                return try c.finish()
            }
            throw ExitCode(code)
        }
    }

    /// Stories spread over recording groups; silenced groups are never chosen.
    struct Groups: ParsableCommand {
        @OptionGroup var options: Options
        @Option(help: "Stories to acquire.")
        var stories = 40
        @Flag(help: "Expect every acquire to fail with -7 (no active group).")
        var expectNoKeepers = false

        func run() throws {
            let stories = self.stories, expectNoKeepers = self.expectNoKeepers
            let code = try options.job(minimumClients: 1).run { session, _ in
                guard session.peers?.rank == 0 else { return [:] }
                var c = Checker()
                let client = ChronoLogClient(session: session)
                try client.connect()
                try client.createChronicle("G")
                var perGroup: [UInt32: Int] = [:]
                for s in 0..<stories {
                    do {
                        let h = try client.acquireStory("G", "s\(s)")
                        perGroup[h.groupId, default: 0] += 1
                        c.expect("story \(s) has keepers and a grapher", !h.keeperRanks.isEmpty && h.grapherRank >= 0)
                        // Expected −7: an acquire that succeeds is a failure of this check.
                        if expectNoKeepers { c.expect("story \(s): acquire succeeded, expected -7 (no keepers)", false) }
                    } catch let error as ChronoLogError {
                        c.expect("story \(s): \(error)", expectNoKeepers && error.returnCode == .noKeepers)
                    }
                }
                print("GROUPS " + perGroup.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))
                try client.disconnect()
                return try c.finish()
            }
            throw ExitCode(code)
        }
    }
}

/// An MPMD application: `mpirun -n 4 chronolog-job --workload none : -n 2 job-checks app`.
/// Its ranks join as clients, get their own application communicator, log metadata calls,
/// and leave. With `--embedded` (`mpirun -n 6 job-checks app --embedded`) every rank joins as
/// a service rank, Damaris-style: the role plan makes the service of some, the others are the
/// application, and their communicator holds them alone.
struct Application: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "app")
    @OptionGroup var options: JobChecks.Options
    @Flag(help: "Embedded: every rank joins; the role plan makes the service out of some of them.")
    var embedded = false

    func run() throws {
        let job = try options.job(minimumClients: 0)
        let m = try job.join(asService: embedded)
        guard m.assignment.role == .client else {
            let (counters, status) = try job.serve(m)
            throw ExitCode(job.leave(m, counters: counters, status: status))
        }
        var c = Checker()
        let app = m.application
        let clients = m.layout.plan.assignments.filter { $0.role == .client }.map(\.worldRank)
        let members = try app.allgather(Int64(m.layout.worldRank)).map(Int.init)
        c.expect("application communicator holds exactly the client ranks (\(members) of \(clients))",
                 app.size == clients.count && members == clients)
        var counters: Counters = [:]
        if let session = m.session {
            let client = ChronoLogClient(session: session)
            c.expect("connect", rc { try client.connect() } == 0)
            if app.rank == 0 { c.expect("create", rc { try client.createChronicle("mpmd") } == 0) }
            try app.barrier()
            c.expect("acquire", rc { _ = try client.acquireStory("mpmd", "app-rank-\(app.rank)") } == 0)
            let total = try app.allreduce(Int64(1), op: .sum)
            c.expect("application collective works", total == Int64(app.size))
            c.expect("release", rc { try client.releaseStory("mpmd", "app-rank-\(app.rank)") } == 0)
            c.expect("disconnect", rc { try client.disconnect() } == 0)
        }
        do { counters = try c.finish() } catch { counters = [.checksFailed: 1] }
        let status = job.leave(m, counters: counters, status: c.failed > 0 ? 1 : 0)
        throw ExitCode(status)
    }
}

struct CheckFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Collects check outcomes and prints them.
struct Checker {
    private(set) var passed = 0
    private(set) var failed = 0

    mutating func expect(_ name: String, _ ok: Bool) {
        if ok { passed += 1; print("CHECK \(name)") } else { failed += 1; print("FAIL \(name)") }
        fflush(nil)
    }

    func finish() throws -> Counters {
        print("CHECKS passed=\(passed) failed=\(failed)")
        if failed > 0 { throw CheckFailure("\(failed) check(s) failed") }
        return [.checksPassed: UInt64(passed)]
    }
}

/// The ChronoLog return code of a call: 0 on success, else the error's code.
func rc(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return 0
    } catch let error as ChronoLogError {
        return error.returnCode.rawValue
    } catch {
        return ReturnCode.unknown.rawValue
    }
}

extension Counter {
    /// Checks a scenario's client rank passed (`checks.passed`).
    static let checksPassed = Counter("checks.passed")
    /// Client ranks whose checks failed (`checks.failed`).
    static let checksFailed = Counter("checks.failed")
}
