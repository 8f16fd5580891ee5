import ChronoArchive
import ChronoModel
import ChronoRoles
import ChronoRuntime
import Foundation
import Logging

/// What one seed decided about a simulated job: its shape, its delays, its faults.
public struct SimScenario: CustomStringConvertible, Sendable {
    /// Recording groups (one per simulated node), each with `keepers` keepers, a grapher and a player.
    public var groups = 1
    /// Keepers per recording group.
    public var keepers = 1
    public var clients = 1
    public var stories = 1
    public var maxMessageDelay: Duration = .zero
    public var maxReadDelay: Duration = .zero
    public var maxRoundDuration: Duration = .zero
    public var idleStep: Duration = .milliseconds(1)
    /// The round (from 1) from which the archive's disk is full, nil: never.
    public var fullFromRound: Int?
    /// A role (world rank) that stalls, when, and for how long.
    public var stall: (rank: Int, at: Duration, length: Duration)?
    /// Event-time skew of each keeper and each client, ns.
    public var keeperSkews: [Int64] = []
    public var clientSkews: [Int64] = []
    public var chunkDurationMs = 10
    public var archiveIntervalMs = 10
    public var slotBytes = 64 << 10
    public var keeperMemory = 1 << 20
    /// `grapher.memoryLimitBytes`.
    public var grapherMemory = 1 << 20
    /// The record sizes writers choose from.
    public var payloadChoices = [0, 8, 100]
    /// Whether this is a saturated scenario (`CHRONOLOG_SIM_SATURATED=1`): records of kilobytes,
    /// keeper and grapher at small bounds, transfer slots that fill, archive rounds up to 700 ms.
    public var saturated = false
    /// Keepers hold each batch acknowledgement up to this long (a slow keeper), players each query.
    public var maxAckDelay: Duration = .zero
    public var maxQueryDelay: Duration = .zero
    /// Whether the clocks of keepers and writers are skewed.
    public var clocksSkewed = false
    /// Whether the first group's keepers' and the writers' skews reach ±9 ms instead of ±3 ms
    /// (`CHRONOLOG_SIM_WIDE_SKEWS=1`, and under the mutation `keeperClockWithoutMargin`): writers
    /// lagging their keepers by close to `StoryPipeline.writerClockMargin` (10 ms), or past it
    /// (then late events are allowed).
    public var wideSkews = false
    /// The share of "last N" queries sent to keepers directly that keepers leave unanswered (busy or gone).
    public var directQueriesIgnored = 0.0

    public var description: String {
        "groups=\(groups) keepers=\(keepers) clients=\(clients) stories=\(stories) delay≤\(maxMessageDelay) read≤\(maxReadDelay) "
            + "round≤\(maxRoundDuration) idleStep=\(idleStep) fullFromRound=\(fullFromRound.map(String.init) ?? "-") "
            + "stall=\(stall.map { "rank \($0.rank) at \($0.at) for \($0.length)" } ?? "-") chunkMs=\(chunkDurationMs) "
            + "archiveMs=\(archiveIntervalMs) slot=\(slotBytes) keeperMemory=\(keeperMemory) "
            + "ackDelay≤\(maxAckDelay) queryDelay≤\(maxQueryDelay) directIgnored=\(directQueriesIgnored) keeperSkews=\(keeperSkews) clientSkews=\(clientSkews)"
            + (saturated ? " saturated grapherMemory=\(grapherMemory) records=\(payloadChoices)" : "")
            + (wideSkews ? " wideSkews" : "")
    }

    /// Whether keepers may get a memory bound below the configurable minimum (`CHRONOLOG_SIM_TIGHT_MEMORY=1`).
    public static let tightMemoryFromEnvironment = ProcessInfo.processInfo.environment["CHRONOLOG_SIM_TIGHT_MEMORY"] == "1"

    /// Whether scenarios are saturated ones (`CHRONOLOG_SIM_SATURATED=1`, ``saturated``).
    public static let saturatedFromEnvironment = ProcessInfo.processInfo.environment["CHRONOLOG_SIM_SATURATED"] == "1"

