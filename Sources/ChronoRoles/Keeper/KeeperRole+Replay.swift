import ChronoRuntime
import ChronoModel
import Fabric

extension KeeperRole {
    /// Answers a player's query with every event of the story this keeper still holds in the
    /// query's range: buffered in the pipeline, sealed and waiting for a slot, in a registered slot
    /// until the grapher has read it, and then kept decoded until the grapher acknowledges it durable. Together with the archive (read after this
    /// answer) that is every event the keeper received: a chunk leaves the keeper only once durable.
    ///
    /// The answer is one or more pieces of at most `player.pieceBytes`, in event order; the last
    /// carries the story's low watermark here (`completeBefore`) and whether it is still recorded.
    /// A story this keeper does not know is answered with an empty last piece.
    ///
    /// A "last N" query (`lastCount` N > 0) gets at most the last N of those events, and the last
    /// piece's `coveredFrom` says from which time on the answer holds every event this keeper
    /// received: past what it let go of (durable) and, when N cut the answer, its first event kept.
    func answerReplay(_ query: ReplayRequest, from player: Int, channel: ControlChannel) throws {
        bump(.replaysAnswered)
        let now = clock.now()
        var held: [StoryChunk] = []
        var completeBefore = now
        var recording = false
        var coveredFrom = UInt64.max
        if let cname = try? ChronicleName(query.chronicle), let sname = try? StoryName(query.story), !query.range.isEmpty {
            let id = StoryID(chronicle: cname, story: sname)
            if let story = stories[id] {
                recording = !story.stopping
                completeBefore = min(now, story.pipeline.lowWatermark ?? now)
                coveredFrom = story.releasedBelow
                if let fresh = story.pipeline.unsealedEvents(in: query.range), !fresh.isEmpty { held.append(fresh) }
            }
            for chunk in waiting where chunk.storyId == id && chunk.range.overlaps(query.range) {
                let part = chunk.slice(query.range)
                if !part.isEmpty { held.append(part) }
            }
            for transfer in inFlight.values where transfer.storyId == id && transfer.range.overlaps(query.range) {
                let chunk: StoryChunk
                if let kept = transfer.retained {
                    chunk = kept
                } else if let buffer = transfer.buffer {
                    chunk = try buffer.withUnsafeMutableBytes { raw in
                        try StoryChunk.decode(raw: UnsafeRawBufferPointer(rebasing: raw[0..<transfer.length]))
                    }
                } else {
                    continue
                }
                let part = chunk.slice(query.range)
                if !part.isEmpty { held.append(part) }
            }
        }
        var merged = try StoryChunk.merge(held)
        if query.lastCount > 0, let all = merged, all.count > Int(query.lastCount) {
            let kept = all.last(Int(query.lastCount))
            coveredFrom = max(coveredFrom, kept.records[0].time)
            merged = kept
        }
        let pieces = merged.map { $0.pieces(maxEncodedBytes: config.player.pieceBytes) } ?? []
        bump(.replaysEvents, UInt64(merged?.count ?? 0))
        if pieces.isEmpty {
            let last = ReplayPiece(queryId: query.queryId, rc: .success, pieceNumber: 0, isLast: true, chunk: nil,
                                   completeBefore: completeBefore, recording: recording, coveredFrom: coveredFrom)
            try channel.post(ControlMessage.replayPiece(last).encode(), to: player, tag: .replay)
            return
        }
        for (n, piece) in pieces.enumerated() {
            let isLast = n == pieces.count - 1
            let m = ReplayPiece(queryId: query.queryId, rc: .success, pieceNumber: UInt32(n), isLast: isLast, chunk: piece,
                                completeBefore: isLast ? completeBefore : 0, recording: recording,
                                coveredFrom: isLast ? coveredFrom : .max)
            try channel.post(ControlMessage.replayPiece(m).encode(), to: player, tag: .replay)
        }
    }
}
