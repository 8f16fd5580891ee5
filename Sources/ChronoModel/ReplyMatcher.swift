/// Matches a client session's requests to the visor with their answers by request id
/// (``MessageHeader/requestId``), so that an answer arriving after its request timed out is never
/// taken by the session's next request as its own.
///
/// One request is outstanding at a time. Each gets a new id (never 0; ids wrap); an answer is
/// taken only when it carries the outstanding request's id, any other well-formed answer is dropped
/// and counted (``stale``, the client counter `replies.stale`).
public struct ReplyMatcher: Sendable {
    /// The outstanding request's id, 0 when none is.
    public private(set) var outstanding: UInt32 = 0
    /// Answers dropped because they carried another request's id.
    public private(set) var stale: UInt64 = 0
    private var last: UInt32

    /// A matcher whose first request gets id `first` (0 becomes 1). Sessions that share a rank
    /// (attached clients behind one gateway) start at random ids, so their ids stay apart.
    public init(first: UInt32) {
        last = first &- 1
    }

    /// Starts a request and returns its id (to put in its header).
    public mutating func begin() -> UInt32 {
        last &+= 1
        if last == 0 { last = 1 }
        outstanding = last
        return last
    }

    /// Ends the outstanding request (answered, or given up): later answers to it are stale.
    public mutating func end() {
        outstanding = 0
    }

    /// The answer `bytes` if it answers the outstanding request; nil (counted in ``stale``) when it
    /// answers another one.
    /// - Throws: what decoding throws (``ChronoLogError/malformedMessage(_:)``,
    ///   ``ChronoLogError/protocolVersionMismatch(expected:got:)``) for an answer that does not decode,
    ///   unless it carries another request's id (then it is stale). A peer of another protocol
    ///   version writes 0 there, so a version mismatch is reported, not dropped.
    public mutating func take(_ bytes: [UInt8]) throws(ChronoLogError) -> ControlMessage? {
        let id = MessageHeader.requestId(of: bytes) ?? 0
        guard id == 0 || id == outstanding else {
            stale += 1
            return nil
        }
        let (header, message) = try ControlMessage.decodeWithHeader(bytes)
        guard header.requestId == outstanding else {
            stale += 1
            return nil
        }
        return message
    }
}
