import ChronoModel
import ChronoRuntime

/// A simulated client that destroys and lists, through the visor, while the writers log: a script
/// of requests, one at a time, each reply checked as it comes.
///
/// In a chronicle of its own it acquires a story, is refused destroying it and its chronicle while
/// it holds the story (−4, ChronoLog's `acquired`), releases it, destroys it (then −3 again), finds
/// its replay refused, and destroys the chronicle. In the writers' chronicle it holds a story of its
/// own while destroying the chronicle (−4: nothing may change), and, in half the seeds, once every
/// writer of one story (and a follow of it) is done, destroys that story (its events archived) and
/// finds its replay refused. It lists the chronicles and stories between the steps: each listing
/// must equal the model of what exists while it was asked and answered (``SimWorld/checkListing``).
final class SimCurator {
    /// The curator's own chronicle, and its story there.
    static let chronicle = "sim-doomed"
    static let story = "held"
    /// Its story in the writers' chronicle.
    static let ownStory = "curator"

    enum Action {
        case create(String)
        case acquire(String, String)
        case release(String, String)
        case destroyStory(String, String, expect: ReturnCode)
        case destroyChronicle(String, expect: ReturnCode)
        case listChronicles
        case listStories(String)
        /// Remembers the writers' chronicle's listing, which a refused destroy must not shrink.
        case rememberStories
        case replay(String, String, expect: ReturnCode)
        /// Waits until every writer of the story finished (and a follow of it ended), then destroys it.
        case destroyWhenDone(String)
    }

    let rank: Int
    private let channel: SimControlTransport
    let visor: SimVisorLink
    private unowned let world: SimWorld
    private var script: [Action]
    private var startAt: ContinuousClock.Instant
    /// The request under way, and what the model held when it was asked.
    private var asked: (action: Action, mustHave: Set<String>)?
    private var replayId: UInt64 = 0
    /// Violations found as replies came ("destroy: …", "listings: …").
    private(set) var violations: [String] = []
    /// Stories ("chronicle/story") and chronicles it asked to destroy, and those destroyed (answered success).
    private(set) var destroyAsked: Set<String> = []
    private(set) var destroyed: Set<String> = []
    /// The writers' story it destroys, if any.
    let doomed: String?
    /// Whether it asked to acquire its story in the writers' chronicle, and was answered (the
    /// story stays after its release).
    private var ownAsked = false
    private var ownAcquired = false
    private var remembered: Set<String> = []
    /// Listings answered, and destroys answered (refused or not).
    private(set) var listings = 0
    private(set) var destroys = 0
    /// The codes of the refusals it was answered (destroys and replays).
    private(set) var refusals: [ReturnCode] = []

    init(rank: Int, channel: SimControlTransport, world: SimWorld, rng: inout SplitMix64) {
        self.rank = rank
        self.channel = channel
        self.world = world
        visor = SimVisorLink(rank: rank, channel: channel, mode: .writerReader, clock: world.clock)
        startAt = world.clock.instant() + rng.microseconds(0, 80_000)
        let doomed = rng.chance(0.5) ? "story-\(Int.random(in: 0..<world.scenario.stories, using: &rng))" : nil
        // A job with a kill planned destroys no writers' story: the restart's invariants expect the
        // first job's archived events in the replays after it (drawn all the same, so that the seed's
        // other choices do not change).
        self.doomed = world.restart.plan == nil && world.restart.earlier == nil ? doomed : nil
        let (d, h, sim) = (Self.chronicle, Self.story, SimWorld.chronicle)
        script = [.create(sim), .create(d), .listChronicles, .acquire(d, h),
                  .destroyStory(d, h, expect: .acquired), .destroyChronicle(d, expect: .acquired),
                  .listStories(d), .listChronicles, .release(d, h),
                  .destroyStory(d, h, expect: .success), .destroyStory(d, h, expect: .notExist), .listStories(d),
                  .replay(d, h, expect: .notExist), .destroyChronicle(d, expect: .success), .destroyChronicle(d, expect: .notExist),
                  .listChronicles, .listStories(d),
                  .acquire(sim, Self.ownStory), .rememberStories, .destroyChronicle(sim, expect: .acquired), .listStories(sim),
                  .listChronicles, .release(sim, Self.ownStory)]
        if let doomed = self.doomed { script += [.destroyWhenDone(doomed), .listStories(sim), .replay(sim, doomed, expect: .notExist)] }
        script.append(.listStories(sim))
        // A job restarted after a kill finds the chronicles and stories as the killed job's curator
        // left them, part way through its script: it connects (and measures its clock) and asks nothing.
        if world.restart.earlier != nil { script = [] }
    }

