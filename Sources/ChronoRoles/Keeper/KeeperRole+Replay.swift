import ChronoRuntime
import ChronoModel
import Fabric

extension KeeperRole {
    /// Answers a player's query with every event of the story this keeper still holds in the
    /// query's range: buffered in the pipeline, sealed and waiting for a slot, and shipped (the
    /// sealed chunk is kept until the grapher acknowledges its pieces durable). Together with the archive (read after this
    /// answer) that is every event the keeper received: a chunk leaves the keeper only once durable.
    ///
    /// The answer is one or more pieces of at most `player.pieceBytes`, in event order; the last
    /// carries the story's low watermark here (`completeBefore`) and whether it is still recorded.
    /// A story this keeper does not know is answered with an empty last piece.
    func answerReplay(_ query: ReplayRequest, from player: Int, channel: any ControlTransport) throws {
        bump(.replaysAnswered)
        let now = clock.now()
        var held: [StoryChunk] = []
        var completeBefore = now
        var recording = false
        if let cname = try? ChronicleName(query.chronicle), let sname = try? StoryName(query.story), !query.range.isEmpty {
            let id = StoryID(chronicle: cname, story: sname)
            if let story = stories[id] {
                recording = !story.stopping
                completeBefore = min(now, story.pipeline.lowWatermark ?? now)
                if let fresh = story.pipeline.unsealedEvents(in: query.range), !fresh.isEmpty { held.append(fresh) }
            }
            for (i, chunk) in zip(waiting.indices, waiting) where chunk.storyId == id && chunk.range.overlaps(query.range) {
                // Of the first, only what has not left yet: its shipped pieces are in flight.
                let first = i == waiting.startIndex ? shippedOfFirst : 0
                let part = chunk.slice(query.range, within: first..<chunk.count)
                if !part.isEmpty { held.append(part) }
            }
            for transfer in inFlight.values where transfer.storyId == id && transfer.range.overlaps(query.range) {
                let part = transfer.source.chunk.slice(query.range, within: transfer.positions)
                if !part.isEmpty { held.append(part) }
            }
        }
        let merged = try StoryChunk.merge(held)
        let pieces = merged.map { $0.pieces(maxEncodedBytes: config.player.pieceBytes) } ?? []
        bump(.replaysEvents, UInt64(merged?.count ?? 0))
        if pieces.isEmpty {
            let last = ReplayPiece(queryId: query.queryId, rc: .success, pieceNumber: 0, isLast: true, chunk: nil,
                                   completeBefore: completeBefore, recording: recording)
            try channel.post(ControlMessage.replayPiece(last).encode(), to: player, tag: .replay)
            return
        }
        for (n, piece) in pieces.enumerated() {
            let isLast = n == pieces.count - 1
            let m = ReplayPiece(queryId: query.queryId, rc: .success, pieceNumber: UInt32(n), isLast: isLast, chunk: piece,
                                completeBefore: isLast ? completeBefore : 0, recording: recording)
            try channel.post(ControlMessage.replayPiece(m).encode(), to: player, tag: .replay)
        }
    }
}
