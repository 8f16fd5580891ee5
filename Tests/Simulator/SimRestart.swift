import ChronoArchive
import ChronoModel
import ChronoRuntime

// A keeper killed mid-ingest and the job restarted, as the product meets it (docs/SIMULATOR.md,
// "A killed keeper and a restarted job"): a rank SIGKILLed ends the whole MPI job (mpirun kills the
// others), so every role's memory is gone at once, with no drain and no last catalog write; the
// archive keeps its committed rounds (and what the round in progress left); a second job over the
// same archive directory loads the catalog the visor last wrote, hands out new client ids, appends
// to the same stories and replays them, partial (−18) where an earlier writer's tail is missing.

/// What a kill leaves of the archive round in progress (docs/ARCHIVE.md, "After a crash, or damage").
enum SimCrashedRound: CustomStringConvertible, Sendable {
    /// Killed before the round's flush: none of its rows reached the file.
    case vanishes
    /// Killed between the flush and the commit record: every row is valid and read, uncommitted.
    case survives
    /// HDF5's metadata reached the file in part: the rows written first survive, a crash tail after them.
    case torn(share: Double)

    /// How many of a round's `total` chunks (in the order written) survive.
    func kept(of total: Int) -> Int {
        switch self {
        case .vanishes: 0
        case .survives: total
        case .torn(let share): Int(Double(total) * share)
        }
    }

    var description: String {
        switch self {
        case .vanishes: "vanishes"
        case .survives: "survives"
        case .torn(let share): "torn at \(Int(share * 100)) %"
        }
    }
}

/// A keeper killed at a moment drawn from the seed, from a generator of its own (so a seed without
/// a kill runs exactly as it did before kills existed).
struct SimKillPlan: CustomStringConvertible, Sendable {
    /// The share of the first job's planned events logged when the kill comes.
    let share: Double
    /// Whether the kill also waits until the catalog the visor wrote lists every writer that logged
    /// (it writes at most every 100 ms: most simulated jobs are younger than that at the kill).
    let afterCatalog: Bool
    /// Whether the kill then waits for the next archive round and lands inside it.
    let duringRound: Bool
    /// The keeper killed (every other rank dies with the job).
    let keeper: Int
    /// What the kill leaves of a round in progress.
    let crashedRound: SimCrashedRound
    /// Simulated time between the kill and the second job's start.
    let restartGap: Duration
    /// Where in the round the kill lands.
    var rng: SplitMix64
    /// Waiting for the next round to kill in, and the rounds let pass while waiting.
    var armed = false
    var roundsPassed = 0
    /// A kill inside a round waits up to this many rounds for one that begins while a writer waits
    /// for a durable flush (a checkpoint in progress), then takes the next.
    static let roundsWaitingForFlush = 8

    /// The share of seeds with a kill (among those without a full disk).
    static let probability = 1.0 / 6

    static func draw(seed: UInt64, scenario: SimScenario) -> SimKillPlan? {
        var rng = SplitMix64(seed: seed ^ 0x4B_494C_4C45_44)  // "KILLED"
        guard rng.chance(probability), scenario.fullFromRound == nil else { return nil }
        let share = Double.random(in: 0.05..<0.95, using: &rng)
        let afterCatalog = rng.chance(0.5)
        let duringRound = rng.chance(0.5)
        let keeper = Int.random(in: 1...(scenario.keepers * scenario.groups), using: &rng)
        let crashed = rng.pick([SimCrashedRound.vanishes, .survives, .torn(share: Double.random(in: 0..<1, using: &rng))])
        let gap = rng.microseconds(1_000, 50_000)
        return SimKillPlan(share: share, afterCatalog: afterCatalog, duringRound: duringRound, keeper: keeper, crashedRound: crashed, restartGap: gap, rng: rng)
    }

    var description: String {
        "keeper \(keeper) killed at \(Int(share * 100)) % of the events\(afterCatalog ? ", once the catalog lists its writers" : "")"
            + "\(duringRound ? ", inside the next round" : ""), "
            + "a round in progress \(crashedRound), restart after \(restartGap)"
    }
}