    /// Whether skews are wide ones (`CHRONOLOG_SIM_WIDE_SKEWS=1`, ``wideSkews``).
    public static let wideSkewsFromEnvironment = ProcessInfo.processInfo.environment["CHRONOLOG_SIM_WIDE_SKEWS"] == "1"

    /// The scenario of `seed`, drawn from `rng` in a fixed order.
    static func draw(_ rng: inout SplitMix64, mutation: SimMutation, tightMemory: Bool, saturated: Bool,
                     wideSkews: Bool = false) -> SimScenario {
        var s = SimScenario()
        s.wideSkews = wideSkews || mutation == .keeperClockWithoutMargin
        s.keepers = Int.random(in: 1...3, using: &rng)
        s.clients = Int.random(in: 1...4, using: &rng)
        s.stories = Int.random(in: 1...min(3, s.clients), using: &rng)
        s.maxMessageDelay = rng.pick([.microseconds(5), .microseconds(100), .milliseconds(2), .milliseconds(10)])
        s.maxReadDelay = rng.pick([.microseconds(5), .microseconds(500), .milliseconds(5)])
        s.maxRoundDuration = rng.pick([.zero, .milliseconds(2), .milliseconds(30)])
        s.idleStep = rng.pick([.microseconds(200), .milliseconds(1), .milliseconds(5)])
        s.chunkDurationMs = rng.pick([2, 10, 50])
        s.archiveIntervalMs = rng.pick([2, 10, 50])
        s.slotBytes = rng.pick([2 << 10, 64 << 10])
        s.keeperMemory = rng.pick([16 << 10, 1 << 20])
        // 16 KiB is below the smallest `keeper.memoryLimitBytes` a user can set (1 MiB), and with
        // two writers on one story it deadlocks (docs/SIMULATOR.md, "Findings"): only with
        // CHRONOLOG_SIM_TIGHT_MEMORY=1. Drawn either way, so a seed's other choices do not change.
        if !tightMemory { s.keeperMemory = 1 << 20 }
        if mutation == .writersIgnoreFlowControl { s.keeperMemory = 16 << 10 }
        if rng.chance(0.15) { s.fullFromRound = Int.random(in: 1...6, using: &rng) }
        if rng.chance(0.3) {
            let rank = Int.random(in: 1...(s.keepers + 1), using: &rng)  // a keeper or the grapher
            s.stall = (rank, rng.microseconds(0, 200_000), rng.microseconds(10_000, 300_000))
        }
        let skewed = rng.chance(0.5)
        s.clocksSkewed = skewed
        // Wide skews triple the same draws, so a seed's other choices do not change.
        let spread: Int64 = s.wideSkews ? 3 : 1
        s.keeperSkews = (0..<s.keepers).map { _ in skewed ? Int64.random(in: -3_000_000...3_000_000, using: &rng) * spread : 0 }
        s.clientSkews = (0..<s.clients).map { _ in skewed ? Int64.random(in: -3_000_000...3_000_000, using: &rng) * spread : 0 }
        if rng.chance(0.2) { s.maxAckDelay = rng.pick([.microseconds(500), .milliseconds(5)]) }
        if rng.chance(0.2) { s.maxQueryDelay = rng.pick([.milliseconds(1), .milliseconds(20)]) }
        if rng.chance(0.2) { s.directQueriesIgnored = rng.pick([0.3, 1.0]) }
        // Drawn last, so the choices above stay those of the seed's default scenario.
        if saturated {
            s.saturated = true
            s.keeperMemory = rng.pick([1 << 20, 4 << 20])
            s.grapherMemory = 1 << 20
            s.slotBytes = rng.pick([64 << 10, 256 << 10])
            s.maxRoundDuration = rng.pick([.milliseconds(100), .milliseconds(700)])
            s.payloadChoices = rng.pick([[2000, 8000], [100, 8000]])
        }
        return s
    }

