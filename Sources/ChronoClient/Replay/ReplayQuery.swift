import ChronoSystem
import ChronoModel
import Fabric

/// One `ReplayStory` query of a client: sent to the visor (which forwards it to the player of the
/// story's group), answered in pieces on the `.replay` tag, each acknowledged once read (before the
/// caller's body runs) so the player reuses its slot and sends the next. Blocking: runs on the
/// caller's thread, backing off while it waits, never in Swift's cooperative pool (the async forms
/// run it on a thread of their own).
struct ReplayQuery {
    let session: ChronoSession
    let request: ReplayRequest
    /// How long the client waits beyond the player's own deadline before giving up itself.
    static let grace: Duration = .seconds(2)

    /// Runs the query, handing each piece's events to `body` in event order.
    /// - Throws: the player's or visor's error (`.notExist`, `.noPlayers`, `.queryTimedOut`, …),
    ///   `.queryTimedOut` when no answer came within the timeout plus ``grace``, `.noConnection`
    ///   when the channel fails, or what `body` throws (the query is then cancelled at the player).
    func run(_ body: (StoryChunk) throws(ChronoLogError) -> Void) throws(ChronoLogError) -> ReplayOutcome {
        let inbox = session.replayInbox
        var request = self.request
        request.readerAddress = try session.replayReader.address()
        request.queryId = inbox.open()
        defer { inbox.close(request.queryId) }
        let visor = session.visorRank
        try session.withChannel { channel in try channel.post(ControlMessage.replayRequest(request).encode(), to: visor, tag: .service) }
        let deadline = ContinuousClock.now + .milliseconds(Int64(clamping: request.timeoutMilliseconds)) + Self.grace
        var backoff = IdleBackoff.replyWait
        var player: Int?
        var expected: UInt32 = 0
        // Large pieces are decoded into this chunk's storage, reused when `body` did not keep it.
        var received = StoryChunk.empty(storyId: StoryID(rawValue: 0), range: request.range)
        do throws(ChronoLogError) {
            while true {
                guard let delivery = inbox.take(request.queryId) else {
                    let progressed = try session.receiveReplayPieces()
                    if ContinuousClock.now >= deadline {
                        throw .queryTimedOut(queryId: request.queryId)
                    }
                    backoff.step(didWork: progressed)
                    continue
                }
                let piece = delivery.piece
                if piece.rc != .partialResult, let error = ChronoLogError(code: piece.rc, detail: piece.detail) {
                    if case .queryTimedOut = error { throw .queryTimedOut(queryId: request.queryId) }
                    throw error
                }
                guard piece.pieceNumber == expected else {
                    throw .malformedMessage(.inconsistent("replay piece \(piece.pieceNumber) arrived, expected \(expected)"))
                }
                expected += 1
                player = delivery.source
                if let remote = piece.remote {
                    try session.replayReader.read(remote, from: delivery.source, into: &received)
                    guard received.count == Int(remote.eventCount) else {
                        throw .malformedMessage(.inconsistent("replay piece holds \(received.count) events, announced \(remote.eventCount)"))
                    }
                }
                if !piece.isLast {
                    // Acknowledged once read, before the caller sees it: the player reuses the slot
                    // and prepares the next pieces while the caller works.
                    let ack = ReplayAck(queryId: request.queryId, pieceNumber: piece.pieceNumber)
                    try session.withChannel { channel in try channel.post(ControlMessage.replayAck(ack).encode(), to: delivery.source, tag: .replay) }
                }
                if piece.remote != nil {
                    if !received.isEmpty { try body(received) }
                } else if let chunk = piece.chunk, !chunk.isEmpty {
                    try body(chunk)
                }
                if piece.isLast {
                    return ReplayOutcome(completeBefore: piece.completeBefore, isRecording: piece.recording,
                                         partial: piece.rc == .partialResult ? piece.detail : nil)
                }
            }
        } catch {
            // Tell the player to drop the query (it may still be sending pieces).
            if let player {
                let cancel = ReplayAck(queryId: request.queryId, pieceNumber: expected, cancel: true)
                try? session.withChannel { channel in try channel.post(ControlMessage.replayAck(cancel).encode(), to: player, tag: .replay) }
            }
            throw error
        }
    }
}
