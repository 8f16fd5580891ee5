/// Client → keeper (tag `events`, after the client's batches, so it never overtakes one): tell
/// me when every event my batches for this story carried so far is durable in the archive.
///
/// The keeper answers with a ``DurableReply`` once the events of this client it accepted for the
/// story before the request are all acknowledged durable (or failed) by the grapher. This is what
/// `flush(durable: true)` waits for: a batch acknowledgement only says the keeper holds the events.
public struct DurableRequest: Sendable, Hashable, WireCodable {
    /// The story.
    public var storyId: StoryID
    /// The asking client.
    public var clientId: ClientID
    /// Chosen by the client to match the reply.
    public var sequence: UInt64
    /// The client's watermark for the story, sent with the request: every event it logged before
    /// lies below it, and every later one will be at or after it. The keeper raises the client's
    /// watermark to it and cuts the story's open range there once every other watermark has passed
    /// it, so the flush does not wait for the range to end. 0: none (the keeper waits as before).
    public var watermark: UInt64

    /// Creates a request.
    public init(storyId: StoryID, clientId: ClientID, sequence: UInt64, watermark: UInt64 = 0) {
        self.storyId = storyId
        self.clientId = clientId
        self.sequence = sequence
        self.watermark = watermark
    }

    func write(to w: inout WireWriter) {
        w.u64(storyId.rawValue); w.u64(clientId.rawValue); w.u64(sequence); w.u64(watermark)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> DurableRequest {
        DurableRequest(storyId: StoryID(rawValue: try r.u64()), clientId: ClientID(rawValue: try r.u64()), sequence: try r.u64(),
                       watermark: try r.u64())
    }
}

/// Keeper → client (tag `flow`): the answer to a ``DurableRequest``.
public struct DurableReply: Sendable, Hashable, WireCodable {
    /// The story.
    public var storyId: StoryID
    /// The client that asked.
    public var clientId: ClientID
    /// The request's sequence.
    public var sequence: UInt64
    /// Events of this client in this story the archive holds durably (counted by this keeper).
    public var durableEvents: UInt64
    /// Events of this client in this story whose archive write failed (never durable).
    public var failedEvents: UInt64
    /// `success` when every event the keeper had accepted before the request is durable;
    /// otherwise why not (the keeper ended with events not durable, or the client is not a writer of the story).
    public var rc: ReturnCode

    /// Creates a reply.
    public init(storyId: StoryID, clientId: ClientID, sequence: UInt64, durableEvents: UInt64, failedEvents: UInt64,
                rc: ReturnCode) {
        self.storyId = storyId
        self.clientId = clientId
        self.sequence = sequence
        self.durableEvents = durableEvents
        self.failedEvents = failedEvents
        self.rc = rc
    }

    func write(to w: inout WireWriter) {
        w.u64(storyId.rawValue); w.u64(clientId.rawValue); w.u64(sequence); w.u64(durableEvents); w.u64(failedEvents)
        w.returnCode(rc)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> DurableReply {
        DurableReply(storyId: StoryID(rawValue: try r.u64()), clientId: ClientID(rawValue: try r.u64()), sequence: try r.u64(),
                     durableEvents: try r.u64(), failedEvents: try r.u64(), rc: try r.returnCode())
    }
}