    /// The recording groups of `seed` (1–3, or `groups` when given) and what further groups add to
    /// the scenario: their keepers' clock skews, and the group of a stalled keeper or grapher.
    /// Drawn from a generator of their own, so that a seed of one group runs exactly as it did
    /// before the simulator ran several.
    mutating func drawGroups(seed: UInt64, groups: Int?) {
        var rng = SplitMix64(seed: seed ^ 0x4752_4F55_5053)  // "GROUPS"
        self.groups = groups ?? Int.random(in: 1...3, using: &rng)
        guard self.groups > 1 else { return }
        keeperSkews += (0..<(keepers * (self.groups - 1))).map { _ in
            clocksSkewed ? Int64.random(in: -3_000_000...3_000_000, using: &rng) : 0  // ±3 ms, wide skews too
        }
        if let s = stall {
            // Drawn among the first group's keepers and grapher; the same role of another group.
            stall = (s.rank + Int.random(in: 0..<self.groups, using: &rng) * (keepers + 2), s.at, s.length)
        }
    }
}

/// The simulator's ``RoleFaults``: slow keepers and players, each delay drawn from the run's generator.
final class SimFaults: RoleFaults, @unchecked Sendable {
    private unowned let world: SimWorld

    init(world: SimWorld) { self.world = world }

    func keeperAckDelay() -> Duration {
        world.scenario.maxAckDelay == .zero ? .zero : world.rng.microseconds(0, Int64(world.scenario.maxAckDelay / .microseconds(1)))
    }

    func playerQueryDelay() -> Duration {
        world.scenario.maxQueryDelay == .zero ? .zero
            : world.rng.microseconds(0, Int64(world.scenario.maxQueryDelay / .microseconds(1)))
    }

    func keeperAnswersDirectQueries() -> Bool {
        world.scenario.directQueriesIgnored == 0 || !world.rng.chance(world.scenario.directQueriesIgnored)
    }

    /// In even seeds the keepers keep every batch in its message and the graphers every chunk as
    /// it came (the simulator's are small); in odd ones only those of 16 KiB or more, as in the
    /// product. Draws nothing.
    func keepsReceivedBytesFrom() -> Int {
        world.seed % 2 == 0 ? 0 : StoryPipeline.defaultMinSharedBytes
    }

    func keeperClockMargin() -> UInt64 {
        world.mutation == .keeperClockWithoutMargin ? 0 : StoryPipeline.writerClockMargin
    }
}

/// A whole job on one thread (graphers' rounds hand a baton to threads of their own, see
/// ``SimGraphers``), in memory, on a manual clock: the real ``VisorService`` (its catalog in
/// memory), and 1–3 recording groups laid out by the real ``RolePlan``, one per node, each of the
/// real ``KeeperRole``s, ``GrapherRole`` and ``PlayerRole`` (each in its real ``RecordingProcess``
/// loop) behind simulated control, bulk, archive and collective seams; simulated writers and readers
/// speak the real control messages. Every delay, order, duration, stall, full disk and clock skew
/// comes from the seed.
public final class SimWorld {
    static let chronicle = "sim"
    /// How long a job may take, simulated, before it counts as hung (under the roles' own 60 s drain stall limit).
    static let deadline: Duration = .seconds(30)
    /// Client ranks besides the writers: the reader, the follower, the "last N" reader, the curator.
    static let otherClientRanks = 4

    public let seed: UInt64
    public let scenario: SimScenario
    public let mutation: SimMutation
    var rng: SplitMix64
    let clock: ManualRoleClock
    let config: ChronoConfig
    private(set) var network: SimNetwork!
    private(set) var visor: VisorService!
    /// Where the visor keeps its archive catalog.
    private(set) var catalogStore = SimCatalogStore()
    private(set) var clients: [SimClient] = []
    private(set) var archive: SimArchive!
    /// One recording group's ranks.
    struct Group {
        let keepers: [Int]
        let grapher: Int
        let player: Int
    }
    /// The recording groups, by group id; the plan laid their ranks out.
    let groups: [Group]
    /// Every group's keepers.
    let keeperRanks: [Int]
    /// The first client rank (the writers, then the reader and the follower).
    let firstClientRank: Int
    /// The job's role plan (``RolePlan``), as a job with these nodes computes it.
    let plan: RolePlan
    /// The graphers and their collectives.
    private(set) var graphers: SimGraphers!
    private(set) var reader: SimReader!
    private(set) var follower: SimFollower!
    private(set) var lastReader: SimLastReader!
    private(set) var curator: SimCurator!

