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
        let query = ReplayQuery(session: session, request: ReplayRequest(
            queryId: 0, clientId: id, chronicle: chronicle, story: story, range: range, timeoutMilliseconds: timeout,
            lastCount: UInt32(count)))
        return try query.run(body)
    }
}