/// What the kill did: when, and what it found of the round in progress.
struct SimKill: Sendable {
    let at: Duration
    /// The round in progress: its chunks and how many survived; nil when none was.
    let round: (chunks: Int, kept: Int)?
}

/// A job's part in a kill and restart: the plan (a first job), when the kill is due and what it did,
/// or (a second job) the job killed before it, its writers' stories and the catalog it loaded.
struct SimRestartState {
    var plan: SimKillPlan?
    var killAt: ContinuousClock.Instant?
    var kill: SimKill?
    var earlier: SimWorld?
    /// The story (index) of each writer of a second job.
    var clientStories: [Int]?
    /// The catalog the second job's visor loaded (the one the first job's visor last wrote).
    var loadedCatalog: ArchiveCatalog?
}

extension SimScenario {
    /// The second job's scenario: the same group, 1–3 new writers (their clocks skewed as the
    /// first job's were, or not), no stall and no full disk.
    static func drawRestart(_ rng: inout SplitMix64, after first: SimScenario) -> SimScenario {
        var s = first
        s.clients = Int.random(in: 1...3, using: &rng)
        s.fullFromRound = nil
        s.stall = nil
        let skewed = first.keeperSkews.contains { $0 != 0 } || first.clientSkews.contains { $0 != 0 }
        s.clientSkews = (0..<s.clients).map { _ in skewed ? Int64.random(in: -3_000_000...3_000_000, using: &rng) : 0 }
        return s
    }
}

extension SimWorld {
    // MARK: - The kill (first job)

    /// Whether the planned kill is due now: once the share of events is logged (or, for a kill
    /// inside a round, at the moment drawn inside the next round once it is).
    func killIsDue() -> Bool {
        guard var plan = restart.plan, restart.kill == nil else { return false }
        if restart.killAt == nil && !plan.armed {
            let planned = clients.reduce(0) { $0 + $1.eventCount }
            let logged = clients.reduce(0) { $0 + $1.logged.count }
            guard Double(logged) >= plan.share * Double(planned), !plan.afterCatalog || catalogListsWriters else { return false }
            if plan.duringRound { plan.armed = true } else { restart.killAt = clock.instant() }
            restart.plan = plan
        }
        guard let at = restart.killAt else { return false }
        return clock.instant() >= at
    }

    /// Whether the catalog the visor last wrote lists every writer that logged an event.
    private var catalogListsWriters: Bool {
        let stories = catalogStore.stored?.chronicles[Self.chronicle]?.stories
        return clients.allSatisfy { c in
            c.logged.isEmpty || stories?[c.storyName]?.writers.contains { $0.client == c.clientId.rawValue } == true
        }
    }

    /// An archive round that writes something begins (``SimArchive``), taking `duration`: a kill
    /// waiting for a round lands at a moment drawn between now and its commit, in a round that
    /// begins while a writer waits for a durable flush when one comes within
    /// ``SimKillPlan/roundsWaitingForFlush`` rounds. That round is a slow one (10–40 ms: HDF5's
    /// flush to a loaded disk), long enough for acknowledgements and flush replies to cross the
    /// network before its commit, which only a grapher acknowledging early would let them.
    /// - Returns: the round's duration.
    func roundBegins(duration: Duration) -> Duration {
        guard var plan = restart.plan, plan.armed, restart.killAt == nil else { return duration }
        if !clients.contains(where: \.waitsForDurable) && plan.roundsPassed < SimKillPlan.roundsWaitingForFlush {
            plan.roundsPassed += 1
            restart.plan = plan
            return duration
        }
        let slow = max(duration, plan.rng.microseconds(10_000, 40_000))
        let now = clock.instant()
        restart.killAt = now + plan.rng.microseconds(0, Int64(slow / .microseconds(1)))
        plan.armed = false
        restart.plan = plan
        return slow
    }