    /// A recording process. A class: a grapher's step may wait in a collective on its fiber while
    /// the others step.
    final class Process {
        let rank: Int
        let role: Role
        let behavior: RecordingBehavior
        var loop: RecordingProcess
        var finished = false
        let bulk: SimBulkTransport

        init(rank: Int, role: Role, behavior: RecordingBehavior, loop: RecordingProcess, bulk: SimBulkTransport) {
            (self.rank, self.role, self.behavior, self.loop, self.bulk) = (rank, role, behavior, loop, bulk)
        }
    }
    private(set) var processes: [Process] = []
    private var pools: [UInt64: SimSlotPool] = [:]
    private var loans: [UInt64: SimLoan] = [:]
    private var nextLoan: UInt64 = 0
    private var busyUntil: [Int: ContinuousClock.Instant] = [:]
    private var stallApplied = false
    private let start: ContinuousClock.Instant
    /// Steps taken by all actors, for the report.
    public private(set) var steps = 0

    /// Whether keepers may get a memory bound below the configurable minimum.
    public let tightMemory: Bool
    /// A keeper killed mid-ingest and the job restarted (SimRestart.swift): the plan, or the job killed before.
    var restart = SimRestartState()

    /// A job drawn from `seed`, with `mutation` in it (and keeper memory bounds below the
    /// configurable minimum when `tightMemory`); `groups` recording groups when given, else as the seed draws;
    /// a saturated scenario when `saturated` (``SimScenario/saturated``). In about one seed in seven
    /// a keeper is killed mid-ingest and a second job restarts over the same archive and catalog (``SimKillPlan``).
    public convenience init(seed: UInt64, mutation: SimMutation = .none, tightMemory: Bool = SimScenario.tightMemoryFromEnvironment,
                            groups: Int? = nil, saturated: Bool = SimScenario.saturatedFromEnvironment,
                            wideSkews: Bool = SimScenario.wideSkewsFromEnvironment) throws {
        try self.init(seed: seed, mutation: mutation, tightMemory: tightMemory, groups: groups, saturated: saturated,
                      wideSkews: wideSkews, restarting: nil)
    }

