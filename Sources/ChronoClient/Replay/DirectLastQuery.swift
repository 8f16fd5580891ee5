import ChronoSystem
import ChronoModel

/// A "last N" query sent straight to the keepers of the group recording a story, which the visor
/// told that this client may read it (``ReadGrant``): one message to each keeper and its answer
/// back, instead of visor, player and keepers in turn. Blocking, like ``ReplayQuery``.
struct DirectLastQuery {
    let session: ChronoSession
    /// The query (``ReplayRequest/lastCount`` > 0).
    let request: ReplayRequest
    let keepers: [Int32]
    /// How long to wait for every keeper's answer before giving up on the direct path.
    let wait: Duration

    enum Outcome {
        /// The keepers' memory held the last N complete events.
        case answer(StoryChunk, ReplayOutcome)
        /// It did not (or the story is no longer recorded): the player must read the rest. Their answers.
        case notHeld(KeeperLastAnswers)
        /// A keeper refused (no grant: the story stopped, moved to another group, or the grant was
        /// never given) or failed: the route is stale; the visor decides. The first refusal's code and detail.
        case refused(ReturnCode, String)
        /// A keeper did not answer within ``wait`` (busy, or gone): the route may be stale too.
        case timedOut
    }

    /// Sends the query to every keeper and gathers their answers (answers arriving after ``wait``
    /// are dropped: the query is closed).
    /// - Throws: `.noConnection` when the channel fails, `.malformedMessage` for answers that do not merge.
    func run() throws(ChronoLogError) -> Outcome {
        let inbox = session.replayInbox
        var request = self.request
        request.queryId = inbox.open()
        request.clientRank = Int32(session.layout.worldRank)
        defer { inbox.close(request.queryId) }
        let bytes = ControlMessage.replayRequest(request).encode()
        try session.withChannel { channel in
            for keeper in keepers { try channel.post(bytes, to: Int(keeper), tag: .replay) }
        }
        let deadline = ContinuousClock.now + wait
        var backoff = IdleBackoff.replyWait
        var pending = Set(keepers.map { Int($0) })
        var answers = KeeperLastAnswers()
        var refusal: (ReturnCode, String)?
        while !pending.isEmpty {
            guard let delivery = inbox.take(request.queryId) else {
                let progressed = try session.receiveReplayPieces()
                if ContinuousClock.now >= deadline { return .timedOut }
                backoff.step(didWork: progressed)
                continue
            }
            guard pending.contains(delivery.source) else { continue }
            let piece = delivery.piece
            if piece.rc != .success {
                refusal = refusal ?? (piece.rc, piece.detail)
                pending.remove(delivery.source)
                continue
            }
            answers.add(piece)
            if piece.isLast { pending.remove(delivery.source) }
        }
        if let (rc, detail) = refusal { return .refused(rc, detail) }
        guard answers.recording, let chunk = try answers.answer(for: request) else { return .notHeld(answers) }
        return .answer(chunk, ReplayOutcome(completeBefore: answers.completeBefore, isRecording: true))
    }
}
