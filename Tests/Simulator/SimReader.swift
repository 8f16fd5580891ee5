import ChronoModel
import ChronoRuntime
import Fabric

/// A simulated reader: at times drawn from the seed it asks the player (through the visor, as
/// the real client does) for a random range of a random story, acknowledges every piece, and
/// keeps each answer to compare with what the writers logged. It has a bulk endpoint, as the
/// real client does: a piece over 64 KiB it reads from the player's memory (its header and records
/// from the player's slot, a payload lent apart segment by segment), one piece at a time, and
/// acknowledges it only once read.
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
    private let bulk: SimBulkTransport
    /// Pieces read from the player's memory, and of them those with their payload lent apart.
    private(set) var piecesByRMA = 0, piecesLentApart = 0
    private var slot: (any BulkSlot)?
    /// The piece being read from the player's memory: the read, the piece, and the player's rank.
    private var reading: (operation: OperationID, piece: ReplayPiece, from: Int)?

    init(rank: Int, channel: SimControlTransport, world: SimWorld, rng: inout SplitMix64) {
        self.rank = rank
        self.channel = channel
        self.world = world
        visor = SimVisorLink(rank: rank, channel: channel, mode: .writerReader, clock: world.clock)
        bulk = SimBulkTransport(rank: rank, world: world)
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
        if let r = reading {
            // One piece at a time, as the real client: later pieces wait in the channel.
            guard let done = try bulk.progress().first(where: { $0.operation == r.operation }) else { return did }
            if let error = done.error { throw SimClientError("reader: reading replay piece \(r.piece.pieceNumber) failed: \(error)") }
            reading = nil
            try deliver(r.piece, from: r.from)
            return true
        }
        while reading == nil, let (bytes, source) = try channel.poll(tag: .replay) {
            did = true
            guard case .replayPiece(let piece) = try ControlMessage.decode(bytes), answers[piece.queryId] != nil else { continue }
            if let remote = piece.remote {
                reading = (try read(remote, from: source), piece, source)
            } else {
                try deliver(piece, from: source)
            }
        }
        if finished && visor.ready {
            try visor.close()
            return true
        }
        return try ask() || did
    }

    /// Posts the read of a piece lent by the player at `player`: its header and records (or all of
    /// it) from `remote.address`, a payload lent apart from its segments.
    private func read(_ remote: RemotePiece, from player: Int) throws -> OperationID {
        let length = Int(remote.length)
        let head = remote.payloadSegments.isEmpty ? length : StoryChunk.headerByteCount + Int(remote.eventCount) * EventRecord.byteSize
        var segments = [BulkReadSegment(offset: 0, remoteAddress: remote.address, key: remote.key, length: head)]
        var at = head
        for s in remote.payloadSegments {
            segments.append(BulkReadSegment(offset: at, remoteAddress: s.address, key: s.key, length: Int(s.length)))
            at += Int(s.length)
        }
        guard at == length else { throw SimClientError("reader: a piece of \(length) bytes whose parts hold \(at)") }
        if slot == nil { slot = try bulk.makeSlotPool(slotSize: world.config.replayPieceSlotBytes, slotCount: 1).allocate(byteCount: world.config.replayPieceSlotBytes) }
        return try bulk.postRead(into: slot!, fromWorldRank: player, segments: segments)
    }

    /// Adds a piece's events to its answer (read into `slot` when it came by RMA) and acknowledges it.
    private func deliver(_ piece: ReplayPiece, from source: Int) throws {
        guard var a = answers[piece.queryId] else { return }
        if let chunk = piece.chunk { a.events += (0..<chunk.count).map(chunk.event(at:)) }
        if let remote = piece.remote, let slot {
            let chunk = try slot.withUnsafeMutableBytes { raw in
                try StoryChunk.decode(raw: UnsafeRawBufferPointer(rebasing: raw[0..<Int(remote.length)]))
            }
            guard chunk.count == Int(remote.eventCount) else {
                throw SimClientError("reader: replay piece \(piece.pieceNumber) holds \(chunk.count) events, announced \(remote.eventCount)")
            }
            a.events += (0..<chunk.count).map(chunk.event(at:))
            piecesByRMA += 1
            if !remote.payloadSegments.isEmpty { piecesLentApart += 1 }
        }
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

    /// Asks the next query when it is due. - Returns: whether it asked.
    private func ask() throws -> Bool {
        // It asks about stories the visor knows (a writer acquired them, or a job before wrote them),
        // as a real reader would.
        guard visor.ready, answers.count < queries, world.clock.instant() >= nextQueryAt,
              let story = world.readableStories.randomElement(using: &world.rng) else { return false }
        let range: TimeRange
        if world.restart.earlier == nil {
            let now = world.clock.now()
            if now > 400_000_000 && UInt64.random(in: 0...3, using: &world.rng) == 0 {
                // Older events, archived by now and mostly no longer in the keepers' memory: the
                // player reads those windows straight from the archive.
                range = TimeRange(start: UInt64.random(in: 0...(now / 2), using: &world.rng), end: now - 300_000_000)
            } else {
                let start = now - UInt64.random(in: 0...200_000_000, using: &world.rng)
                range = TimeRange(start: start, end: now &+ UInt64.random(in: 0...50_000_000, using: &world.rng))
            }
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
                                                    clientRank: Int32(rank), readerAddress: bulk.localAddress)))
        nextQueryAt = world.clock.instant() + world.rng.microseconds(1_000, 100_000)
        return true
    }
}