    /// When the archive round `rank` is inside returns (committed), while it is inside one and a kill
    /// is planned: what it posts in that step leaves then, as the real grapher acknowledges a round
    /// only after `writeRound` returned. Without a kill nothing can tell, and the seeds run as before.
    func roundReturns(of rank: Int) -> ContinuousClock.Instant? {
        guard restart.plan != nil, mutation != .roundAcksBeforeCommit, groups.contains(where: { $0.grapher == rank }),
              let until = busy(rank), until > clock.instant() else { return nil }
        return until
    }

    /// Every rank dies at once: the archive keeps what was committed (and what the round in progress left).
    func crash(after elapsed: Duration) {
        guard let plan = restart.plan else { return }
        let round = archive.crash(at: clock.instant(), keeping: plan.crashedRound.kept(of:))
        restart.kill = SimKill(at: elapsed, round: round)
    }

    /// The mutations of a restart: the player ignores the earlier writers the visor sends with each
    /// query (a rewrite of the forwarded query on the network).
    func installRestartMutations() {
        guard mutation == .playerIgnoresEarlierWriters else { return }
        network.rewrite = { [unowned self] source, destination, _, bytes in
            guard source == 0, groups.contains(where: { $0.player == destination }), case .replayRequest(var r)? = try? ControlMessage.decode(bytes),
                  !r.earlierWriters.isEmpty else { return bytes }
            r.earlierWriters = []
            return ControlMessage.replayRequest(r).encode()
        }
    }

    // MARK: - The second job's clients

    /// The writers whose events may be in the archive: the first job's (after a kill) and this job's.
    var allWriters: [SimClient] { (restart.earlier?.clients ?? []) + clients }

    /// The stories a reader asks about: those this job's writers acquired (one entry per writer)
    /// and, after a restart, every story of the first job.
    var readableStories: [String] {
        clients.filter(\.acquiredOnce).map(\.storyName) + Set(restart.earlier?.clients.map(\.storyName) ?? []).sorted()
    }

    /// A second job's query range: anywhere from the first job's start to a little past now,
    /// now and then from 0 or to the end of time.
    func restartQueryRange() -> TimeRange {
        let first = restart.earlier?.firstEventTime ?? 0
        let last = clock.now() + 50_000_000
        let a = UInt64.random(in: first...last, using: &rng), b = UInt64.random(in: first...last, using: &rng)
        let start = rng.chance(0.2) ? 0 : min(a, b)
        let end = rng.chance(0.2) ? UInt64.max : max(a, b) + 1
        return TimeRange(start: start, end: end)
    }

    /// How likely a writer with nothing unshipped asks for a durable flush at a turn: five times as
    /// likely when a kill is planned (a workload that checkpoints), so that kills find flushes
    /// answered and the durable invariant has something to hold across the crash.
    var durableFlushChance: Double { restart.plan == nil ? 0.02 : 0.1 }

    /// Whether a follower of `story` begins at once: after a restart, a story no writer of this job
    /// records is only in the archive.
    func followsArchivedOnly(_ story: String) -> Bool {
        restart.earlier != nil && !clients.contains { $0.storyName == story }
    }

    /// The event time at which the job began.
    var firstEventTime: UInt64 { clock.now() - UInt64((clock.instant() - jobStart) / .nanoseconds(1)) }

    // MARK: - Running both jobs

    /// After a kill: runs the second job over the same archive and catalog, and reports both.
    func restarted() -> SimReport {
        let second: SimWorld
        do {
            second = try SimWorld(seed: seed, mutation: mutation, tightMemory: tightMemory, groups: scenario.groups,
                                  saturated: scenario.saturated, restarting: self)
        } catch {
            var report = SimReport(seed: seed, mutation: mutation, scenario: scenario, ending: .failed("restart: \(error)"),
                                   violations: killedJobViolations() + ["restart: the second job did not start: \(error)"],
                                   logged: clients.reduce(0) { $0 + $1.logged.count }, archived: archive.events.count,
                                   rounds: archive.rounds, steps: steps)
            report.restart = restartDescription
            return report
        }
        return second.report(second.run())
    }