    /// The job of `seed`, or (with `earlier`) the job restarted after `earlier` was killed: the
    /// same archive, catalog store and clock, the same recording groups, the generator where
    /// `earlier` left it, new writers.
    init(seed: UInt64, mutation: SimMutation, tightMemory: Bool, groups: Int?, saturated: Bool, wideSkews: Bool = false,
         restarting earlier: SimWorld?) throws {
        self.tightMemory = tightMemory
        self.seed = seed
        self.mutation = mutation
        var rng = earlier?.rng ?? SplitMix64(seed: seed)
        let scenario: SimScenario
        if let earlier {
            scenario = SimScenario.drawRestart(&rng, after: earlier.scenario)
        } else {
            var first = SimScenario.draw(&rng, mutation: mutation, tightMemory: tightMemory, saturated: saturated, wideSkews: wideSkews)
            first.drawGroups(seed: seed, groups: groups)
            scenario = first
        }
        self.scenario = scenario
        var restart = SimRestartState()
        if let earlier {
            clock = earlier.clock
            clock.advance(by: earlier.restart.plan?.restartGap ?? .zero)
            restart.earlier = earlier
            restart.clientStories = (0..<scenario.clients).map { _ in Int.random(in: 0..<scenario.stories, using: &rng) }
        } else {
            clock = ManualRoleClock(eventTime: 1_700_000_000_000_000_000)
            restart.plan = SimKillPlan.draw(seed: seed, scenario: scenario)
        }
        self.restart = restart
        self.start = clock.instant()
        var config = ChronoConfig()
        config.story.chunkDurationMs = scenario.chunkDurationMs
        config.story.maxEventBytes = max(256, scenario.payloadChoices.max() ?? 0)
        config.grapher.archiveIntervalMs = scenario.archiveIntervalMs
        config.keeper.transferSlotBytes = scenario.slotBytes
        config.keeper.memoryLimitBytes = scenario.keeperMemory
        config.grapher.memoryLimitBytes = scenario.grapherMemory
        config.heartbeat.intervalMs = 1000
        config.archive.directory = "simulated"
        // Rows of 256 bytes for even seeds (below the configurable 4 KiB, as the simulated ranges
        // hold a few KiB at most): their graphers archive a story's sealed chunks as they are when
        // each holds half a row or more (`GrapherRole.archiveGroups`); odd seeds merge them.
        config.archive.maxRowBytes = seed % 2 == 0 ? 256 : 4 << 20
        self.config = config
        plan = try Self.layOut(scenario)
        self.groups = (0..<scenario.groups).map { [plan] g in
            Group(keepers: plan.ranks(of: .keeper, inGroup: g), grapher: plan.ranks(of: .grapher, inGroup: g)[0],
                  player: plan.ranks(of: .player, inGroup: g)[0])
        }
        keeperRanks = self.groups.flatMap(\.keepers)
        firstClientRank = plan.ranks(of: .client)[0]
        self.rng = rng
        try build()
    }

