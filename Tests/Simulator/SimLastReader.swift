import ChronoModel
import ChronoRuntime

/// A simulated reader of "last N" queries (`ChronoLogClient.replayLast`), its blocking steps run
/// one at a time on the simulated clock, as ``SimFollower`` runs `follow`:
///
/// 1. the story's read route, from the client's cache or asked of the visor
///    (``ControlMessage/readRoute(_:)``: the keepers once they took the visor's ``ReadGrant``, or
///    none: through the player);
/// 2. along a route to keepers, the query straight to each of them (`DirectLastQuery`), their
///    pieces gathered into the real ``KeeperLastAnswers`` for half the query's timeout: their last
///    N complete events are the answer; a refusal (the grant is gone: the story stopped, so the
///    route is stale after a re-acquire) or no answer in time forgets the route and sends the query
///    through the player; fewer than N from where they cover every event, while recorded, sends
///    the part below through the player (`belowKeepers`) and puts the keepers' part after it;
/// 3. through the visor to the player; an answer saying the story is recorded again forgets a
///    route to the player.
///
/// Each answer is kept, with what the writers had logged when it was asked, to compare with them.
final class SimLastReader {
    /// How an answer was served.
    enum Path: String { case keepers, belowKeepers, player }

    struct Answer {
        let story: String
        let count: Int
        let range: TimeRange
        /// How many events each writer (by client id) had logged when the query was asked.
        let loggedBefore: [UInt64: Int]
        var events: [Event] = []
        var rc: ReturnCode = .success
        var completeBefore: UInt64 = 0
        var recording = false
        var path = Path.player
    }

    /// Where "last N" queries of a story go (the client's `ReadRoute`).
    enum Route: Equatable {
        case keepers([Int32])
        case player
    }

    /// The query under way, at the step it waits in.
    private enum Stage {
        /// Waiting for the visor's route.
        case route(Answer)
        /// Asked the keepers `id`; waiting for those pending until `deadline`.
        case direct(Answer, id: UInt64, pending: Set<Int>, answers: KeeperLastAnswers, refusal: ReturnCode?,
                    deadline: ContinuousClock.Instant)
        /// Asked the player (through the visor) `id`; its pieces so far; the keepers' part to
        /// deliver after them (a query of the part below the keepers').
        case player(Answer, id: UInt64, pieces: [StoryChunk], memory: StoryChunk?, completeBefore: UInt64)
    }

    let rank: Int
    private let channel: SimControlTransport
    let visor: SimVisorLink
    private unowned let world: SimWorld
    /// Queries it will ask in all, and the query timeout (ms) it gives them.
    let queries: Int
    let timeoutMs: UInt64
    private var nextQueryAt: ContinuousClock.Instant
    private var nextQueryId: UInt64 = 1
    private var stage: Stage?
    /// The cached routes, by story.
    private(set) var routes: [String: Route] = [:]
    /// Answers, in order.
    private(set) var answers: [Answer] = []
    /// Route requests, direct queries that timed out, and refusals of stale routes.
    private(set) var routeRequests = 0
    private(set) var directTimeouts = 0
    private(set) var staleRoutes = 0

    init(rank: Int, channel: SimControlTransport, world: SimWorld, rng: inout SplitMix64) {
        self.rank = rank
        self.channel = channel
        self.world = world
        visor = SimVisorLink(rank: rank, channel: channel, mode: .writerReader, clock: world.clock)
        queries = Int.random(in: 0...8, using: &rng)
        // Keepers asked directly get half: 10 ms (messages take up to 10 ms each way, a keeper may
        // stall) or 100 ms (a keeper that leaves the query unanswered holds the reader up that long).
        timeoutMs = rng.pick([20, 200])
        nextQueryAt = world.clock.instant() + rng.microseconds(1_000, 100_000)
    }

    /// Whether every query it meant to ask was answered.
    var finished: Bool { answers.count == queries && stage == nil }

    /// One turn: take the visor's reply and the pieces, give up on slow keepers, ask when due.
    /// - Returns: whether anything happened.
    func step() throws -> Bool {
        var (did, reply) = try visor.step()
        if let reply { try routed(reply) }
        while let (bytes, source) = try channel.poll(tag: .replay) {
            did = true
            guard case .replayPiece(let piece) = try ControlMessage.decode(bytes) else { continue }
            try world.acknowledge(piece, from: source, on: channel)
            try take(piece, from: source)
        }
        if case .direct(let a, let id, _, _, _, let deadline) = stage, world.clock.instant() >= deadline {
            // The keepers did not all answer within half the timeout: the route may be stale too.
            directTimeouts += 1
            routes[a.story] = nil
            try askPlayer(a, id: id)
            did = true
        }
        if finished && visor.ready {
            try visor.close()
            return true
        }
        guard visor.ready, stage == nil, answers.count < queries, world.clock.instant() >= nextQueryAt,
              let writer = world.clients.filter(\.acquiredOnce).randomElement(using: &world.rng) else { return did }
        let now = world.clock.now()
        let range = world.rng.chance(0.6) ? TimeRange(start: 0, end: .max)
            : TimeRange(start: now - UInt64.random(in: 0...100_000_000, using: &world.rng),
                        end: now &+ UInt64.random(in: 0...20_000_000, using: &world.rng))
        var logged: [UInt64: Int] = [:]
        for c in world.clients { logged[c.clientId.rawValue] = c.logged.count }
        let answer = Answer(story: writer.storyName, count: world.rng.pick([1, 3, 20, 200, 5000]), range: range, loggedBefore: logged)
        nextQueryAt = world.clock.instant() + world.rng.microseconds(1_000, 60_000)
        if let route = routes[answer.story] {
            try follow(route, answer)
        } else {
            routeRequests += 1
            stage = .route(answer)
            try visor.request(.readRoute(StoryRequest(clientId: visor.clientId, chronicle: SimWorld.chronicle, story: answer.story)))
        }
        return true
    }

