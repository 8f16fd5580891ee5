import ChronoModel
import ChronoRuntime

/// A simulated reader: at times drawn from the seed it asks the player (through the visor, as
/// the real client does) for a random range of a random story, acknowledges every piece, and
/// keeps each answer to compare with what the writers logged.
final class SimReader {
    struct Answer {
        let story: String
        let range: TimeRange
        /// How many events each writer (by client id) had logged when the query was asked: the
        /// answer must hold those of them in its complete part (later ones may be there too).
        var loggedBefore: [UInt64: Int] = [:]
        var events: [Event] = []
        var rc: ReturnCode = .success
        var completeBefore: UInt64 = 0
        var done = false
    }

    let rank: Int
    private let channel: SimControlTransport
    let visor: SimVisorLink
    private let world: SimWorld
    private var nextQueryAt: ContinuousClock.Instant
    private var nextQueryId: UInt64 = 1
    private(set) var answers: [UInt64: Answer] = [:]
    /// Queries it will ask in all.
    let queries: Int

    init(rank: Int, channel: SimControlTransport, world: SimWorld, rng: inout SplitMix64) {
        self.rank = rank
        self.channel = channel
        self.world = world
        visor = SimVisorLink(rank: rank, channel: channel, mode: .writerReader, clock: world.clock)
        queries = Int.random(in: 0...4, using: &rng)
        nextQueryAt = world.clock.instant() + rng.microseconds(1_000, 200_000)
    }

    /// Whether every query it meant to ask was answered.
    var finished: Bool { answers.count == queries && answers.values.allSatisfy(\.done) }

    /// Whether it disconnected and told the visor it finished.
    var closed: Bool { visor.state == .closed }

    func step() throws -> Bool {
        var (did, reply) = try visor.step()
        if let reply { throw SimClientError("reader: unexpected \(reply.type) from the visor") }
        while let (bytes, source) = try channel.poll(tag: .replay) {
            did = true
            guard case .replayPiece(let piece) = try ControlMessage.decode(bytes), var a = answers[piece.queryId] else { continue }
            if let chunk = piece.chunk { a.events += (0..<chunk.count).map(chunk.event(at:)) }
            // The visor answers a query it refuses itself; only the player's pieces are acknowledged.
            if source != 0 {
                try channel.post(ControlMessage.replayAck(ReplayAck(queryId: piece.queryId, pieceNumber: piece.pieceNumber)).encode(),
                                 to: source, tag: .replay)
            }
            if piece.isLast {
                a.rc = piece.rc
                a.completeBefore = piece.completeBefore
                a.done = true
            }
            answers[piece.queryId] = a
        }
        if finished && visor.ready {
            try visor.close()
            return true
        }
        // It asks about stories the visor knows (a writer acquired them, or a job before wrote them),
        // as a real reader would.
        guard visor.ready, answers.count < queries, world.clock.instant() >= nextQueryAt,
              let story = world.readableStories.randomElement(using: &world.rng) else { return did }
        let range: TimeRange
        if world.restart.earlier == nil {
            let now = world.clock.now()
            let start = now - UInt64.random(in: 0...200_000_000, using: &world.rng)
            range = TimeRange(start: start, end: now &+ UInt64.random(in: 0...50_000_000, using: &world.rng))
        } else {
            range = world.restartQueryRange()
        }
        let id = nextQueryId
        nextQueryId += 1
        var answer = Answer(story: story, range: range)
        for c in world.clients { answer.loggedBefore[c.clientId.rawValue] = c.logged.count }
        answers[id] = answer
        try visor.post(.replayRequest(ReplayRequest(queryId: id, clientId: visor.clientId, chronicle: SimWorld.chronicle,
                                                    story: story, range: range, timeoutMilliseconds: 60_000,
                                                    clientRank: Int32(rank))))
        nextQueryAt = world.clock.instant() + world.rng.microseconds(1_000, 100_000)
        return true
    }
}