    private func build() throws {
        network = SimNetwork(world: self)
        network.reordersLanes = mutation == .networkReordersLanes
        if let earlier = restart.earlier {
            catalogStore = earlier.catalogStore
            restart.loadedCatalog = catalogStore.stored
        }
        catalogStore.skipsEverySecondSnapshot = mutation == .catalogSkipsSnapshots
        catalogStore.forgetsDestroys = mutation == .catalogForgetsDestroys
        installClientMutations()
        if mutation == .networkLosesChunkAcks {
            var acks = 0
            network.keep = { _, _, tag, bytes in
                guard tag == .bulk, case .chunkAck(let a)? = try? ControlMessage.decode(bytes), !a.received else { return true }
                acks += 1
                return acks < 5 || acks % 5 != 0
            }
        }
        if mutation == .keeperWaitsForFirstBatch {
            network.rewrite = { source, _, tag, bytes in
                guard source == 0, tag == .service, let message = try? ControlMessage.decode(bytes) else { return bytes }
                switch message {
                case .startRecording(var n):
                    n.holderKeeper = -1
                    return ControlMessage.startRecording(n).encode()
                case .holder(var n) where n.holds:
                    n.writerKeeper = -1
                    return ControlMessage.holder(n).encode()
                default:
                    return bytes
                }
            }
        }
        if mutation == .descriptorsOverstatePayload {
            var descriptors = 0
            let extra = UInt64(scenario.slotBytes)
            network.rewrite = { source, _, tag, bytes in
                guard tag == .bulk, case .chunkDescriptor(var d)? = try? ControlMessage.decode(bytes) else { return bytes }
                descriptors += 1
                guard descriptors % 5 == 0 else { return bytes }
                d.payloadBytes += extra
                return ControlMessage.chunkDescriptor(d).encode()
            }
        }
        if mutation == .keepersCompleteByClock {
            network.rewrite = { [unowned self] source, destination, tag, bytes in
                guard tag == .replay, groups.contains(where: { $0.player == destination }), keeperRanks.contains(source),
                      case .replayPiece(var piece)? = try? ControlMessage.decode(bytes), piece.isLast else { return bytes }
                piece.completeBefore = clock.now()
                return ControlMessage.replayPiece(piece).encode()
            }
        }
        installRestartMutations()
        let logger = Logger(label: "chronolog.sim") { _ in SwiftLogNoOpLogHandler() }
        visor = try VisorService(channel: SimControlTransport(rank: 0, network: network), plan: plan, config: config, logger: logger,
                                 clock: clock, catalogStore: catalogStore,
                                 random: SplitMix64(seed: seed ^ 0x5649_534F_5200))  // from the seed, drawing nothing from `rng`
        archive = restart.earlier?.archive.reopened(by: self)
            ?? SimArchive(world: self, fullFromRound: scenario.fullFromRound)
        archive.dropsLastChunk = mutation == .archiveDropsChunk
        archive.duplicatesChunk = mutation == .archiveDuplicatesChunk
        archive.keepsFailedRound = mutation == .failedRoundKeepsData
        archive.readsSkipFirstChunk = mutation == .archiveReadsSkipChunk
        archive.storesOneRoundLate = mutation == .archiveAcksBeforeStoring
        graphers = SimGraphers(ranks: groups.map(\.grapher), archive: archive)
        var keeperIndex = 0
        for group in groups {
            for rank in group.keepers {
                let bulk = SimBulkTransport(rank: rank, world: self)
                let clock = SkewedClock(base: clock, skew: scenario.keeperSkews[keeperIndex])
                keeperIndex += 1
                let keeper = KeeperRole(config: config, rank: rank, grapherRank: group.grapher, playerRank: group.player,
                                        bulk: bulk, logger: logger, clock: clock)
                keeper.faults = SimFaults(world: self)
                try add(rank: rank, role: .keeper, behavior: keeper, bulk: bulk, clock: clock, logger: logger)
            }
            let bulk = SimBulkTransport(rank: group.grapher, world: self)
            let grapherClock = SkewedClock(base: clock, skew: 0)
            let member = SimGrapherMember(graphers: graphers, rank: group.grapher)
            member.agreesAlone = mutation == .grapherAgreesAlone && group.grapher == groups[0].grapher
            let grapher = try GrapherRole(config: config, keepers: group.keepers, bulk: bulk, graphers: member,
                                          archive: SimArchiveWriter(archive: archive, graphers: graphers, rank: group.grapher),
                                          logger: logger, clock: grapherClock)
            try add(rank: group.grapher, role: .grapher, behavior: grapher, bulk: bulk, clock: grapherClock, logger: logger)
            // In one seed of three (fixed by the seed, drawing nothing) the players' transports
            // refuse to lend memory: straight windows then copy their payload into the slot.
            let playerBulk = SimBulkTransport(rank: group.player, world: self, refusesLends: seed % 3 == 1)
            let source = SimArchiveSource(archive)
            let player = try PlayerRole(config: config, visorRank: 0, grapherRank: group.grapher, bulk: playerBulk, logger: logger,
                                        clock: grapherClock, archive: { source })
            player.faults = SimFaults(world: self)
            try add(rank: group.player, role: .player, behavior: player, bulk: playerBulk, clock: grapherClock, logger: logger)
        }
        for i in 0..<scenario.clients {
            let rank = firstClientRank + i
            let storyName = "story-\(restart.clientStories?[i] ?? i % scenario.stories)"
            let storyId = StoryID(chronicle: try ChronicleName(Self.chronicle), story: try StoryName(storyName))
            clients.append(SimClient(rank: rank, storyId: storyId, storyName: storyName,
                                     clock: SkewedClock(base: clock, skew: scenario.clientSkews[i]),
                                     channel: SimControlTransport(rank: rank, network: network), world: self, rng: &rng))
        }
        let readerRank = firstClientRank + scenario.clients
        reader = SimReader(rank: readerRank, channel: SimControlTransport(rank: readerRank, network: network), world: self, rng: &rng)
        follower = SimFollower(rank: readerRank + 1, channel: SimControlTransport(rank: readerRank + 1, network: network), world: self,
                               rng: &rng)
        lastReader = SimLastReader(rank: readerRank + 2, channel: SimControlTransport(rank: readerRank + 2, network: network), world: self,
                                   rng: &rng)
        curator = SimCurator(rank: readerRank + 3, channel: SimControlTransport(rank: readerRank + 3, network: network), world: self,
                             rng: &rng)
    }

