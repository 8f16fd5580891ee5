import ChronoArchive
import ChronoModel
import ChronoRuntime

/// "Last N" replays (``ReplayRequest/lastCount`` N > 0): the last N events of a range, served from
/// the keepers' memory where they still are, from the archive for the part they no longer hold.
///
/// 1. Each keeper answers with at most its last N events of the range, and from which time on its
///    answer holds every event it received (``ReplayPiece/coveredFrom``: past what it let go of as
///    durable, and past what N cut off). From the latest of these times, C, the keepers' answers
///    together hold every event of the story.
/// 2. While the story is recorded, only events before the keepers' `completeBefore` count (as in a
///    followed story: nothing earlier can still arrive). If N of them are at or after C, they are the
///    answer: no archive, no lease.
/// 3. Otherwise the events from C on are kept, and [start, C) is replayed as any range (keepers
///    again, then the archive under a lease), keeping only its last events in the player (memory
///    bounded by N plus one window), before the answer is sent.
extension PlayerRole {
    /// Where a "last N" query stands once the keepers answered.
    struct LastEvents {
        /// Events from memory, from C on (nil: none).
        var memory: StoryChunk?
        /// Events of [start, C) read so far, only the latest kept (at least `need` events while there are).
        var earlier: [StoryChunk] = []
        var earlierCount = 0
        /// How many of the answer's events come from before C.
        var need: Int
        /// The answer's `completeBefore` (the first keepers' round).
        var completeBefore: UInt64
        /// Whether reading starts where the archive's index says the last events are (else at
        /// the range's start), and that start.
        var positioned = false
        var floor: UInt64 = 0
    }

    /// The keepers' first answers to a "last N" query are in: answers from memory when it holds
    /// N events, otherwise asks for the part before what memory covers.
    func keepersAnsweredLast(_ q: Query, channel: any ControlTransport) {
        let r = q.request
        let count = Int(r.lastCount)
        let end = min(r.range.end, q.recording ? q.completeBefore : .max)
        let covered = max(r.range.start, q.coveredFrom)
        let fresh = q.fresh.count == 1 ? q.fresh[0] : (try? StoryChunk.merge(q.fresh)) ?? nil
        let memory = KeeperLastAnswers.memory(fresh, of: r, recording: q.recording, completeBefore: q.completeBefore,
                                              coveredFrom: q.coveredFrom)
        if memory.count >= count {
            bump(.lastFromMemory)
            q.last = LastEvents(memory: nil, need: 0, completeBefore: q.completeBefore)
            q.fresh = []
            q.cursor = q.end
            ready(memory.last(count), for: q)
            return
        }
        bump(.lastFromArchive)
        beginLastFromArchive(q, memory: memory.isEmpty ? nil : memory, end: min(covered, end))
        guard !q.archiveDone, !r.keeperRanks.isEmpty else { return }
        // The keepers again, for every event they hold before C (the archive is merged with them).
        q.fresh = []
        q.phase = .keepers
        q.pendingKeepers = Set(r.keeperRanks.map { Int($0) })
        var ask = r
        ask.queryId = q.localId
        ask.lastCount = 0
        ask.range = TimeRange(start: r.range.start, end: q.end)
        for keeper in q.pendingKeepers {
            do { try post(.replayRequest(ask), to: keeper, channel: channel) } catch {
                q.pendingKeepers.remove(keeper)
            }
        }
        if q.pendingKeepers.isEmpty { q.phase = .archive }
    }

    /// Reads [start, `end`) as a whole range, keeping its last events, before answering with those
    /// and `memory`.
    func beginLastFromArchive(_ q: Query, memory: StoryChunk?, end: UInt64) {
        let need = Int(q.request.lastCount) - (memory?.count ?? 0)
        q.last = LastEvents(memory: memory, need: need, completeBefore: q.completeBefore)
        q.end = max(q.request.range.start, end)
        q.cursor = q.request.range.start
        if q.archiveDone { _ = try? readyLast(q) }
    }

    /// Before the first archive window of a "last N" query: starts reading where the archive's
    /// time index says its last events are, not at the range's start.
    func positionLast(_ q: Query, in reader: any ArchiveSource) {
        guard var last = q.last, !last.positioned else { return }
        last.positioned = true
        let rest = TimeRange(start: q.cursor, end: q.end)
        if last.need > 0,
           let start = try? reader.lastWindowStart(chronicle: q.request.chronicle, story: q.request.story, range: rest, count: last.need) {
            q.cursor = max(q.cursor, start)
        }
        last.floor = q.cursor
        q.last = last
    }

    /// Keeps the latest events of a window read before C: drops whole older windows while the
    /// later ones hold enough.
    func collectLast(_ chunk: StoryChunk, of q: Query) throws {
        guard var last = q.last, !chunk.isEmpty, last.need > 0 else { return }
        last.earlier.append(chunk.last(last.need))
        last.earlierCount += min(chunk.count, last.need)
        while let first = last.earlier.first, last.earlierCount - first.count >= last.need {
            last.earlier.removeFirst()
            last.earlierCount -= first.count
        }
        q.last = last
    }

    /// The archive part is read: the answer is the last N of what was kept, in pieces.
    /// - Returns: false when reading from where the index pointed found too few events (the rows
    ///   held duplicates): the range is then read again from its start.
    func readyLast(_ q: Query) throws -> Bool {
        guard var last = q.last else { return true }
        if last.earlierCount < last.need && last.floor > q.request.range.start {
            last.floor = q.request.range.start
            last.earlier = []
            last.earlierCount = 0
            q.cursor = q.request.range.start
            q.last = last
            return false
        }
        q.completeBefore = last.completeBefore
        let parts = last.earlier + (last.memory.map { [$0] } ?? [])
        q.last = LastEvents(memory: nil, need: 0, completeBefore: last.completeBefore)
        if let merged = try StoryChunk.merge(parts) { ready(merged.last(Int(q.request.lastCount)), for: q) }
        return true
    }

    private func ready(_ answer: StoryChunk, for q: Query) {
        guard !answer.isEmpty else { return }
        for piece in answer.pieces(maxEncodedBytes: config.player.pieceBytes) { q.ready.append(.chunk(piece)) }
        bump(.eventsReplayed, UInt64(answer.count))
    }
}
