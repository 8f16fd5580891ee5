import ChronoModel

extension ChronoLogClient {
    /// The last `count` events of a story (ChronoLog 3.1's "last N"), in event order, served from
    /// the keepers' memory where they still hold them and from the archive for the rest — never by
    /// sending the client the whole story.
    ///
    /// The events are the last of [`start`, `end`); while the story is recorded, of the part that is
    /// complete (before the answer's ``ReplayOutcome/completeBefore``: no event can still arrive
    /// there), so a caller following the story goes on from `completeBefore` and sees every event
    /// once. A story no longer recorded is final: its last events.
    /// - Parameters:
    ///   - count: how many events, 0 … `UInt32.max` (0 answers `[]` at once).
    ///   - timeoutMs: how long the player may take (default `timeouts.replayQueryMs`); the visor's
    ///     answer to a route request is awaited as long (plus ``ReplayQuery/grace``; at least
    ///     `timeouts.connectMs`). Keepers asked directly get half of it: past that the query goes
    ///     through the player (and the route is asked again next time).
    /// - Returns: at most `count` events.
    /// - Throws: as ``replayStory(_:_:from:to:timeoutMs:)``; `.invalidArgument` (−2) for a count out of range.
    public func replayLast(_ chronicle: String, _ story: String, count: Int, from start: UInt64 = 0, to end: UInt64 = .max,
                           timeoutMs: Int? = nil) throws(ChronoLogError) -> [Event] {
        var events: [Event] = []
        _ = try replayLast(chronicle, story, count: count, from: start, to: end, timeoutMs: timeoutMs) { (chunk: StoryChunk) throws(ChronoLogError) in
            events.reserveCapacity(events.count + chunk.count)
            for i in 0..<chunk.count { events.append(chunk.event(at: i)) }
        }
        return events
    }

    /// ``replayLast(_:_:count:from:to:timeoutMs:)`` delivering the answer piece by piece to `body`.
    /// - Returns: up to when the answer is complete, and whether the story is still recorded.
    @discardableResult
    public func replayLast(_ chronicle: String, _ story: String, count: Int, from start: UInt64 = 0, to end: UInt64 = .max,
                           timeoutMs: Int? = nil, pieces body: (StoryChunk) throws(ChronoLogError) -> Void) throws(ChronoLogError) -> ReplayOutcome {
        let id = try requireConnection()
        guard mode == .writerReader else { throw .notReaderMode }
        _ = try ChronicleName(chronicle)
        _ = try StoryName(story)
        guard count >= 0, count <= Int(UInt32.max) else { throw .invalidArgument("count \(count) is not in 0 … \(UInt32.max)") }
        let range = TimeRange(start: start, end: end)
        if range.isEmpty || count == 0 { return ReplayOutcome(completeBefore: start, isRecording: false) }
        let timeout = UInt64(max(1, timeoutMs ?? session.config.timeouts.replayQueryMs))
        let request = ReplayRequest(queryId: 0, clientId: id, chronicle: chronicle, story: story, range: range,
                                    timeoutMilliseconds: timeout, lastCount: UInt32(count))
        let key = StoryKey(chronicle: chronicle, story: story)
        switch try lastFromKeepers(request, key: key) {
        case .answered(let chunk, let outcome):
            session.lastStats.answeredDirectly()
            if !chunk.isEmpty { try body(chunk) }
            return outcome
        case .partly(let answers):
            session.lastStats.sentToPlayer()
            session.lastStats.readBelowKeepers()
            return try lastBelowKeepers(request, answers, body)
        case .player:
            break
        }
        session.lastStats.sentToPlayer()
        let outcome = try ReplayQuery(session: session, request: request).run(body)
        // Recorded again (by whichever group): the visor gives a new route next time.
        if outcome.isRecording, readRoute(key) == .player { setReadRoute(nil, for: key) }
        return outcome
    }

    /// What the keepers recording a story said to a "last N" query sent to them directly.
    private enum DirectLast {
        /// They held the last N complete events: the answer.
        case answered(StoryChunk, ReplayOutcome)
        /// They record the story but hold fewer than N complete events from where their answers
        /// cover every event: the player reads the part below.
        case partly(KeeperLastAnswers)
        /// The whole query goes through the player: the story is not recorded, or the route was stale
        /// (forgotten, asked again next time), or the keepers did not answer in time.
        case player
    }

