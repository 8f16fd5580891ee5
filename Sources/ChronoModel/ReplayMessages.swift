// Bodies of replay messages between a client and a player.

/// Body of ``ControlMessage/replayRequest(_:)``: `ReplayStory(chronicle, story, start, end)`.
public struct ReplayRequest: Sendable, Hashable, WireCodable {
    /// Client-chosen id, unique among the client's queries in flight.
    public var queryId: UInt64
    /// The requesting client.
    public var clientId: ClientID
    /// Chronicle name.
    public var chronicle: String
    /// Story name.
    public var story: String
    /// The half-open range [start, end) to replay (empty → no events, success at once).
    public var range: TimeRange
    /// How long the player may take (ms) before answering `CL_ERR_QUERY_TIMED_OUT`.
    public var timeoutMilliseconds: UInt64

    /// Creates a request.
    public init(queryId: UInt64, clientId: ClientID, chronicle: String, story: String, range: TimeRange,
                timeoutMilliseconds: UInt64) {
        self.queryId = queryId
        self.clientId = clientId
        self.chronicle = chronicle
        self.story = story
        self.range = range
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    func write(to w: inout WireWriter) {
        w.u64(queryId); w.u64(clientId.rawValue); w.string(chronicle); w.string(story)
        w.u64(range.start); w.u64(range.end); w.u64(timeoutMilliseconds)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ReplayRequest {
        ReplayRequest(queryId: try r.u64(), clientId: ClientID(rawValue: try r.u64()), chronicle: try r.string("chronicle"),
                      story: try r.string("story"), range: try r.timeRange(), timeoutMilliseconds: try r.u64())
    }
}

/// Body of ``ControlMessage/replayPiece(_:)``: one piece of a replay answer.
/// Pieces are numbered from 0; the one with `isLast` ends the query. Each carries an optional chunk
/// (the events of that piece, in event order; pieces are sent in event order).
public struct ReplayPiece: Sendable, Hashable, WireCodable {
    /// The query answered.
    public var queryId: UInt64
    /// Outcome of the query (the same in every piece; a failure is sent as a single last piece).
    public var rc: ReturnCode
    /// Piece number, from 0.
    public var pieceNumber: UInt32
    /// Whether this is the last piece.
    public var isLast: Bool
    /// The events of this piece, if any.
    public var chunk: StoryChunk?

    /// Creates a piece.
    public init(queryId: UInt64, rc: ReturnCode, pieceNumber: UInt32, isLast: Bool, chunk: StoryChunk?) {
        self.queryId = queryId
        self.rc = rc
        self.pieceNumber = pieceNumber
        self.isLast = isLast
        self.chunk = chunk
    }

    func write(to w: inout WireWriter) {
        w.u64(queryId); w.returnCode(rc); w.u32(pieceNumber); w.bool(isLast); w.bool(chunk != nil)
        chunk?.encode(into: &w.bytes)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ReplayPiece {
        let queryId = try r.u64()
        let rc = try r.returnCode()
        let piece = try r.u32()
        let isLast = try r.bool("replayPiece.isLast")
        let hasChunk = try r.bool("replayPiece.hasChunk")
        let chunk = hasChunk ? try StoryChunk.read(from: &r) : nil
        return ReplayPiece(queryId: queryId, rc: rc, pieceNumber: piece, isLast: isLast, chunk: chunk)
    }
}
