import ChronoDeployment
import ChronoModel

/// The outcome of one simulated job: how it ended and every invariant it broke.
public struct SimReport: Sendable {
    public let seed: UInt64
    public let mutation: SimMutation
    public let scenario: SimScenario
    public let ending: SimWorld.Ending
    /// Broken invariants, each a line naming it.
    public let violations: [String]
    public let logged: Int
    public let archived: Int
    public let rounds: Int
    public let steps: Int
    /// Whether keeper memory bounds below the configurable minimum were allowed.
    public var tightMemory = false
    /// Replay answers and durable flushes checked.
    public var replays = 0
    /// Replay pieces the reader read from the player's memory, and of them those whose payload
    /// was lent apart (from the archive's "mapped" memory).
    public var piecesByRMA = 0, piecesLentApart = 0
    /// Windows the player read straight from the archive into its slot (`pieces.straight`).
    public var piecesStraight = 0
    /// Straight windows whose payload the player's transport refused to lend: copied into the slot
    /// instead (`pieces.lendRefused`).
    public var piecesLendRefused = 0
    public var durableFlushes = 0
    /// Events the keepers and the grapher counted late.
    public var late: UInt64 = 0
    /// Stories released and acquired again by the same writer.
    public var restarts = 0
    /// A keeper killed mid-ingest and the job restarted (SimRestart.swift): how (or a kill planned
    /// that the job's end came before), nil when not; and whether the kill came.
    public var restart: String?
    public var killed = false
    /// Events of the first job the kill destroyed (logged, not archived), and the second job's
    /// replay and follow answers that were partial.
    public var destroyed = 0
    public var partialReplays = 0
    /// Queries the follower asked, and events it yielded.
    public var followPolls = 0
    public var followed = 0
    /// Blocking collectives the graphers completed (rounds, agreements, the close), with several groups.
    public var collectives = 0
    /// Hand-offs between the simulator's thread and the graphers' fibers.
    public var handOffs = 0
    /// "Last N" answers checked, and those the keepers gave directly; listings and destroys checked.
    public var lastQueries = 0
    public var lastDirect = 0
    /// "Last N" answers completed below the keepers' by the player, and direct queries that fell
    /// back to the player: no answer within half the timeout, or refused (a stale route).
    public var lastBelow = 0
    public var lastTimeouts = 0
    public var lastStaleRoutes = 0
    public var listings = 0
    public var destroys = 0

    /// Whether every invariant held.
    public var passed: Bool { violations.isEmpty }

    /// The line that replays this run.
    public var replayLine: String {
        "simulated job failed: seed \(seed) (replay: scripts/simulate.sh --seed \(seed)\(mutation == .none ? "" : " --mutation \(mutation.rawValue)")\(tightMemory ? " --tight-memory" : "")\(scenario.saturated ? " --saturated" : "")\(scenario.wideSkews && mutation != .keeperClockWithoutMargin ? " --wide-skews" : "")): "
            + "\(violations.joined(separator: "; ")) — \(scenario)\(restart.map { " — \($0)" } ?? "")"
    }
}

extension SimWorld {
    /// Runs the job and checks every invariant after it; `groups` recording groups when given, else
    /// as the seed draws them; a saturated scenario (``SimScenario/saturated``) when `saturated`.
    public static func simulate(seed: UInt64, mutation: SimMutation = .none,
                                tightMemory: Bool = SimScenario.tightMemoryFromEnvironment, groups: Int? = nil,
                                saturated: Bool = SimScenario.saturatedFromEnvironment,
                                wideSkews: Bool = SimScenario.wideSkewsFromEnvironment) -> SimReport {
        let world: SimWorld
        do {
            world = try SimWorld(seed: seed, mutation: mutation, tightMemory: tightMemory, groups: groups, saturated: saturated,
                                 wideSkews: wideSkews)
        } catch {
            return SimReport(seed: seed, mutation: mutation, scenario: SimScenario(), ending: .failed("setup: \(error)"),
                             violations: ["setup failed: \(error)"], logged: 0, archived: 0, rounds: 0, steps: 0)
        }
        let ending = world.run()
        if case .killed = ending { return world.restarted() }
        return world.report(ending)
    }