    /// Asks the keepers recording the story directly, along the cached read route (asked of the
    /// visor first, which checks `access.read` and grants this client direct reads).
    /// - Throws: the visor's refusal (`.notAuthorized` −9, `.notReaderMode` −11, …), or what the query throws.
    private func lastFromKeepers(_ request: ReplayRequest, key: StoryKey) throws(ChronoLogError) -> DirectLast {
        let route: ReadRoute
        if let known = readRoute(key) {
            route = known
        } else {
            route = try askReadRoute(request)
            setReadRoute(route, for: key)
        }
        guard case .keepers(let keepers) = route else { return .player }
        let wait = Self.directWait(timeoutMs: request.timeoutMilliseconds)
        switch try DirectLastQuery(session: session, request: request, keepers: keepers, wait: wait).run() {
        case .answer(let chunk, let outcome): return .answered(chunk, outcome)
        case .notHeld(let answers): return answers.recording ? .partly(answers) : .player
        case .refused:
            setReadRoute(nil, for: key)
            return .player
        case .timedOut:
            session.lastStats.directTimedOut()
            setReadRoute(nil, for: key)
            return .player
        }
    }

    /// Completes a "last N" query the keepers answered in part (M < N events from C, where their
    /// answers cover every event, up to their `completeBefore`): the player reads the last N − M
    /// events before C — the keepers' events there, then the archive, without asking the keepers
    /// for their last N again — and delivers them before the keepers' M.
    /// - Throws: what ``ReplayQuery/run(_:)`` or `body` throws; `.malformedMessage` when the
    ///   keepers' answers do not merge.
    private func lastBelowKeepers(_ request: ReplayRequest, _ answers: KeeperLastAnswers,
                                  _ body: (StoryChunk) throws(ChronoLogError) -> Void) throws(ChronoLogError) -> ReplayOutcome {
        let (memory, below) = try answers.below(request)
        var partial: String?
        if !below.range.isEmpty && below.lastCount > 0 {
            partial = try ReplayQuery(session: session, request: below).run(body).partial
        }
        if !memory.isEmpty { try body(memory) }
        return ReplayOutcome(completeBefore: answers.completeBefore, isRecording: true, partial: partial)
    }

    /// How long a "last N" query waits for the keepers asked directly: half its timeout (they
    /// answer from memory), leaving the player's path its whole timeout after that.
    static func directWait(timeoutMs: UInt64) -> Duration {
        .milliseconds(Int64(clamping: max(1, timeoutMs / 2)))
    }

    /// Sends a "last N" query straight to `keepers` without asking the visor for a route, in the
    /// name of `client` (this client by default), as any rank of the job can: tests use it to check
    /// that keepers answer only readers the visor granted.
    /// - Returns: the keepers' answer; nil when their memory does not hold the last `count` events.
    /// - Throws: the keepers' refusal (`.notAuthorized`, −9), or what a query throws.
    @_spi(IngestTesting)
    public func replayLastUnrouted(_ chronicle: String, _ story: String, count: Int, keepers: [Int32],
                                   as client: ClientID? = nil) throws(ChronoLogError) -> [Event]? {
        let own = try requireConnection()
        let request = ReplayRequest(queryId: 0, clientId: client ?? own, chronicle: chronicle, story: story, range: TimeRange(start: 0, end: .max),
                                    timeoutMilliseconds: UInt64(session.config.timeouts.replayQueryMs), lastCount: UInt32(count))
        let wait = Self.directWait(timeoutMs: request.timeoutMilliseconds)
        switch try DirectLastQuery(session: session, request: request, keepers: keepers, wait: wait).run() {
        case .answer(let chunk, _): return (0..<chunk.count).map { chunk.event(at: $0) }
        case .notHeld: return nil
        case .refused(let rc, let detail): throw ChronoLogError(code: rc, detail: detail) ?? .unknown(detail)
        case .timedOut: throw .queryTimedOut(queryId: 0)
        }
    }

    /// Asks the visor where to send "last N" queries of the request's story, waiting as long as a
    /// replay query waits for its answer (the query's timeout plus ``ReplayQuery/grace``), and at
    /// least `timeouts.connectMs` as any request to the visor: the visor answers once the story's
    /// keepers took the grant, and an answer arriving after the client gave up would be taken by the
    /// session's next request.
    /// - Throws: the visor's refusal: `.notAuthorized` (−9), `.notReaderMode` (−11), `.invalidArgument` (−2), …;
    ///   `.noConnection` (−8) when it does not answer in time.
    private func askReadRoute(_ request: ReplayRequest) throws(ChronoLogError) -> ReadRoute {
        session.lastStats.askedRoute()
        let ask = StoryRequest(clientId: request.clientId, chronicle: request.chronicle, story: request.story)
        let query = Int(clamping: request.timeoutMilliseconds) &+ Int(ReplayQuery.grace.components.seconds * 1000)
        let answer = try session.call(.readRoute(ask), timeoutMs: max(query, session.config.timeouts.connectMs))
        guard case .acquireReply(let reply) = answer else { throw .unknown("unexpected answer from the visor: \(answer.type)") }
        if let error = ChronoLogError(code: reply.rc, detail: reply.detail) { throw error }
        return reply.keeperRanks.isEmpty ? .player : .keepers(reply.keeperRanks)
    }
}