    /// The job's role plan, computed by ``RolePlan`` from the ranks' facts as in a real job: the
    /// visor at rank 0, then one node per recording group (its keepers, grapher and player; the
    /// first shares the visor's node), then the writers, the reader, the follower, the "last N" reader and the curator as clients
    /// (application ranks on the first node).
    static func layOut(_ scenario: SimScenario) throws -> RolePlan {
        let perGroup = scenario.keepers + 2
        // A node's key is its lowest rank: 0 for the visor's, which hosts the first group.
        let service = (0...(scenario.groups * perGroup)).map { rank in
            RankFacts(worldRank: rank, nodeKey: rank <= perGroup ? 0 : 1 + (rank - 1) / perGroup * perGroup, isService: true, host: "sim")
        }
        let clients = (service.count..<(service.count + scenario.clients + Self.otherClientRanks)).map {
            RankFacts(worldRank: $0, nodeKey: 0, isService: false, host: "sim")
        }
        let facts = service + clients
        return try RolePlan(facts: facts, shape: GroupShape(keepers: scenario.keepers))
    }

    private func add(rank: Int, role: Role, behavior: RecordingBehavior, bulk: SimBulkTransport, clock: SkewedClock,
                     logger: Logger) throws {
        let assignment = plan.assignments[rank]
        var loop = RecordingProcess(behavior: behavior, channel: SimControlTransport(rank: rank, network: network),
                                    assignment: assignment, visorRank: 0, config: config, logger: logger, clock: clock)
        try loop.start()
        processes.append(Process(rank: rank, role: role, behavior: behavior, loop: loop, bulk: bulk))
    }

    // MARK: - What the seams draw from the seed

    func messageDelay() -> Duration { rng.microseconds(0, Int64(scenario.maxMessageDelay / .microseconds(1))) }

    func readDelay(bytes: Int) -> Duration { rng.microseconds(0, Int64(scenario.maxReadDelay / .microseconds(1))) }

    func roundDuration() -> Duration { rng.microseconds(0, Int64(scenario.maxRoundDuration / .microseconds(1))) }

    /// When the job began (its clock's elapsed time).
    var jobStart: ContinuousClock.Instant { start }

    /// Until when `rank` is busy (inside an archive round, or stalled).
    func busy(_ rank: Int) -> ContinuousClock.Instant? { busyUntil[rank] }

    func makeBusy(_ rank: Int, for duration: Duration) {
        let until = clock.instant() + duration
        if until > busyUntil[rank] ?? start { busyUntil[rank] = until }
    }

    func makePool(owner: Int, slotSize: Int, slotCount: Int) -> SimSlotPool {
        let key = UInt64(owner) << 16 | UInt64(pools.count + 1)
        let pool = SimSlotPool(key: key, slotSize: slotSize, slotCount: slotCount)
        pools[key] = pool
        return pool
    }

    func pool(key: UInt64) -> SimSlotPool? { pools[key] }

    /// Memory `owner` lends in place (a keeper's sealed chunk), under a key no pool has.
    func makeLoan(owner: Int, bytes: [UInt8]) -> SimLoan {
        nextLoan += 1
        if nextLoan % 256 == 0 { loans = loans.filter { !$0.value.isClosed } }  // closed ones are only refused
        let key = 1 << 63 | UInt64(owner) << 32 | nextLoan
        let loan = SimLoan(key: key, bytes: bytes)
        loans[key] = loan
        return loan
    }

    /// The loan of `key` (a closed one refuses reads).
    func loan(key: UInt64) -> SimLoan? { loans[key] }

    func isRecordingRank(_ rank: Int) -> Bool { rank >= 1 && rank < firstClientRank }

    // MARK: - Running

    /// How a run ended.
    public enum Ending: Equatable, Sendable {
        case finished(at: Duration)
        case hung(at: Duration, state: String)
        case failed(String)
        /// A keeper was killed (SIGKILL): the job ended as a crash, to be restarted (SimRestart.swift).
        case killed(at: Duration)
    }