    func report(_ ending: Ending) -> SimReport {
        var violations: [String] = []
        switch ending {
        case .finished: break
        case .hung(let at, let state): violations.append("deadline: the job had not ended after \(at) (simulated): \(state)")
        case .failed(let error): violations.append("a role threw: \(error)")
        case .killed: break
        }
        let archived = archive.events
        violations += checkArchivedExactlyOnceInOrder(archived)
        if case .finished = ending {
            violations += checkLost(archived)
            violations += checkCatalog()
        }
        violations += checkLate()
        violations += checkMemory()
        violations += checkReplays()
        violations += clients.flatMap(\.durabilityViolations)
        violations += checkFollow()
        violations += graphers.failures
        violations += checkLastN()
        violations += checkDestroyed()
        violations += checkClockOffsets()
        if let earlier = restart.earlier { violations = earlier.killedJobViolations() + violations + checkRestart() }
        var report = SimReport(seed: seed, mutation: mutation, scenario: restart.earlier?.scenario ?? scenario, ending: ending,
                               violations: violations, logged: allWriters.reduce(0) { $0 + $1.logged.count },
                               archived: archived.count, rounds: archive.rounds, steps: steps + (restart.earlier?.steps ?? 0))
        report.replays = reader.answers.values.filter(\.done).count
        (report.piecesByRMA, report.piecesLentApart) = (reader.piecesByRMA, reader.piecesLentApart)
        report.durableFlushes = clients.reduce(0) { $0 + $1.durableFlushes }
        report.restarts = clients.reduce(0) { $0 + $1.restarts }
        report.followPolls = follower.polls
        report.followed = follower.yielded.count
        report.collectives = scenario.groups > 1 ? graphers.collectives : 0
        report.handOffs = graphers.handOffs
        report.lastQueries = lastReader.answers.count
        report.lastDirect = lastReader.answers.filter { $0.path == .keepers }.count
        report.lastBelow = lastReader.answers.filter { $0.path == .belowKeepers }.count
        report.lastTimeouts = lastReader.directTimeouts
        report.lastStaleRoutes = lastReader.staleRoutes
        report.listings = curator.listings
        report.destroys = curator.destroys
        report.tightMemory = tightMemory
        report.late = counters.reduce(UInt64(0)) { $0 + ($1.counters[.eventsLate] ?? 0) }
        report.piecesStraight = Int(counters.reduce(UInt64(0)) { $0 + ($1.counters[.piecesStraight] ?? 0) })
        report.piecesLendRefused = Int(counters.reduce(UInt64(0)) { $0 + ($1.counters[.piecesLendRefused] ?? 0) })
        addRestart(to: &report)
        return report
    }

    /// The visor's archive catalog, as last written at the job's end: the chronicle, every
    /// writer's story, and each writer with the events it logged (its count from its last
    /// release); every client rank connected once; the visor refused no replay, abandoned no
    /// client and found no message unexpected, malformed or forged.
    func checkCatalog() -> [String] {
        var out: [String] = []
        guard let catalog = catalogStore.stored, let chronicle = catalog.chronicles[Self.chronicle] else {
            return ["catalog: the visor's catalog has no chronicle \(Self.chronicle)"]
        }
        for c in clients {
            // A story the curator destroyed keeps its writers' counts as the events it hides.
            let entry = chronicle.stories[c.storyName]
            let writer = (entry?.destroyed ?? false ? entry?.hidden : entry?.writers)?.first { $0.client == c.clientId.rawValue }
            if writer?.count != UInt64(c.logged.count) {
                out.append("catalog: client \(c.clientId) logged \(c.logged.count) event(s) to \(c.storyName), "
                           + "the catalog says \(writer.map { "\($0.count.map(String.init) ?? "unknown")" } ?? "nothing")")
            }
        }
        for counter in [Counter.messagesUnexpected, .messagesMalformed, .messagesForged, .clientsAbandoned] {
            if let n = visor.counters[counter], n > 0 { out.append("catalog: the visor counted \(n) \(counter)") }
        }
        // The visor refuses only replays of stories the curator destroyed.
        if let n = visor.counters[.replaysRefused], n > UInt64(refusedAsDestroyed) {
            out.append("catalog: the visor counted \(n) \(Counter.replaysRefused), \(refusedAsDestroyed) of destroyed stories")
        }
        let connects = visor.counters[.clientsConnects] ?? 0
        if connects != UInt64(clients.count + Self.otherClientRanks) {
            out.append("catalog: the visor counted \(connects) connect(s) of \(clients.count + Self.otherClientRanks) client ranks")
        }
        return out
    }