    /// Whether its script ran to the end.
    var finished: Bool { script.isEmpty && asked == nil }

    func step() throws -> Bool {
        var (did, reply) = try visor.step()
        if let reply { try replied(reply) }
        while let (bytes, source) = try channel.poll(tag: .replay) {
            did = true
            guard case .replayPiece(let piece) = try ControlMessage.decode(bytes) else { continue }
            try world.acknowledge(piece, from: source, on: channel)
            guard piece.isLast, piece.queryId == replayId, let (action, _) = asked, case .replay(let c, let s, let expect) = action else { continue }
            asked = nil
            check("destroy", "a replay of \(c)/\(s)", piece.rc, expect)
            if piece.rc != .success { refusals.append(piece.rc) }
        }
        guard visor.ready, asked == nil, world.clock.instant() >= startAt else { return did }
        guard let action = script.first else {
            try visor.close()
            return true
        }
        if case .destroyWhenDone(let s) = action {
            let writers = world.clients.filter { $0.storyName == s }
            guard writers.allSatisfy(\.finished), world.follower.story != s || world.follower.finished else { return did }
        }
        script.removeFirst()
        try ask(action)
        return true
    }

    /// The stories of the writers' chronicle that exist for sure now: acquired by a writer (or by
    /// the curator), not asked to be destroyed.
    private var storiesSure: Set<String> {
        var names = Set(world.clients.filter(\.acquiredOnce).map(\.storyName)).union(remembered)
        if ownAcquired { names.insert(Self.ownStory) }
        return names.subtracting(Self.writersStories(destroyAsked))
    }

    /// The stories of the writers' chronicle that may exist now: a writer asked to acquire them
    /// (or the curator did), and they were not destroyed before.
    private var storiesPossible: Set<String> {
        var names = Set(world.clients.filter { $0.acquiredOnce || ![.connecting, .creating].contains($0.phase) }.map(\.storyName))
        if ownAsked { names.insert(Self.ownStory) }
        return names
    }

    private func ask(_ action: Action) throws {
        var must: Set<String> = []
        let id = visor.clientId
        switch action {
        case .create(let c):
            try visor.request(.createChronicle(CreateChronicleRequest(clientId: id, chronicle: c)))
        case .acquire(let c, let s):
            if c == SimWorld.chronicle { ownAsked = true }
            try visor.request(.acquireStory(StoryRequest(clientId: id, chronicle: c, story: s)))
        case .release(let c, let s):
            try visor.request(.releaseStory(StoryRequest(clientId: id, chronicle: c, story: s, eventCount: 0)))
        case .destroyStory(let c, let s, _):
            try destroy(c, s)
        case .destroyWhenDone(let s):
            try destroy(SimWorld.chronicle, s)
        case .destroyChronicle(let c, _):
            destroyAsked.insert(c)
            try visor.request(.destroyChronicle(ChronicleRequest(clientId: id, chronicle: c)))
        case .listChronicles:
            must = destroyed.contains(Self.chronicle) ? [SimWorld.chronicle] : [SimWorld.chronicle, Self.chronicle]
            try visor.request(.showChronicles(clientId: id))
        case .listStories(let c):
            must = c == SimWorld.chronicle ? storiesSure : []
            try visor.request(.showStories(ChronicleRequest(clientId: id, chronicle: c)))
        case .rememberStories:
            must = storiesSure
            try visor.request(.showStories(ChronicleRequest(clientId: id, chronicle: SimWorld.chronicle)))
        case .replay(let c, let s, _):
            replayId += 1
            try visor.post(.replayRequest(ReplayRequest(queryId: replayId, clientId: id, chronicle: c, story: s,
                                                        range: TimeRange(start: 0, end: .max), timeoutMilliseconds: 60_000,
                                                        clientRank: Int32(rank))))
        }
        asked = (action, must)
    }

    private func destroy(_ chronicle: String, _ story: String) throws {
        destroyAsked.insert(chronicle + "/" + story)
        try visor.request(.destroyStory(StoryRequest(clientId: visor.clientId, chronicle: chronicle, story: story)))
    }

