import ChronoModel
import ChronoRuntime

/// A simulated reader that follows one story, as `ChronoLogClient.follow` does: it asks the player
/// (through the visor) for `[cursor, ∞)`, takes every piece, then yields the answer's events below
/// its `completeBefore` (all of them once the story is no longer recorded, and then ends), moves its
/// cursor there, and asks again after its poll interval. It keeps what it yielded, in order, to
/// compare with what the writers logged.
final class SimFollower {
    /// One event yielded: the follow's output, in the order yielded.
    struct Yielded: Equatable {
        let time: UInt64
        let client: UInt64
        let index: UInt32
        let record: [UInt8]
    }

    let rank: Int
    /// The story followed, and the time it is followed from.
    let story: String
    let start: UInt64
    /// Time between the end of one answer and the next query (the real client's `interval`).
    let interval: Duration
    private let channel: SimControlTransport
    let visor: SimVisorLink
    private unowned let world: SimWorld
    private var beginAt: ContinuousClock.Instant
    private var nextQueryAt: ContinuousClock.Instant
    private var nextQueryId: UInt64 = 1
    /// The query in flight: its id, the pieces received so far.
    private var asking: (id: UInt64, pieces: [StoryChunk])?
    private(set) var cursor: UInt64
    /// Events yielded, in order.
    private(set) var yielded: [Yielded] = []
    /// Queries answered.
    private(set) var polls = 0
    /// Whether the follow ended (the story was no longer recorded), and how many events each
    /// writer (by client id) had logged when its last query was asked.
    private(set) var finished = false
    private(set) var loggedBeforeLast: [UInt64: Int] = [:]
    private var loggedBeforeAsking: [UInt64: Int] = [:]
    /// Replay failures (the follow would have thrown).
    private(set) var failures: [String] = []
    /// After a restart: whether each answer was partial (−18; `follow` goes on, as after a complete one).
    private(set) var answeredPartial: [Bool] = []

    init(rank: Int, channel: SimControlTransport, world: SimWorld, rng: inout SplitMix64) {
        self.rank = rank
        self.channel = channel
        self.world = world
        visor = SimVisorLink(rank: rank, channel: channel, mode: .writerReader, clock: world.clock)
        story = "story-\(Int.random(in: 0..<world.scenario.stories, using: &rng))"
        interval = rng.pick([.milliseconds(2), .milliseconds(10), .milliseconds(20)])
        beginAt = world.clock.instant() + rng.microseconds(0, 50_000)
        nextQueryAt = beginAt
        // From the beginning, or from a little before the follow begins.
        start = rng.chance(0.3) ? 0 : world.clock.now() + UInt64(rng.microseconds(0, 40_000) / .nanoseconds(1))
        cursor = start
    }

    /// One turn: take pieces, yield a complete answer, ask again when due. - Returns: whether anything happened.
    func step() throws -> Bool {
        var (did, reply) = try visor.step()
        if let reply { throw SimClientError("follower: unexpected \(reply.type) from the visor") }
        while let (bytes, source) = try channel.poll(tag: .replay) {
            did = true
            guard case .replayPiece(let piece) = try ControlMessage.decode(bytes), var a = asking, piece.queryId == a.id else { continue }
            // The visor answers a query it refuses itself; only the player's pieces are acknowledged.
            if source != 0 {
                try channel.post(ControlMessage.replayAck(ReplayAck(queryId: piece.queryId, pieceNumber: piece.pieceNumber)).encode(),
                                 to: source, tag: .replay)
            }
            if let chunk = piece.chunk { a.pieces.append(chunk) }
            asking = a
            if piece.isLast { try answered(piece, pieces: a.pieces) }
        }
        if finished && visor.ready {
            try visor.close()
            return true
        }
        guard visor.ready, !finished, asking == nil, world.clock.instant() >= nextQueryAt else { return did }
        // A follow begins once the story is recorded (one of its writers logs): before, it would end at once.
        // After a restart a story no writer of the job records is only in the archive: it begins at once.
        guard polls > 0 || world.clients.contains(where: { $0.storyName == story && !$0.logged.isEmpty })
            || world.followsArchivedOnly(story) else { return did }
        let id = nextQueryId
        nextQueryId += 1
        asking = (id, [])
        for c in world.clients { loggedBeforeAsking[c.clientId.rawValue] = c.logged.count }
        try visor.post(.replayRequest(ReplayRequest(queryId: id, clientId: visor.clientId, chronicle: SimWorld.chronicle,
                                                    story: story, range: TimeRange(start: cursor, end: .max),
                                                    timeoutMilliseconds: 60_000, clientRank: Int32(rank))))
        return true
    }

    /// The last piece of an answer: yield its complete part, as `ChronoLogClient.follow` does.
    private func answered(_ last: ReplayPiece, pieces: [StoryChunk]) throws {
        asking = nil
        polls += 1
        nextQueryAt = world.clock.instant() + interval
        let restarted = world.restart.earlier != nil
        guard last.rc == .success || restarted && last.rc == .partialResult else {
            if last.rc == .notExist && world.followsArchivedOnly(story) {
                // Neither recorded nor archived: the real follow throws, and ends (``SimWorld/checkRestart()`` judges it).
                finished = true
                loggedBeforeLast = loggedBeforeAsking
                return
            }
            // A story not recorded yet is not in the archive either: the real follow would throw; ask again.
            if last.rc != .notExist { failures.append("follow: a query of \(story) answered \(last.rc)") }
            return
        }
        if restarted { answeredPartial.append(last.rc == .partialResult) }
        let done = !last.recording
        let upTo = done ? UInt64.max : max(cursor, last.completeBefore)
        let yieldsAll = world.mutation == .followYieldsIncomplete
        for chunk in pieces {
            let part = yieldsAll ? chunk.slice(TimeRange(start: cursor, end: .max)) : chunk.slice(TimeRange(start: cursor, end: upTo))
            for i in 0..<part.count {
                let e = part.event(at: i)
                yielded.append(Yielded(time: e.time, client: e.clientId.rawValue, index: e.index, record: e.record))
            }
        }
        if done {
            finished = true
            loggedBeforeLast = loggedBeforeAsking
        }
        cursor = upTo
    }
}