    private struct Key: Hashable {
        let story: String
        let client: UInt64
        let index: UInt32
    }

    /// Every acknowledged event archived exactly once, as logged (time and record), each archived
    /// chunk in event order; when the archive never failed, every event logged is archived.
    func checkArchivedExactlyOnceInOrder(_ archived: [ArchivedEvent]) -> [String] {
        var out: [String] = []
        var logged: [Key: Event] = [:]
        for c in allWriters { for e in c.logged { logged[Key(story: c.storyName, client: c.clientId.rawValue, index: e.index)] = e } }
        var seen: Set<Key> = []
        for e in archived {
            let key = Key(story: e.story, client: e.client, index: e.index)
            if !seen.insert(key).inserted {
                out.append("exactly once: \(e.story) client \(e.client) index \(e.index) archived twice")
                break
            }
            guard let l = logged[key] else {
                out.append("exactly once: \(e.story) client \(e.client) index \(e.index) archived but never logged")
                break
            }
            if l.time != e.time || l.record != e.record {
                out.append("as logged: \(e.story) client \(e.client) index \(e.index) archived with time \(e.time), logged \(l.time)")
                break
            }
        }
        for (story, chunk) in archive.chunks {
            let keys = chunk.records.map { ($0.time, $0.clientId, $0.index) }
            if zip(keys, keys.dropFirst()).contains(where: { $0 > $1 }) {
                out.append("in order: a chunk of \(story) archived out of event order")
                break
            }
        }
        // With a full disk, acknowledged events may be destroyed (``checkLost`` accounts for them);
        // without one every event logged and not rejected is archived.
        if archive.eventsInFailedRounds == 0 {
            for c in clients {
                let missing = c.logged.filter { !seen.contains(Key(story: c.storyName, client: c.clientId.rawValue, index: $0.index)) }
                guard let first = missing.first, UInt64(missing.count) > c.rejected else { continue }
                out.append("exactly once: \(missing.count) event(s) of client \(c.clientId) in \(c.storyName) never archived "
                           + "(first index \(first.index), acknowledged: \(c.acknowledged.contains(first.index)))")
            }
        }
        return out
    }

    /// The summary's `lost` equals what the fault destroyed: events logged and not in the archive
    /// (none without a fault).
    func checkLost(_ archived: [ArchivedEvent]) -> [String] {
        let summary = JobSummary(counters.map { RankCounters(role: $0.role, counters: $0.counters) })
        // This job's events (after a restart the archive holds the first job's too).
        let ids = Set(clients.map(\.clientId.rawValue))
        let distinct = Set(archived.filter { ids.contains($0.client) }.map { Key(story: $0.story, client: $0.client, index: $0.index) })
        let logged = clients.reduce(0) { $0 + $1.logged.count }
        let rejected = clients.reduce(0) { $0 + Int($1.rejected) }
        let destroyed = logged - rejected - distinct.count
        var out: [String] = []
        if Int(summary.lostEvents) != destroyed {
            out.append("lost: the summary says \(summary.lostEvents) lost, the archive misses \(destroyed) of \(logged) logged")
        }
        if destroyed != 0 && archive.eventsInFailedRounds == 0 {
            out.append("lost: \(destroyed) event(s) missing with no fault injected")
        }
        return out
    }