    var restartDescription: String {
        guard let plan = restart.plan ?? restart.earlier?.restart.plan else { return "" }
        let kill = restart.kill ?? restart.earlier?.restart.kill
        let round = kill?.round.map { "a round of \($0.chunks) chunks in progress, \($0.kept) kept" } ?? "no round in progress"
        let stories = restart.clientStories.map { " second job: writers on stories \($0)" } ?? ""
        return "\(plan) — killed at \(kill.map { "\($0.at)" } ?? "-"), \(round);\(stories)"
    }

    // MARK: - Invariants

    /// The first job's own invariants, up to the kill: late events, memory, the replies its reader,
    /// follower, "last N" reader and curator got, the durable flushes its writers saw succeed, the
    /// graphers' collectives in step (the archive's exactly-once
    /// holds over both jobs and is checked after the second).
    func killedJobViolations() -> [String] {
        (checkLate() + checkMemory() + checkReplays() + clients.flatMap(\.durabilityViolations) + checkFollow()
            + graphers.failures + checkLastN() + curator.violations)
            .map { "\($0) (first job, before the kill)" }
    }

    /// A first-job writer as the second job finds it: what it logged, what of it is archived, what
    /// the catalog the second job loaded says of it.
    struct EarlierWriter {
        let client: SimClient
        /// Indexes of its events in the archive.
        let archived: Set<UInt32>
        /// Its archived event with the highest index.
        let last: Event?
        /// Whether the loaded catalog lists it as a writer of its story, and its count there (nil:
        /// it never released the story, as far as the catalog knows).
        let known: Bool
        let count: UInt64?

        /// Its events the kill destroyed.
        var destroyed: [Event] { client.logged.filter { !archived.contains($0.index) } }

        /// Whether a replay must call an answer partial for it, where the range reaches past its last
        /// archived event: the catalog knows it, and either does not know how many events it logged
        /// or knows that some of them are not archived.
        var tailInDoubt: Bool {
            guard known else { return false }
            guard let count else { return true }
            return (0..<count).contains { !archived.contains(UInt32($0)) }
        }

        /// Whether a range ending at `end` reaches past its last archived event (or it has none).
        func reaches(_ end: UInt64) -> Bool { last.map { $0.time < end } ?? true }

        /// Whether a complete answer may lack its destroyed events: the catalog the second job loaded
        /// missed its (last) acquire, written at most 100 ms after the fact (`CatalogRecorder.writeInterval`):
        /// it does not list the writer, or lists the count of an earlier release.
        var unrecorded: Bool { !known || count.map { $0 < UInt64(client.logged.count) } ?? false }
    }

    /// The first job's writers, as the second job finds them.
    func earlierWriters() -> [EarlierWriter] {
        guard let earlier = restart.earlier else { return [] }
        var archived: [String: [UInt64: [Event]]] = [:]
        for e in archive.events {
            archived[e.story, default: [:]][e.client, default: []].append(
                Event(time: e.time, clientId: ClientID(rawValue: e.client), index: e.index, record: e.record))
        }
        let chronicle = restart.loadedCatalog?.chronicles[Self.chronicle]
        return earlier.clients.map { c in
            let events = archived[c.storyName]?[c.clientId.rawValue] ?? []
            let entry = chronicle?.stories[c.storyName]?.writers.first { $0.client == c.clientId.rawValue }
            return EarlierWriter(client: c, archived: Set(events.map(\.index)), last: events.max { $0.index < $1.index },
                                 known: entry != nil, count: entry?.count)
        }
    }

