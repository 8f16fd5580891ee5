import ChronoSimulator
import Foundation
import Synchronization
import Testing

/// The simulator over many seeds (docs/SIMULATOR.md): the real visor, and the real keeper, grapher
/// and player code of 1–3 recording groups, every delay, order, stall, full disk and clock skew
/// drawn from the seed.
/// `CHRONOLOG_SIM_SEEDS` sets how many seeds (500 by default), `CHRONOLOG_SIM_FIRST_SEED` the
/// first; `scripts/simulate.sh` runs longer soaks and replays one seed.
@Suite("Simulator")
struct SimulatorTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seedCount = environment["CHRONOLOG_SIM_SEEDS"].flatMap(Int.init) ?? 500
    static let firstSeed = environment["CHRONOLOG_SIM_FIRST_SEED"].flatMap(UInt64.init) ?? 1

    /// Runs `seeds` on every core at once and returns their reports in seed order. Each seed's job is
    /// a world of its own (its generator, clock, network and archive; no state is shared between
    /// worlds), so it runs exactly as alone: the seeds replay the same whatever runs beside them.
    static func simulateAll(_ seeds: Range<UInt64>, tightMemory: Bool = SimScenario.tightMemoryFromEnvironment,
                            saturated: Bool = SimScenario.saturatedFromEnvironment,
                            wideSkews: Bool = SimScenario.wideSkewsFromEnvironment) -> [SimReport] {
        let reports = Mutex([SimReport?](repeating: nil, count: seeds.count))
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, ProcessInfo.processInfo.activeProcessorCount)) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < seeds.count else { return }
                let report = SimWorld.simulate(seed: seeds.lowerBound + UInt64(i), tightMemory: tightMemory, saturated: saturated,
                                               wideSkews: wideSkews)
                reports.withLock { $0[i] = report }
            }
        }
        return reports.withLock { $0.compactMap { $0 } }
    }

    @Test("every invariant holds over the default seeds")
    func defaultSeeds() {
        if Self.environment["SWIFT_DETERMINISTIC_HASHING"] == nil {
            print("simulator: SWIFT_DETERMINISTIC_HASHING is not set: a failing seed may not replay the same way in another process")
        }
        let started = ContinuousClock.now
        var failures: [SimReport] = []
        var logged = 0, archived = 0, rounds = 0, replays = 0, flushes = 0, restarts = 0, followPolls = 0, followed = 0
        var kills = 0, killsInGroups = 0, destroyed = 0, partial = 0, byRMA = 0, lentApart = 0, straight = 0, lendRefused = 0
        var groups = [0, 0, 0], collectives = 0, handOffs = 0
        var lastQueries = 0, lastDirect = 0, lastBelow = 0, lastTimeouts = 0, lastStale = 0, listings = 0, destroys = 0
        for report in Self.simulateAll(Self.firstSeed..<(Self.firstSeed + UInt64(Self.seedCount))) {
            logged += report.logged
            archived += report.archived
            rounds += report.rounds
            replays += report.replays
            byRMA += report.piecesByRMA
            lentApart += report.piecesLentApart
            straight += report.piecesStraight
            lendRefused += report.piecesLendRefused
            flushes += report.durableFlushes
            restarts += report.restarts
            followPolls += report.followPolls
            followed += report.followed
            kills += report.killed ? 1 : 0
            killsInGroups += report.killed && report.scenario.groups > 1 ? 1 : 0
            destroyed += report.destroyed
            partial += report.partialReplays
            groups[report.scenario.groups - 1] += 1
            collectives += report.collectives
            handOffs += report.handOffs
            lastQueries += report.lastQueries
            lastDirect += report.lastDirect
            lastBelow += report.lastBelow
            lastTimeouts += report.lastTimeouts
            lastStale += report.lastStaleRoutes
            listings += report.listings
            destroys += report.destroys
            if !report.passed {
                failures.append(report)
                print(report.replayLine)
            }
        }
        let seconds = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
        print("simulator: \(Self.seedCount) seeds from \(Self.firstSeed) in \(String(format: "%.1f", seconds)) s "
              + "(\(String(format: "%.0f", Double(Self.seedCount) / max(seconds, 0.001))) seeds/s): \(logged) events logged, "
              + "\(archived) archived in \(rounds) rounds, \(replays) replays (\(byRMA) pieces read from the player's memory, \(lentApart) with their payload lent apart, \(straight) windows read straight, \(lendRefused) copied when a lend was refused) and \(flushes) durable flushes checked, \(restarts) stories released and acquired again, "
              + "\(followed) events followed in \(followPolls) follow queries, "
              + "\(groups[0])/\(groups[1])/\(groups[2]) jobs of 1/2/3 recording groups (\(collectives) graphers' collectives, \(handOffs) fiber hand-offs), "
              + "\(lastQueries) last-N answers (\(lastDirect) from the keepers alone, \(lastBelow) below them, \(lastTimeouts) direct queries timed out, \(lastStale) stale routes refused), \(listings) listings, \(destroys) destroys, "
              + "\(kills) jobs killed and restarted (\(killsInGroups) of several groups; \(destroyed) events destroyed, \(partial) partial answers after), "
              + "\(failures.count) failing seed(s)")
        #expect(failures.isEmpty, "failing seeds: \(failures.map(\.seed))")
        // The kills (about one seed in seven) happen, with one group and with several, destroy events,
        // and leave partial answers to check.
        if Self.seedCount >= 100 {
            #expect(kills > killsInGroups && killsInGroups > 0 && destroyed > 0 && partial > 0,
                    "no kill and restart of one group and of several exercised in \(Self.seedCount) seeds")
        }
    }

    /// The first `CHRONOLOG_SIM_SATURATED_SEEDS` seeds (30 by default) as saturated scenarios
    /// (docs/SIMULATOR.md, "Saturated scenarios"): records of kilobytes, a 1 MiB grapher, transfer
    /// slots that fill, archive rounds up to 700 ms: the grapher's reads at its bound and the
    /// keepers' held watermarks, and writers joining stories others write.
    @Test("every invariant holds in saturated scenarios")
    func saturatedSeeds() {
        let count = Self.environment["CHRONOLOG_SIM_SATURATED_SEEDS"].flatMap(UInt64.init) ?? 30
        let reports = Self.simulateAll(Self.firstSeed..<(Self.firstSeed + count), saturated: true)
        let failing = reports.filter { !$0.passed }
        for report in failing { print(report.replayLine) }
        #expect(failing.isEmpty, "failing saturated seeds: \(failing.map(\.seed))")
        // Kilobyte records make replay pieces large: some travel by RMA, and some windows read
        // straight from the archive lend their payload apart (a player ending those loans before
        // its reader read them fails these seeds: checked by hand, 7 of the first 400). The
        // players' transports refuse some lends: those payloads are copied into the slot instead,
        // and the reader checks them as any other.
        if Self.firstSeed == 1 && count >= 30 {
            #expect(reports.reduce(0) { $0 + $1.piecesLentApart } > 0, "no replay piece lent its payload apart in \(count) saturated seeds")
            #expect(reports.reduce(0) { $0 + $1.piecesLendRefused } > 0, "no refused lend in \(count) saturated seeds")
        }
    }

    /// The first `CHRONOLOG_SIM_TIGHT_SEEDS` seeds (100 by default) again with keeper bounds below
    /// the configurable minimum where the seed draws them (16 KiB, four slots): flow control, the
    /// acknowledgement given back at the bound and the watermark release under the most pressure.
    @Test("every invariant holds with keeper bounds below the configurable minimum")
    func tightMemorySeeds() {
        Self.expectFirstSeedsPass(countVariable: "CHRONOLOG_SIM_TIGHT_SEEDS", defaultCount: 100, kind: "tight-memory", tightMemory: true)
    }

    /// The first `CHRONOLOG_SIM_WIDE_SEEDS` seeds (200 by default) again with clocks skewed by up to
    /// ±9 ms: writers lagging their keepers by close to `StoryPipeline.writerClockMargin` make no
    /// event late (the mutation `keeperClockWithoutMargin`, caught at seed 124, shows they would
    /// without the margin).
    @Test("every invariant holds with clocks skewed by up to ±9 ms")
    func wideSkewSeeds() {
        Self.expectFirstSeedsPass(countVariable: "CHRONOLOG_SIM_WIDE_SEEDS", defaultCount: 200, kind: "wide-skew", wideSkews: true)
    }

    /// Runs the first seeds (`countVariable` of them, else `defaultCount`) in a variant of the
    /// scenarios and expects every one to pass, printing the replay line of each that fails.
    static func expectFirstSeedsPass(countVariable: String, defaultCount: UInt64, kind: String, tightMemory: Bool = false,
                                     wideSkews: Bool = false) {
        let count = environment[countVariable].flatMap(UInt64.init) ?? defaultCount
        let failing = simulateAll(firstSeed..<(firstSeed + count), tightMemory: tightMemory, wideSkews: wideSkews).filter { !$0.passed }
        for report in failing { print(report.replayLine) }
        #expect(failing.isEmpty, "failing \(kind) seeds: \(failing.map(\.seed))")
    }

    /// A chunk descriptor the grapher cannot take (claiming more than a slot) is refused, and the
    /// keeper counts its events failed: the job still ends (no deadline passed), the summary's
    /// `lost` is exactly what the archive misses, and the loss shows.
    @Test("a refused chunk descriptor loses its events visibly: counted lost, and the job still ends")
    func refusedDescriptors() {
        let reports = (UInt64(1)...12).map { SimWorld.simulate(seed: $0, mutation: .descriptorsOverstatePayload) }
        for r in reports {
            #expect(!r.violations.contains { $0.hasPrefix("deadline") || $0.hasPrefix("lost: the summary says") },
                    "seed \(r.seed): \(r.violations.filter { $0.hasPrefix("deadline") || $0.hasPrefix("lost: the summary") })")
        }
        #expect(reports.contains { $0.violations.contains { $0.hasPrefix("lost:") && $0.hasSuffix("missing with no fault injected") } })
    }

    /// Seed 20 (three groups) has a kill inside an archive round and a restart: both jobs replay
    /// exactly too, the graphers' fibers included.
    @Test("a seed replays exactly")
    func deterministic() {
        for seed in [UInt64(20), 7, 42, 4242, 99] {
            let a = SimWorld.simulate(seed: seed), b = SimWorld.simulate(seed: seed)
            #expect(a.ending == b.ending && a.steps == b.steps && a.archived == b.archived && a.violations == b.violations
                        && a.handOffs == b.handOffs && a.restart == b.restart && a.destroyed == b.destroyed,
                    "seed \(seed) ran differently twice")
        }
    }

    /// Each mutation breaks one promise on purpose; the invariants must catch it within the
    /// default seeds. Prints how many seeds each needed.
    @Test("each mutation is caught within the default seeds", arguments: SimMutation.allCases.filter { $0 != .none })
    func mutationCaught(_ mutation: SimMutation) {
        var caughtAt: UInt64?
        var violation = ""
        for seed in Self.firstSeed..<(Self.firstSeed + UInt64(Self.seedCount)) {
            let report = SimWorld.simulate(seed: seed, mutation: mutation)
            if let v = report.violations.first(where: { $0.hasPrefix(mutation.caughtBy) }) {
                caughtAt = seed
                violation = v
                break
            }
        }
        let needed = caughtAt.map { "\($0 - Self.firstSeed + 1) seed(s)" } ?? "not caught in \(Self.seedCount) seeds"
        print("simulator mutation \(mutation.rawValue): \(needed): \(violation.prefix(200))")
        #expect(caughtAt != nil, "mutation \(mutation.rawValue) was not caught by the \(mutation.caughtBy) invariant")
    }

    /// Seeds that found a bug since fixed (docs/SIMULATOR.md, "Findings"), kept in the default run:
    /// - 400178, 401669, 402688, 402798: a durable flush answered once as many of its writer's events
    ///   were settled as it waited for, although later events had settled first and earlier (late,
    ///   revised) ones had not (`DurabilityLedger` now counts only events sent before the flush);
    /// - 22 with keeper bounds below the configurable minimum: two writers of a story deadlocked a
    ///   keeper at its bound, each waiting for the other's watermark (the keeper now gives the
    ///   writer its story waits for an acknowledgement back);
    /// - 509 with tight bounds: a simulated writer shipped batches far over `batchEvents` while its
    ///   window was full (the real client blocks), past the memory invariant's bound;
    /// - 1399 with tight bounds: a keeper whose clock was behind its writers' gave the holding
    ///   writer an acknowledgement back at its bound poll after poll, sealing nothing, one batch more
    ///   each time (it now does so only when that writer's watermark is below the clock's too);
    /// - 132 with tight bounds: events late at the grapher after a keeper released a held-back
    ///   watermark (slots full of a run of events with one time), which the late invariant excuses;
    /// - 1027 and 1487 with tight bounds: a follow passed events of a writer whose clock lagged the
    ///   keeper's, answered complete up to the keeper's clock while no writer held the story (it is
    ///   now complete only up to what the clock sealed; since kills were added 1027 has one, at 43 %
    ///   of its events, and 1487 runs as found);
    /// - 156 and 220 with tight bounds: a keeper kept each story's latest durable piece for "last N"
    ///   queries beside a full bound (the pieces now count against it and go first at the bound);
    /// - 200412 with tight bounds: a follow missed an event of a writer that released its story and
    ///   acquired it again, its clock behind the keeper's (the keeper answered complete up to what its
    ///   clock had sealed, then recorded the story afresh without that frontier; a new recording now
    ///   starts sealed up to the completeness the keeper answered);
    /// - 200175 with tight bounds: a follow missed an event of a writer that released its story and
    ///   acquired it again while another writer held it, its clock 5 ms behind the other's: the keeper
    ///   had answered complete up to the other writer's watermark, inside an open range, and took the
    ///   newcomer's older event into that range (a keeper now seals what it answered complete when a
    ///   writer joins, so such an event counts late);
    /// - 400099 with tight bounds: a keeper's memory peak 184 bytes over the invariant's bound after it
    ///   gave a writer an acknowledgement back at its bound; the keeper documents that this may pass the
    ///   bound by that writer's window, which the invariant now allows (only after such a release);
    /// - 99, 323 and 389 (three recording groups): a writer released its story and acquired it
    ///   again, the visor chose another group for the new recording, and replays and follows went to
    ///   that group only while the first still held events of the story (a story recorded again now
    ///   stays in the group that recorded it last).
    ///
    /// Those found before the simulator ran several groups run with one, as found.
    @Test("seeds of fixed findings pass",
          arguments: [(UInt64(400178), false, 1), (401669, false, 1), (402688, false, 1), (402798, false, 1), (22, true, 1),
                      (509, true, 1), (1399, true, 1), (132, true, 1), (1027, true, 1), (1487, true, 1), (156, true, 1),
                      (220, true, 1), (200412, true, 1), (400099, true, 1), (200175, true, 1), (99, false, 3), (323, false, 3),
                      (389, false, 3)])
    func fixedFindings(_ seed: UInt64, _ tightMemory: Bool, _ groups: Int) {
        let report = SimWorld.simulate(seed: seed, tightMemory: tightMemory, groups: groups)
        #expect(report.passed, "seed \(seed): \(report.violations.first?.prefix(300) ?? "")")
    }

    /// Saturated seed 108: a grapher at its memory bound read one piece per archive round (up to
    /// 0.7 s each) of the keeper holding its story back, and the job missed its 30-s deadline once
    /// keepers lent their chunks in place; it reads on within a quarter of its bound per round now.
    @Test("saturated seeds of fixed findings pass", arguments: [UInt64(108)])
    func fixedSaturatedFindings(_ seed: UInt64) {
        let report = SimWorld.simulate(seed: seed, tightMemory: false, saturated: true)
        #expect(report.passed, "seed \(seed): \(report.violations.first?.prefix(300) ?? "")")
    }

    /// Replays `CHRONOLOG_SIM_SEED` (with `CHRONOLOG_SIM_MUTATION`), printing its scenario and outcome.
    @Test("replay one seed", .enabled(if: environment["CHRONOLOG_SIM_SEED"] != nil))
    func replay() {
        let seed = Self.environment["CHRONOLOG_SIM_SEED"].flatMap(UInt64.init) ?? 0
        let name = Self.environment["CHRONOLOG_SIM_MUTATION"] ?? ""
        guard let mutation = name.isEmpty ? SimMutation.none : SimMutation(rawValue: name) else {
            let known = SimMutation.allCases.map(\.rawValue).joined(separator: ", ")
            print("simulator: no mutation named \(name); the mutations are \(known)")
            Issue.record("no mutation named \(name)")
            return
        }
        let report = SimWorld.simulate(seed: seed, mutation: mutation)
        print("seed \(seed) mutation \(mutation.rawValue): \(report.scenario)")
        print("ending: \(report.ending); logged \(report.logged), archived \(report.archived) in \(report.rounds) rounds, \(report.steps) steps, "
              + "\(report.late) late, \(report.replays) replays, \(report.durableFlushes) durable flushes")
        if let restart = report.restart {
            print("kill: \(restart); the kill destroyed \(report.destroyed) events, \(report.partialReplays) answers partial after")
        }
        for v in report.violations { print("violation: \(v)") }
        #expect(report.passed)
    }
}