    /// Every replay answer equals the model of what was logged in its range: each event it holds was
    /// logged in the range (as logged), in event order, once; and it holds every event logged in
    /// the range before the answer's `completeBefore` that was logged before the query (unless a
    /// full disk destroyed events).
    func checkReplays() -> [String] {
        var out: [String] = []
        var logged: [Key: Event] = [:]
        for c in allWriters { for e in c.logged { logged[Key(story: c.storyName, client: c.clientId.rawValue, index: e.index)] = e } }
        for (id, a) in reader.answers.sorted(by: { $0.key < $1.key }) where a.done {
            guard a.rc == .success else {
                // A story the curator destroyed is refused (−3) from then on. After a restart an
                // answer may be partial or the story unknown: ``checkRestart()`` says when.
                let destroyed = a.rc == .notExist && curator.destroyAsked.contains(Self.chronicle + "/" + a.story)
                let restarted = restart.earlier != nil && (a.rc == .partialResult || a.rc == .notExist)
                if !destroyed && !restarted {
                    out.append("replay: query \(id) of \(a.story) answered \(a.rc)")
                }
                continue
            }
            let keys = a.events.map { ($0.time, $0.clientId.rawValue, $0.index) }
            if zip(keys, keys.dropFirst()).contains(where: { $0 >= $1 }) {
                out.append("replay: query \(id) of \(a.story) answered out of order or with a duplicate")
            }
            if let e = a.events.first(where: { !a.range.contains($0.time)
                || logged[Key(story: a.story, client: $0.clientId.rawValue, index: $0.index)] != $0 }) {
                out.append("replay: query \(id) of \(a.story) answered \(e.key), not logged in \(a.range)")
            }
            guard archive.eventsInFailedRounds == 0 else { continue }
            let answered = Set(a.events.map { Key(story: a.story, client: $0.clientId.rawValue, index: $0.index) })
            let complete = TimeRange(start: a.range.start, end: min(a.range.end, a.completeBefore))
            let missing = logged.filter {
                $0.key.story == a.story && Int($0.key.index) < a.loggedBefore[$0.key.client, default: 0]
                    && complete.contains($0.value.time) && !answered.contains($0.key)
            }
            if let first = missing.first {
                out.append("replay: query \(id) of \(a.story) misses \(missing.count) event(s) logged before its "
                           + "completeBefore (first \(first.value.key)) in \(a.range)")
            }
        }
        return out
    }

    /// Every keeper's memory within its bound: `keeper.memoryLimitBytes`, plus what its writers may
    /// have unacknowledged under flow control (a keeper over its bound withholds acknowledgements, but
    /// takes in what was already sent), plus its transfer slots; and, once the keeper gave a writer an
    /// acknowledgement back at its bound (`acks.releasedAtBound`, so that two writers of a story do
    /// not wait for each other for ever), that writer's window once more, as the keeper documents.
    func checkMemory() -> [String] {
        var out: [String] = []
        let writers = clients.reduce(0) { $0 + $1.pendingBytesBound }
        let window = clients.map(\.pendingBytesBound).max() ?? 0
        for p in processes where p.role == .keeper {
            let releasedAtBound = (p.loop.counters[.acksReleasedAtBound] ?? 0) > 0
            let bound = config.keeper.memoryLimitBytes + writers + config.keeperTransferSlots * config.transferSlotBytes
                + (releasedAtBound ? window : 0)
            let peak = Int(p.loop.counters[.memoryPeakBytes] ?? 0)
            if peak > bound { out.append("memory: keeper \(p.rank) peaked at \(peak) bytes, over its bound of \(bound)") }
        }
        return out
    }