    /// After a restart (docs/SIMULATOR.md, "A killed keeper and a restarted job"):
    /// - durable: every event a first-job writer saw acknowledged durable is in the archive;
    /// - restart (replay): each of the second job's answers holds every archived event of its range
    ///   (below its `completeBefore`), is partial exactly when the range reaches past the last
    ///   archived event of a first-job writer whose tail the catalog leaves in doubt, and, when
    ///   complete, lacks no event the kill destroyed (unless the catalog missed that writer's
    ///   acquire); a story is unknown (−3) only when neither the catalog nor the archive has it; a
    ///   follow of a story answers partial exactly when such a writer wrote to it, and yields every
    ///   archived event of the story from its start;
    /// - lost: for each first-job writer whose count the catalog recorded, the catalog and the
    ///   archive (`ArchivedWriterEnds`, as `verify` counts) miss exactly the events the kill destroyed;
    /// - catalog: the second job keeps the first job's writers in the catalog as it loaded them.
    func checkRestart() -> [String] {
        guard restart.earlier != nil else { return [] }
        var out: [String] = []
        let writers = earlierWriters()
        for w in writers {
            let c = w.client
            let lost = (0..<c.durableShipped).filter { !w.archived.contains(UInt32($0)) && !c.rejectedIndexes.contains(UInt32($0)) }
            if let first = lost.first {
                out.append("durable: \(lost.count) event(s) of client \(c.clientId) in \(c.storyName) acknowledged durable before "
                           + "the kill are not in the archive after it (first index \(first))")
            }
            if let count = w.count, count > UInt64(c.logged.count) {
                out.append("catalog: client \(c.clientId) logged \(c.logged.count) event(s) to \(c.storyName) before the kill, "
                           + "the catalog says \(count)")
            }
        }
        out += checkRestartReplays(writers)
        out += checkRestartFollow(writers)
        out += checkEarlierLoss(writers)
        out += checkCatalogKept()
        return out
    }

    private func checkRestartReplays(_ writers: [EarlierWriter]) -> [String] {
        var out: [String] = []
        let archivedStories = Set(writers.filter { !$0.archived.isEmpty }.map(\.client.storyName))
        let chronicle = restart.loadedCatalog?.chronicles[Self.chronicle]
        for (id, a) in reader.answers.sorted(by: { $0.key < $1.key }) where a.done {
            let ofStory = writers.filter { $0.client.storyName == a.story }
            if a.rc == .notExist {
                if chronicle?.stories[a.story] != nil || archivedStories.contains(a.story) {
                    out.append("restart: query \(id) of \(a.story) answered that the story does not exist, "
                               + "which the catalog or the archive holds")
                }
                continue
            }
            let doubt = ofStory.filter { $0.tailInDoubt && $0.reaches(a.range.end) }
            if (a.rc == .partialResult) != !doubt.isEmpty {
                let why = doubt.map { "client \($0.client.clientId): count \($0.count.map(String.init) ?? "unknown"), "
                    + "\($0.archived.count) of \($0.client.logged.count) archived, last at \($0.last.map { "\($0.time)" } ?? "-")" }
                out.append("restart: query \(id) of \(a.story) in \(a.range) answered \(a.rc == .partialResult ? "partial" : "complete"), "
                           + "expected \(doubt.isEmpty ? "complete" : "partial: \(why.joined(separator: "; "))")")
            }
            let answered = Set(a.events.map { "\($0.clientId.rawValue)/\($0.index)" })
            let complete = TimeRange(start: a.range.start, end: min(a.range.end, a.completeBefore))
            for w in ofStory {
                let c = w.client
                if let e = c.logged.first(where: { w.archived.contains($0.index) && complete.contains($0.time)
                    && !answered.contains("\(c.clientId.rawValue)/\($0.index)") }) {
                    out.append("restart: query \(id) of \(a.story) in \(a.range) misses \(e.key), archived by the first job")
                }
                if a.rc == .success, !w.unrecorded, let e = w.destroyed.first(where: { complete.contains($0.time) }) {
                    out.append("restart: query \(id) of \(a.story) in \(a.range) answered complete without \(e.key), "
                               + "which the kill destroyed (client \(c.clientId): \(w.archived.count) of \(c.logged.count) archived, "
                               + "catalog count \(w.count.map(String.init) ?? "unknown"))")
                }
            }
        }
        return out
    }