    /// Runs the job until every role finished, the deadline passed, or a role threw.
    public func run() -> Ending {
        defer { graphers.cancel() }
        do {
            var idle = scenario.idleStep
            while true {
                let elapsed = clock.instant() - start
                if allDone {
                    try visor.finish()
                    return .finished(at: elapsed)
                }
                if elapsed >= Self.deadline { return .hung(at: elapsed, state: hungState) }
                if killIsDue() {
                    crash(after: elapsed)
                    return .killed(at: elapsed)
                }
                applyStall()
                let did = try stepEveryone()
                if did {
                    clock.advance(by: rng.microseconds(0, 20))
                    idle = scenario.idleStep
                } else {
                    clock.advance(by: nextJump(idle))
                    idle = min(idle * 2, .milliseconds(20))
                }
            }
        } catch {
            return .failed("\(error)")
        }
    }

    private var allDone: Bool { visor.isDone && processes.allSatisfy(\.finished) }

    private func applyStall() {
        guard !stallApplied, let stall = scenario.stall, clock.instant() - start >= stall.at else { return }
        stallApplied = true
        makeBusy(stall.rank, for: stall.length)
    }

    /// Steps the visor, every client and every recording process not busy, in an order drawn from the seed.
    private func stepEveryone() throws -> Bool {
        var did = false
        let now = clock.instant()
        let actors = processes.count + clients.count + 5
        for a in (0..<actors).shuffled(using: &rng) {
            steps += 1
            if a < processes.count {
                let p = processes[a]
                guard !p.finished, (busyUntil[p.rank] ?? start) <= now else { continue }
                // A grapher's step may wait in a collective (then nil) and resume at a later turn.
                let stepped = p.role == .grapher ? try graphers.step(p.rank) { try p.loop.step() } : try p.loop.step()
                guard let (work, done) = stepped else { continue }
                did = did || work
                if done {
                    try p.loop.finish()
                    p.finished = true
                    did = true
                }
            } else if a < processes.count + clients.count {
                did = try clients[a - processes.count].step() || did
            } else if a == processes.count + clients.count {
                did = try reader.step() || did
            } else if a == processes.count + clients.count + 1 {
                did = try follower.step() || did
            } else if a == processes.count + clients.count + 2 {
                did = try lastReader.step() || did
            } else if a == processes.count + clients.count + 3 {
                did = try curator.step() || did
            } else if !visor.isDone {
                did = try visor.step() || did
            }
        }
        return did
    }

    /// How far the clock jumps when nobody did anything: to the next thing known to happen, at most `idle`.
    private func nextJump(_ idle: Duration) -> Duration {
        let now = clock.instant()
        var next = now + idle
        let candidates = [network.nextDelivery] + processes.map { $0.bulk.nextCompletion } + clients.map(\.nextWake)
            + busyUntil.values.map { Optional($0) } + [restart.killAt]
        for case let c? in candidates where c > now && c < next { next = c }
        return max(next - now, .microseconds(1))
    }

    private var hungState: String {
        let roles = processes.filter { !$0.finished }.map { "\($0.role) \($0.rank): \($0.behavior.drainState)" }
        return "visor=\(visor.isDone ? "done" : "running") reader=\(reader.answers.values.map(\.done)) follower=\(follower.finished ? "done" : "at \(follower.cursor)") lastReader=\(lastReader.finished ? "done" : "\(lastReader.answers.count)/\(lastReader.queries)") curator=\(curator.finished ? "done" : "running") clients=\(clients.map { "\($0.phase)" }) messages=\(network.inFlight)\(graphers.waitingState) \(roles.joined(separator: " | "))"
    }

    // MARK: - Results

    /// Every rank's counters as the summary takes them.
    var counters: [(role: Role, counters: Counters)] {
        [(.visor, visor.counters)] + processes.map { ($0.role, $0.loop.counters) } + clients.map { (.client, $0.counters) }
    }
}