    /// `follow` yields each completed event once, in order: what it yielded is in strictly
    /// increasing event order (so never twice), each event as logged in the story followed and not
    /// before the follow's start; and once it ended (the story no longer recorded), it yielded every
    /// event of the story from its start on that was logged before its last query was asked,
    /// unless events arrived late (a follow does not go back for them) or a full disk destroyed some.
    /// Lagging writer clocks are not excused: a keeper with no writer answers complete only up to
    /// what its clock sealed, so a writer acquiring next, its clock behind, finds its range open
    /// or counts late (docs/SIMULATOR.md, "Findings").
    func checkFollow() -> [String] {
        let f = follower!
        var out = f.failures
        let keys = f.yielded.map { ($0.time, $0.client, $0.index) }
        if let (a, b) = zip(keys, keys.dropFirst()).first(where: { $0 >= $1 }) {
            out.append("follow: \(f.story) yielded \(b.0)/\(b.1)/\(b.2) after \(a.0)/\(a.1)/\(a.2) (twice, or out of order)")
        }
        let writers = allWriters.filter { $0.storyName == f.story }
        var logged: [Key: Event] = [:]
        for c in writers { for e in c.logged { logged[Key(story: f.story, client: c.clientId.rawValue, index: e.index)] = e } }
        if let y = f.yielded.first(where: { y in
            y.time < f.start || logged[Key(story: f.story, client: y.client, index: y.index)].map { $0.time != y.time || $0.record != y.record } ?? true
        }) {
            out.append("follow: \(f.story) yielded \(y.time)/\(y.client)/\(y.index), not logged so from \(f.start) on")
        }
        let late = counters.reduce(UInt64(0)) { $0 + ($1.counters[.eventsLate] ?? 0) }
        guard f.finished, late == 0, archive.eventsInFailedRounds == 0 else { return out }
        let seen = Set(f.yielded.map { Key(story: f.story, client: $0.client, index: $0.index) })
        for c in writers where c.rejected == 0 {
            let before = c.logged.prefix(f.loggedBeforeLast[c.clientId.rawValue] ?? 0)
            let missing = before.filter { $0.time >= f.start && !seen.contains(Key(story: f.story, client: c.clientId.rawValue, index: $0.index)) }
            if let first = missing.first {
                out.append("follow: \(f.story) ended without \(missing.count) event(s) of client \(c.clientId) logged before its last query "
                           + "(first \(first.key)) after \(f.polls) queries")
            }
        }
        return out
    }

    /// Whether a writer's clock lags behind a recording process's (a keeper's, or the grapher's at skew 0).
    /// Whether a writer's clock lags a keeper's (or the grapher's, at skew 0) by
    /// `StoryPipeline.writerClockMargin` (10 ms) or more. The scenarios skew clocks by ±3 ms, so
    /// this never holds today.
    var writerClockLagsPastMargin: Bool {
        let ahead = max(0, scenario.keeperSkews.max() ?? 0)
        return scenario.clientSkews.contains { ahead - $0 >= Int64(StoryPipeline.writerClockMargin) }
    }

    /// No event is late unless a writer's clock lagged behind a recording process's by
    /// `StoryPipeline.writerClockMargin` or more: a writer registers a second behind its keeper's
    /// clock; a keeper's ranges seal only once its clock, less that margin, has passed them, however
    /// far ahead the other writers' watermarks are (their clocks ahead of the newcomer's); and its
    /// clock alone (a story with no writer, between a release and the next acquire) seals only what
    /// lies a second behind it.
    ///
    /// One exception, by design: a keeper whose every transfer slot holds a piece of a run of events
    /// with one time releases the watermark it holds back (`watermarks.released`), and the rest of
    /// that run reaches the grapher late, as a revision (`KeeperRole.mustReleaseWatermarks`). Only
    /// four slots of 2 KiB (a keeper bound below the configurable minimum) fill that way, so the
    /// grapher's late events are excused only when a keeper counted such a release; a keeper's own
    /// late events never are.
    func checkLate() -> [String] {
        guard !writerClockLagsPastMargin else { return [] }
        let released = counters.reduce(UInt64(0)) { $0 + ($1.counters[.watermarksReleased] ?? 0) }
        let late = counters.reduce(UInt64(0)) { $0 + ($1.role == .grapher && released > 0 ? 0 : $1.counters[.eventsLate] ?? 0) }
        guard late > 0 else { return [] }
        let where_ = counters.enumerated().compactMap { i, c in
            (c.counters[.eventsLate] ?? 0) > 0 ? "\(c.role) #\(i): \(c.counters[.eventsLate] ?? 0)" : nil
        }
        return ["late: \(late) event(s) late while no writer's clock lagged (\(where_.joined(separator: ", ")); "
                + "watermarks.released \(released), acks.releasedAtBound "
                + "\(counters.reduce(UInt64(0)) { $0 + ($1.counters[.acksReleasedAtBound] ?? 0) }))"]
    }
}
