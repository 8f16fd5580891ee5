import ChronoRuntime
import ChronoModel
import Fabric

extension KeeperRole {
    /// Answers a player's query with every event of the story this keeper still holds in the
    /// query's range: buffered in the pipeline, sealed and waiting to be shipped, and shipped (the
    /// sealed chunk itself, which the grapher reads in place) until the grapher acknowledges it
    /// durable (the story's latest durable piece until a later one is). Together with the archive
    /// (read after this answer) that is every event the keeper received: a chunk leaves the keeper only once durable.
    ///
    /// The answer is one or more pieces of at most `player.pieceBytes`, in event order; the last
    /// carries the story's low watermark here (`completeBefore`) and whether it is still recorded.
    /// A story this keeper does not know is answered with an empty last piece.
    ///
    /// A "last N" query (`lastCount` N > 0) gets at most the last N of those events (of a recorded
    /// story, of those before `completeBefore`: the answer's events are complete ones), and the last
    /// piece's `coveredFrom` says from which time on the answer holds every event this keeper
    /// received: past what it let go of (durable) and, when N cut the answer, from its first event's
    /// time (events of that time are all kept, so an answer may hold a few more than N).
    func answerReplay(_ query: ReplayRequest, from player: Int, channel: any ControlTransport) throws {
        bump(.replaysAnswered)
        let now = clock.now()
        var held: [StoryChunk] = []
        var completeBefore = now
        var recording = false
        var coveredFrom = UInt64.max
        if let cname = try? ChronicleName(query.chronicle), let sname = try? StoryName(query.story), !query.range.isEmpty {
            let id = StoryID(chronicle: cname, story: sname)
            var range = query.range
            if let story = stories[id] {
                recording = !story.stopping
                // With a writer, complete up to the lowest watermark. With none, only up to what
                // the clock sealed: a writer acquiring next, its clock a little behind this one's,
                // may still log events before now, and they must find their range open (or count
                // late), never behind a completeness a follow has already passed.
                if story.pipeline.lowWatermark(excluding: Self.clockContributor) != nil {
                    completeBefore = min(now, story.pipeline.lowWatermark ?? now)
                } else {
                    completeBefore = min(now, story.pipeline.sealedFrontier)
                }
                coveredFrom = story.releasedBelow
                // The last N of a recorded story are its last N complete events: those after
                // completeBefore would only push complete ones out of the answer.
                if query.lastCount > 0 && recording {
                    range = TimeRange(start: range.start, end: max(range.start, min(range.end, completeBefore)))
                }
                if let fresh = story.pipeline.unsealedEvents(in: range), !fresh.isEmpty { held.append(fresh) }
            }
            // Recorded here or not (now: a story this keeper does not record), what it was told is
            // complete stays so: a later recording here starts sealed up to it.
            answeredComplete[id] = max(answeredComplete[id] ?? 0, completeBefore)
            if query.lastCount > 0 {
                held += try latestHeld(of: id, in: range, count: Int(query.lastCount))
            } else {
                held += try allHeld(of: id, in: range)
            }
        }
        var merged = try StoryChunk.merge(held)
        // At N events or more some may have been left out (``latestHeld(of:in:count:)``): the answer
        // covers from its first event's time only.
        if query.lastCount > 0, let all = merged, all.count >= Int(query.lastCount) {
            // The last N, and the events of the first one's time before it (the answer then holds
            // every event from that time on).
            let first = all.last(Int(query.lastCount)).records[0].time
            let kept = all.last(all.count - all.positions(in: TimeRange(start: first, end: .max)).lowerBound)
            coveredFrom = max(coveredFrom, first)
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

    /// A "last N" query a reader sent here directly: answered as the player's are (to the reader)
    /// when the visor granted that client, at that rank, direct reads of the story while this keeper
    /// records it (``ReadGrant``); otherwise refused with a single last piece, −9, and counted.
    func answerDirect(_ query: ReplayRequest, from source: Int, channel: any ControlTransport) throws {
        guard faults.keeperAnswersDirectQueries() else { return }
        let story = (try? ChronicleName(query.chronicle)).flatMap { c in
            (try? StoryName(query.story)).flatMap { stories[StoryID(chronicle: c, story: $0)] }
        }
        guard let story, story.readers[query.clientId] == Int32(source) else {
            bump(.replaysDirectRefused)
            let refusal = ReplayPiece(queryId: query.queryId, rc: .notAuthorized, pieceNumber: 0, isLast: true, chunk: nil,
                                      detail: "keeper rank \(rank) holds no read grant of the visor for client \(query.clientId) at rank \(source)")
            try channel.post(ControlMessage.replayPiece(refusal).encode(), to: source, tag: .replay)
            return
        }
        bump(.replaysDirect)
        try answerReplay(query, from: source, channel: channel)
    }

    /// The sealed events of story `id` in `range` this keeper holds: waiting to be shipped, and
    /// shipped (kept in the sealed chunk until durable).
    private func allHeld(of id: StoryID, in range: TimeRange) throws -> [StoryChunk] {
        var held: [StoryChunk] = []
        for (i, chunk) in zip(waiting.indices, waiting) where chunk.storyId == id && chunk.range.overlaps(range) {
            let part = chunk.slice(range, within: unshipped(i, of: chunk))
            if !part.isEmpty { held.append(part) }
        }
        for transfer in inFlight.values + kept(of: id) where transfer.storyId == id && transfer.range.overlaps(range) {
            let part = events(of: transfer, in: range)
            if !part.isEmpty { held.append(part) }
        }
        return held
    }

    /// Like ``allHeld(of:in:)``, but only the chunks that can hold the last `count` events of `range`:
    /// taken from the latest start down until they count `count` events, plus every chunk reaching
    /// past the earliest start taken (events of the others are all earlier). Chunks are sliced only
    /// when taken.
    /// Chunks are left out only when those taken count `count` events or more, all later than theirs.
    private func latestHeld(of id: StoryID, in range: TimeRange, count: Int) throws -> [StoryChunk] {
        // (earliest and just past the latest possible event time, events known to be in `range`, the events)
        var candidates: [(start: UInt64, end: UInt64, known: Int, load: () throws -> StoryChunk?)] = []
        for (i, chunk) in zip(waiting.indices, waiting) where chunk.storyId == id && chunk.range.overlaps(range) {
            let bounds = unshipped(i, of: chunk)
            let p = chunk.positions(in: range).clamped(to: bounds)
            guard !p.isEmpty else { continue }
            let last = chunk.records[p.upperBound - 1].time
            candidates.append((chunk.records[p.lowerBound].time, last == .max ? last : last + 1, p.count,
                               { chunk.slice(range, within: bounds) }))
        }
        for transfer in inFlight.values + kept(of: id) where transfer.storyId == id && transfer.range.overlaps(range) {
            let span = transfer.range.intersection(range)
            candidates.append((span.start, span.end, range.contains(transfer.range) ? transfer.events : 0,
                               { self.events(of: transfer, in: range) }))
        }
        // The latest starts until they count `count` events; then every chunk reaching past the
        // earliest start taken, which may lower it, until no chunk left out reaches past it.
        var floor = UInt64.max
        var known = 0
        for c in candidates.sorted(by: { $0.start > $1.start }) where known < count {
            known += c.known
            floor = min(floor, c.start)
        }
        var taken = [Bool](repeating: false, count: candidates.count)
        var changed = true
        while changed {
            changed = false
            for i in candidates.indices where !taken[i] && candidates[i].end > floor {
                taken[i] = true
                floor = min(floor, candidates[i].start)
                changed = true
            }
        }
        var held: [StoryChunk] = []
        for i in candidates.indices where taken[i] {
            if let part = try candidates[i].load(), !part.isEmpty { held.append(part) }
        }
        return held
    }

    /// The story's latest durable piece, kept for "last N" queries (none or one).
    private func kept(of id: StoryID) -> [InFlight] {
        stories[id]?.kept.map { [$0] } ?? []
    }

    /// The positions of a waiting chunk not shipped yet: of the first, what has not left (its
    /// shipped pieces are in flight); of the others, all.
    private func unshipped(_ i: Int, of chunk: StoryChunk) -> Range<Int> {
        (i == waiting.startIndex ? shippedOfFirst : 0)..<chunk.count
    }

    /// A piece in flight's events in `range`, from the sealed chunk it was cut from.
    private func events(of transfer: InFlight, in range: TimeRange) -> StoryChunk {
        transfer.source.chunk.slice(range, within: transfer.positions)
    }
}