    /// The visor's answer to a route request.
    private func routed(_ message: ControlMessage) throws {
        guard case .route(var a) = stage, case .acquireReply(let r) = message else {
            throw SimClientError("last reader: unexpected \(message.type) from the visor")
        }
        guard r.rc == .success else {
            // The real client throws the visor's refusal (a destroyed story: it is not there).
            a.rc = r.rc
            finish(a)
            return
        }
        let route = r.keeperRanks.isEmpty ? Route.player : .keepers(r.keeperRanks)
        routes[a.story] = route
        try follow(route, a)
    }

    private func follow(_ route: Route, _ a: Answer) throws {
        let id = nextQueryId
        nextQueryId += 1
        guard case .keepers(let keepers) = route else { return try askPlayer(a, id: id) }
        let request = self.request(a, id: id)
        for k in keepers { try channel.post(ControlMessage.replayRequest(request).encode(), to: Int(k), tag: .replay) }
        // `ChronoLogClient.directWait`: half the timeout.
        let deadline = world.clock.instant() + .milliseconds(Int64(max(1, timeoutMs / 2)))
        stage = .direct(a, id: id, pending: Set(keepers.map { Int($0) }), answers: KeeperLastAnswers(), refusal: nil, deadline: deadline)
    }

    private func request(_ a: Answer, id: UInt64) -> ReplayRequest {
        ReplayRequest(queryId: id, clientId: visor.clientId, chronicle: SimWorld.chronicle, story: a.story, range: a.range,
                      timeoutMilliseconds: timeoutMs, clientRank: Int32(rank), lastCount: UInt32(a.count))
    }

    private func askPlayer(_ a: Answer, id: UInt64, below: ReplayRequest? = nil, memory: StoryChunk? = nil,
                           completeBefore: UInt64 = 0) throws {
        // A fresh id: pieces of a direct query given up on must not count.
        let pid = nextQueryId
        nextQueryId += 1
        var r = below ?? request(a, id: pid)
        r.queryId = pid
        stage = .player(a, id: pid, pieces: [], memory: memory, completeBefore: completeBefore)
        try visor.post(.replayRequest(r))
    }

    private func take(_ piece: ReplayPiece, from source: Int) throws {
        switch stage {
        case .direct(var a, let id, var pending, var answers, var refusal, let deadline)
            where piece.queryId == id && pending.contains(source):
            if piece.rc != .success {
                refusal = refusal ?? piece.rc
                pending.remove(source)
            } else {
                answers.add(piece)
                if piece.isLast { pending.remove(source) }
            }
            guard pending.isEmpty else {
                stage = .direct(a, id: id, pending: pending, answers: answers, refusal: refusal, deadline: deadline)
                return
            }
            let request = self.request(a, id: id)
            if refusal != nil {
                // No grant (the story stopped or moved since the route was given): stale.
                staleRoutes += 1
                routes[a.story] = nil
                return try askPlayer(a, id: id)
            }
            if answers.recording, let chunk = try answers.answer(for: request) {
                a.events = chunk.events
                a.completeBefore = answers.completeBefore
                a.recording = true
                a.path = .keepers
                return finish(a)
            }
            guard answers.recording else { return try askPlayer(a, id: id) }
            // `lastBelowKeepers`: the player reads the last N − M before where the keepers cover every event.
            let (memory, below) = try answers.below(request)
            a.path = .belowKeepers
            if below.range.isEmpty || below.lastCount == 0 {
                a.events = memory.events
                a.completeBefore = answers.completeBefore
                a.recording = true
                return finish(a)
            }
            try askPlayer(a, id: id, below: below, memory: memory, completeBefore: answers.completeBefore)
        case .player(var a, let id, var pieces, let memory, let completeBefore) where piece.queryId == id:
            if let chunk = piece.chunk { pieces.append(chunk) }
            guard piece.isLast else {
                stage = .player(a, id: id, pieces: pieces, memory: memory, completeBefore: completeBefore)
                return
            }
            a.rc = piece.rc
            a.events = pieces.flatMap(\.events) + (memory?.events ?? [])
            if a.path == .belowKeepers {
                a.completeBefore = completeBefore
                a.recording = true
            } else {
                a.completeBefore = piece.completeBefore
                a.recording = piece.recording
                // Recorded again: the visor gives a new route next time.
                if piece.rc == .success, piece.recording, routes[a.story] == .player { routes[a.story] = nil }
            }
            finish(a)
        default:
            break  // a piece of a query given up on
        }
    }

    private func finish(_ a: Answer) {
        answers.append(a)
        stage = nil
    }
}