    private func checkRestartFollow(_ writers: [EarlierWriter]) -> [String] {
        let f = follower!
        var out: [String] = []
        let ofStory = writers.filter { $0.client.storyName == f.story }
        let partial = ofStory.contains(where: \.tailInDoubt)
        if let i = f.answeredPartial.firstIndex(where: { $0 != partial }) {
            out.append("restart: follow query \(i + 1) of \(f.story) answered \(partial ? "complete" : "partial"), "
                       + "expected \(partial ? "partial" : "complete")")
        }
        guard f.finished else { return out }
        let yielded = Set(f.yielded.map { "\($0.client)/\($0.index)" })
        for w in ofStory {
            let c = w.client
            if let e = c.logged.first(where: { $0.time >= f.start && w.archived.contains($0.index)
                && !yielded.contains("\(c.clientId.rawValue)/\($0.index)") }) {
                out.append("restart: follow of \(f.story) from \(f.start) ended without \(e.key), archived by the first job")
            }
        }
        return out
    }

    /// For each first-job writer whose release the catalog recorded with the count it logged, what
    /// the catalog and the archive say it lacks (indexes from its last archived one to its count,
    /// as the player and `verify` count) is what the kill destroyed.
    private func checkEarlierLoss(_ writers: [EarlierWriter]) -> [String] {
        var out: [String] = []
        let source = SimArchiveSource(archive)
        for w in writers {
            let c = w.client
            guard let count = w.count, count == UInt64(c.logged.count), count > 0 else { continue }
            let ends: ArchivedWriterEnds
            do {
                ends = try ArchivedWriterEnds.scan(source, chronicle: Self.chronicle, story: c.storyName, clients: [c.clientId.rawValue])
            } catch {
                out.append("lost: the archive of \(c.storyName) cannot be scanned: \(error)")
                continue
            }
            let reported = count - (ends.ends[c.clientId.rawValue].map { $0.index + 1 } ?? 0)
            if reported != UInt64(w.destroyed.count) {
                out.append("lost: client \(c.clientId) of the first job in \(c.storyName): the catalog and the archive say \(reported) "
                           + "of its \(count) events never archived, the kill destroyed \(w.destroyed.count)")
            }
        }
        return out
    }

    /// The first job's writers stay in the catalog as the second job loaded them.
    private func checkCatalogKept() -> [String] {
        guard let loaded = restart.loadedCatalog?.chronicles[Self.chronicle] else { return [] }
        let now = catalogStore.stored?.chronicles[Self.chronicle]
        for (name, story) in loaded.stories.sorted(by: { $0.key < $1.key }) {
            for w in story.writers where now?.stories[name]?.writers.first(where: { $0.client == w.client }) != w {
                return ["catalog: the second job's catalog lost client \(w.client) of \(name) (count \(w.count.map(String.init) ?? "unknown"))"]
            }
        }
        return []
    }

    /// The report of a second job: both jobs' counts, the kill, and what it destroyed.
    func addRestart(to report: inout SimReport) {
        if let plan = restart.plan, restart.kill == nil {
            report.restart = "\(plan) — the job ended before the kill"
        }
        guard let earlier = restart.earlier else { return }
        report.restart = restartDescription
        report.killed = true
        report.destroyed = earlierWriters().reduce(0) { $0 + $1.destroyed.count }
        report.replays += earlier.reader.answers.values.filter(\.done).count
        report.durableFlushes += earlier.clients.reduce(0) { $0 + $1.durableFlushes }
        report.restarts += earlier.clients.reduce(0) { $0 + $1.restarts }
        report.followPolls += earlier.follower.polls
        report.followed += earlier.follower.yielded.count
        report.late += earlier.counters.reduce(UInt64(0)) { $0 + ($1.counters[.eventsLate] ?? 0) }
        report.collectives += earlier.scenario.groups > 1 ? earlier.graphers.collectives : 0
        report.handOffs += earlier.graphers.handOffs
        report.lastQueries += earlier.lastReader.answers.count
        report.lastDirect += earlier.lastReader.answers.filter { $0.path == .keepers }.count
        report.lastBelow += earlier.lastReader.answers.filter { $0.path == .belowKeepers }.count
        report.lastTimeouts += earlier.lastReader.directTimeouts
        report.lastStaleRoutes += earlier.lastReader.staleRoutes
        report.listings += earlier.curator.listings
        report.destroys += earlier.curator.destroys
        report.partialReplays = reader.answers.values.filter { $0.done && $0.rc == .partialResult }.count
            + follower.answeredPartial.filter { $0 }.count
    }
}