    /// The visor's reply to the request under way.
    private func replied(_ message: ControlMessage) throws {
        guard let (action, must) = asked else { throw SimClientError("curator: unexpected \(message.type) from the visor") }
        asked = nil
        switch (action, message) {
        case (.create(let c), .reply(let r)):
            // The writers create the writers' chronicle too; the curator's own is new.
            check("destroy", "creating \(c)", r.rc, c == SimWorld.chronicle && r.rc == .chronicleExists ? .chronicleExists : .success)
        case (.acquire(let c, let s), .acquireReply(let r)):
            check("destroy", "acquiring \(c)/\(s)", r.rc, .success)
            if c == SimWorld.chronicle && r.rc == .success { ownAcquired = true }
        case (.release(let c, let s), .reply(let r)):
            check("destroy", "releasing \(c)/\(s)", r.rc, .success)
        case (.destroyStory(let c, let s, let expect), .reply(let r)):
            destroyAnswered(c + "/" + s, r.rc, expect)
        case (.destroyWhenDone(let s), .reply(let r)):
            destroyAnswered(SimWorld.chronicle + "/" + s, r.rc, .success)
        case (.destroyChronicle(let c, let expect), .reply(let r)):
            destroyAnswered(c, r.rc, expect)
        case (.listChronicles, .nameList(let r)):
            listings += 1
            let possible: Set<String> = destroyed.contains(Self.chronicle) ? [SimWorld.chronicle] : [SimWorld.chronicle, Self.chronicle]
            checkListing("the chronicles", r, must: must, possible: possible)
        case (.listStories(let c), .nameList(let r)) where c == Self.chronicle:
            listings += 1
            // Only the curator touches its chronicle: the model is exact.
            if destroyed.contains(c) {
                check("listings", "the stories of the destroyed \(c)", r.rc, .notExist)
            } else {
                let held: Set<String> = destroyed.contains(c + "/" + Self.story) ? [] : [Self.story]
                checkListing("the stories of \(c)", r, must: held, possible: held)
            }
        case (.listStories(let c), .nameList(let r)):
            listings += 1
            checkListing("the stories of \(c)", r, must: must, possible: storiesPossible.subtracting(destroyedStories))
        case (.rememberStories, .nameList(let r)):
            listings += 1
            checkListing("the stories of \(SimWorld.chronicle)", r, must: must, possible: storiesPossible.subtracting(destroyedStories))
            remembered = Set(r.names)
        default:
            throw SimClientError("curator: \(message.type) from the visor in answer to \(action)")
        }
    }

    /// The writers' stories destroyed (answered success).
    private var destroyedStories: Set<String> { Self.writersStories(destroyed) }

    /// The story names of the writers' chronicle among `names` ("chronicle/story" or "chronicle").
    private static func writersStories(_ names: Set<String>) -> Set<String> {
        Set(names.compactMap { $0.hasPrefix(SimWorld.chronicle + "/") ? String($0.dropFirst(SimWorld.chronicle.count + 1)) : nil })
    }

    private func destroyAnswered(_ what: String, _ rc: ReturnCode, _ expect: ReturnCode) {
        destroys += 1
        if rc == .success { destroyed.insert(what) } else { refusals.append(rc) }
        check("destroy", "destroying \(what)", rc, expect)
    }

    private func check(_ invariant: String, _ what: String, _ rc: ReturnCode, _ expect: ReturnCode) {
        if rc != expect { violations.append("\(invariant): \(what) answered \(rc), expected \(expect)") }
    }

    /// A listing holds every name of `must` (there when asked), and nothing outside `possible` (what
    /// may have been there when answered).
    private func checkListing(_ what: String, _ r: NameListReply, must: Set<String>, possible: Set<String>) {
        guard r.rc == .success else { return violations.append("listings: \(what) answered \(r.rc)") }
        let names = Set(r.names)
        if names.count != r.names.count || r.names != r.names.sorted() {
            violations.append("listings: \(what) listed \(r.names): not sorted, or a name twice")
        }
        if !must.isSubset(of: names) {
            violations.append("listings: \(what) listed \(r.names.sorted()) without \(must.subtracting(names).sorted())")
        }
        if !names.isSubset(of: possible.union(must)) {
            violations.append("listings: \(what) listed \(names.subtracting(possible.union(must)).sorted()), "
                              + "which do not exist (\(r.names.sorted()))")
        }
    }
}
