/// The keepers' answers to a "last N" query (``ReplayRequest/lastCount`` N > 0), gathered by
/// whoever asked them — the player, or a reader the visor granted direct reads — and the part of
/// the answer they hold.
///
/// Each keeper answers with at most its last N events and from which time on its answer holds every
/// event it received (``ReplayPiece/coveredFrom``); from the latest of these times, C, the answers
/// together hold every event of the story. While the story is recorded only events before the
/// keepers' `completeBefore` count (nothing earlier can still arrive). When N of them are at or
/// after C, they are the answer (``answer(for:)``); otherwise the part before C must be read too.
public struct KeeperLastAnswers: Sendable {
    /// The events of the answers so far.
    public private(set) var chunks: [StoryChunk] = []
    /// The earliest `completeBefore` of the keepers' last pieces (`UInt64.max` before any).
    public private(set) var completeBefore: UInt64 = .max
    /// Whether any keeper still records the story.
    public private(set) var recording = false
    /// The latest ``ReplayPiece/coveredFrom`` of the keepers' last pieces (0 before any).
    public private(set) var coveredFrom: UInt64 = 0

    /// No answers yet.
    public init() {}

    /// Adds a keeper's piece; its last piece also brings its `completeBefore`, `recording` and `coveredFrom`.
    public mutating func add(_ piece: ReplayPiece) {
        if let chunk = piece.chunk, !chunk.isEmpty { chunks.append(chunk) }
        guard piece.isLast else { return }
        completeBefore = min(completeBefore, piece.completeBefore)
        recording = recording || piece.recording
        coveredFrom = max(coveredFrom, piece.coveredFrom)
    }

    /// The last `request.lastCount` events of `request.range` when the keepers' answers hold that
    /// many complete events from C on; nil when the part before C must be read as well.
    /// - Throws: `.malformedMessage` when the answers' chunks do not merge (different stories).
    public func answer(for request: ReplayRequest) throws(ChronoLogError) -> StoryChunk? {
        let merged = try StoryChunk.merge(chunks)
        let memory = Self.memory(merged, of: request, recording: recording, completeBefore: completeBefore, coveredFrom: coveredFrom)
        return memory.count >= Int(request.lastCount) ? memory.last(Int(request.lastCount)) : nil
    }

    /// When the keepers' answers hold fewer than `request.lastCount` complete events: those they
    /// hold with certainty (M of them, ``memory(_:of:recording:completeBefore:coveredFrom:)``) and the
    /// query for the rest, to be asked of the player alone (`belowKeepers`): the last N − M events
    /// before where the answers cover every event. Its range is empty or its count 0 when nothing
    /// is left to ask.
    /// - Throws: `.malformedMessage` when the answers' chunks do not merge (different stories).
    public func below(_ request: ReplayRequest) throws(ChronoLogError) -> (memory: StoryChunk, below: ReplayRequest) {
        let memory = Self.memory(try StoryChunk.merge(chunks), of: request, recording: true, completeBefore: completeBefore,
                                 coveredFrom: coveredFrom)
        var below = request
        let end = min(request.range.end, completeBefore, coveredFrom)
        below.range = TimeRange(start: request.range.start, end: max(request.range.start, end))
        below.lastCount = request.lastCount - UInt32(min(memory.count, Int(request.lastCount)))
        below.belowKeepers = true
        return (memory, below)
    }

    /// The events of `fresh` (the keepers' answers, merged) that belong to the answer of `request`
    /// with certainty: from C = `coveredFrom` on (every event there is in `fresh`), before
    /// `completeBefore` while the story is recorded, without the request's hidden events.
    public static func memory(_ fresh: StoryChunk?, of request: ReplayRequest, recording: Bool, completeBefore: UInt64,
                              coveredFrom: UInt64) -> StoryChunk {
        let end = min(request.range.end, recording ? completeBefore : .max)
        let covered = max(request.range.start, coveredFrom)
        let all = fresh ?? .empty(storyId: StoryID(rawValue: 0), range: request.range)
        let memory = all.slice(TimeRange(start: covered, end: max(covered, end)))
        return request.hidden.isEmpty ? memory : memory.filter { !request.hides($0) }
    }
}
