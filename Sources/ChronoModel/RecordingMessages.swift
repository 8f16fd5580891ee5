// Bodies of the messages between the visor and the recording processes (keepers, graphers, players)
// and between keepers and their grapher.

/// Body of ``ControlMessage/register(_:)``: a recording process announces itself to the visor.
public struct Registration: Sendable, Hashable, WireCodable {
    /// Keeper, grapher or player.
    public var role: Role
    /// The recording group (one per node).
    public var groupId: UInt32
    /// World rank of the process.
    public var rank: Int32
    /// Host name of the process's node.
    public var hostName: String

    /// Creates a registration.
    public init(role: Role, groupId: UInt32, rank: Int32, hostName: String) {
        self.role = role
        self.groupId = groupId
        self.rank = rank
        self.hostName = hostName
    }

    func write(to w: inout WireWriter) { w.u8(role.recordingCode ?? 0); w.u32(groupId); w.i32(rank); w.string(hostName) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> Registration {
        Registration(role: try r.recordingRole("register.role"), groupId: try r.u32(),
                     rank: try r.i32(), hostName: try r.string("register.hostName"))
    }
}

/// Body of ``ControlMessage/heartbeat(_:)``: liveness and statistics of a recording process.
public struct Heartbeat: Sendable, Hashable, WireCodable {
    /// The sender's role: a recording role (``Role/recording``); another is sent as code 0, which
    /// the receiver refuses as malformed.
    public var role: Role
    /// The sender's group.
    public var groupId: UInt32
    /// The sender's world rank.
    public var rank: Int32
    /// The sender's clock when sent (ns).
    public var sentAt: UInt64
    /// The sender's counters (``Counter``), each with its aggregation.
    public var counters: Counters

    /// Creates a heartbeat.
    public init(role: Role, groupId: UInt32, rank: Int32, sentAt: UInt64, counters: Counters = [:]) {
        self.role = role
        self.groupId = groupId
        self.rank = rank
        self.sentAt = sentAt
        self.counters = counters
    }

    func write(to w: inout WireWriter) {
        w.u8(role.recordingCode ?? 0); w.u32(groupId); w.i32(rank); w.u64(sentAt); w.counters(counters)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> Heartbeat {
        Heartbeat(role: try r.recordingRole("heartbeat.role"), groupId: try r.u32(), rank: try r.i32(),
                  sentAt: try r.u64(), counters: try r.counters("counters"))
    }
}

/// Body of ``ControlMessage/startRecording(_:)`` and ``ControlMessage/stopRecording(_:)``:
/// the visor tells a group's processes to start or stop recording a story.
public struct RecordingNotice: Sendable, Hashable, WireCodable {
    /// The story.
    public var storyId: StoryID
    /// Its chronicle's name.
    public var chronicle: String
    /// Its name.
    public var story: String
    /// The recording group.
    public var groupId: UInt32
    /// The visor's number for this notice, echoed in the ``RecordingAck``.
    public var ticket: UInt64
    /// A start's first holder (the acquiring client; keepers accept its batches from `holderRank`
    /// only), ``ClientID/none`` for a stop.
    public var holder: ClientID
    /// World rank the holder sends from (−1 with no holder).
    public var holderRank: Int32
    /// The keeper the holder sends this story's events to (``AcquireReply/writerKeeper(of:among:)``),
    /// −1 with no holder: that keeper waits for the holder's events from the start.
    public var holderKeeper: Int32

    /// Creates a notice.
    public init(storyId: StoryID, chronicle: String, story: String, groupId: UInt32, ticket: UInt64 = 0,
                holder: ClientID = .none, holderRank: Int32 = -1, holderKeeper: Int32 = -1) {
        self.storyId = storyId
        self.chronicle = chronicle
        self.story = story
        self.groupId = groupId
        self.ticket = ticket
        self.holder = holder
        self.holderRank = holderRank
        self.holderKeeper = holderKeeper
    }

    func write(to w: inout WireWriter) {
        w.u64(storyId.rawValue); w.string(chronicle); w.string(story); w.u32(groupId)
        w.u64(ticket); w.u64(holder.rawValue); w.i32(holderRank); w.i32(holderKeeper)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> RecordingNotice {
        RecordingNotice(storyId: StoryID(rawValue: try r.u64()), chronicle: try r.string("chronicle"),
                        story: try r.string("story"), groupId: try r.u32(), ticket: try r.u64(),
                        holder: ClientID(rawValue: try r.u64()), holderRank: try r.i32(), holderKeeper: try r.i32())
    }
}

/// Body of ``ControlMessage/holder(_:)``: the visor tells a group's processes that a client now
/// holds a recorded story (acquired it; acknowledged, so the client's acquire is answered only once
/// the keepers know) or no longer does (released it). Keepers accept a story's batches and
/// watermarks only from its holders, each from the rank it connected from.
public struct HolderNotice: Sendable, Hashable, WireCodable {
    /// The visor's number for this notice, echoed in the ``RecordingAck``.
    public var ticket: UInt64
    /// The story.
    public var storyId: StoryID
    /// The client.
    public var clientId: ClientID
    /// World rank the client sends from.
    public var clientRank: Int32
    /// Whether the client holds the story from now on (false: it released it).
    public var holds: Bool
    /// The keeper the client sends this story's events to (``AcquireReply/writerKeeper(of:among:)``;
    /// −1 when unknown or for a release): that keeper waits for its events from now on.
    public var writerKeeper: Int32

    /// Creates a notice.
    public init(ticket: UInt64, storyId: StoryID, clientId: ClientID, clientRank: Int32, holds: Bool, writerKeeper: Int32 = -1) {
        self.ticket = ticket
        self.storyId = storyId
        self.clientId = clientId
        self.clientRank = clientRank
        self.holds = holds
        self.writerKeeper = writerKeeper
    }

    func write(to w: inout WireWriter) {
        w.u64(ticket); w.u64(storyId.rawValue); w.u64(clientId.rawValue); w.i32(clientRank); w.bool(holds); w.i32(writerKeeper)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> HolderNotice {
        HolderNotice(ticket: try r.u64(), storyId: StoryID(rawValue: try r.u64()), clientId: ClientID(rawValue: try r.u64()),
                     clientRank: try r.i32(), holds: try r.bool("holder.holds"), writerKeeper: try r.i32())
    }
}

/// Body of ``ControlMessage/readGrant(_:)``: the visor checked a client's right to read a recorded
/// story (`access.read`), so the story's keepers answer that client's "last N" queries sent to them
/// directly, from the rank it connected from, while they record the story. Acknowledged with a
/// ``RecordingAck`` before the client learns the route.
public struct ReadGrant: Sendable, Hashable, WireCodable {
    /// The visor's number for this notice, echoed in the ``RecordingAck``.
    public var ticket: UInt64
    /// The story.
    public var storyId: StoryID
    /// The reader.
    public var clientId: ClientID
    /// World rank the reader sends from.
    public var clientRank: Int32

    /// Creates a grant.
    public init(ticket: UInt64, storyId: StoryID, clientId: ClientID, clientRank: Int32) {
        self.ticket = ticket
        self.storyId = storyId
        self.clientId = clientId
        self.clientRank = clientRank
    }

    func write(to w: inout WireWriter) {
        w.u64(ticket); w.u64(storyId.rawValue); w.u64(clientId.rawValue); w.i32(clientRank)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ReadGrant {
        ReadGrant(ticket: try r.u64(), storyId: StoryID(rawValue: try r.u64()), clientId: ClientID(rawValue: try r.u64()),
                  clientRank: try r.i32())
    }
}

/// Body of ``ControlMessage/recordingAck(_:)``: a process confirms a start/stop or holder notice.
public struct RecordingAck: Sendable, Hashable, WireCodable {
    /// The story.
    public var storyId: StoryID
    /// World rank of the confirming process.
    public var rank: Int32
    /// Outcome.
    public var rc: ReturnCode
    /// The confirmed notice's ticket.
    public var ticket: UInt64

    /// Creates an ack.
    public init(storyId: StoryID, rank: Int32, rc: ReturnCode, ticket: UInt64 = 0) {
        self.storyId = storyId
        self.rank = rank
        self.rc = rc
        self.ticket = ticket
    }

    func write(to w: inout WireWriter) { w.u64(storyId.rawValue); w.i32(rank); w.returnCode(rc); w.u64(ticket) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> RecordingAck {
        RecordingAck(storyId: StoryID(rawValue: try r.u64()), rank: try r.i32(), rc: try r.returnCode(), ticket: try r.u64())
    }
}

/// Body of ``ControlMessage/chunkDescriptor(_:)``: a keeper offers a sealed chunk to its grapher.
/// The grapher RMA-reads `length` bytes at `address` with `key` (the encoded ``StoryChunk``), then acks.
public struct ChunkDescriptor: Sendable, Hashable, WireCodable {
    /// The story.
    public var storyId: StoryID
    /// World rank of the keeper.
    public var keeperRank: Int32
    /// The keeper's sequence number for this transfer (echoed in the ack).
    public var sequence: UInt64
    /// The chunk's time range.
    public var range: TimeRange
    /// The chunk's revision.
    public var revision: UInt32
    /// The keeper's watermark for the story after this chunk (it will send nothing earlier).
    public var watermark: UInt64
    /// Where the piece's record table lies in the keeper's memory: ``eventCount`` records of
    /// ``EventRecord/byteSize`` bytes each, in the wire layout, lent to the grapher in place
    /// (the keeper's sealed chunk itself, not a copy).
    public var recordsAddress: UInt64
    /// Remote key of the record table.
    public var recordsKey: UInt64
    /// Where the piece's payload lies in the keeper's memory: ``payloadBytes`` bytes.
    public var payloadAddress: UInt64
    /// Remote key of the payload.
    public var payloadKey: UInt64
    /// Bytes of the piece's payload.
    public var payloadBytes: UInt64
    /// The payload offset of the piece's first event in the chunk it was cut from: the records'
    /// offsets count from that chunk's first payload byte, so a reader subtracts this from each.
    public var payloadBase: UInt64
    /// Number of events in the piece.
    public var eventCount: UInt64

    /// Creates a descriptor.
    public init(storyId: StoryID, keeperRank: Int32, sequence: UInt64, range: TimeRange, revision: UInt32,
                watermark: UInt64, records: (address: UInt64, key: UInt64), payload: (address: UInt64, key: UInt64),
                payloadBytes: UInt64, payloadBase: UInt64 = 0, eventCount: UInt64) {
        self.storyId = storyId
        self.keeperRank = keeperRank
        self.sequence = sequence
        self.range = range
        self.revision = revision
        self.watermark = watermark
        self.recordsAddress = records.address
        self.recordsKey = records.key
        self.payloadAddress = payload.address
        self.payloadKey = payload.key
        self.payloadBytes = payloadBytes
        self.payloadBase = payloadBase
        self.eventCount = eventCount
    }

    /// Bytes of the piece as one encoded chunk (``StoryChunk/encode()``: header, record table,
    /// payload), the form a grapher reads it into; `UInt64.max` when the claimed sizes overflow.
    public var length: UInt64 {
        let (records, o1) = eventCount.multipliedReportingOverflow(by: UInt64(EventRecord.byteSize))
        let (body, o2) = records.addingReportingOverflow(payloadBytes)
        let (total, o3) = body.addingReportingOverflow(UInt64(StoryChunk.headerByteCount))
        return o1 || o2 || o3 ? UInt64.max : total
    }

    func write(to w: inout WireWriter) {
        w.u64(storyId.rawValue); w.i32(keeperRank); w.u64(sequence); w.u64(range.start); w.u64(range.end)
        w.u32(revision); w.u64(watermark); w.u64(recordsAddress); w.u64(recordsKey); w.u64(payloadAddress); w.u64(payloadKey)
        w.u64(payloadBytes); w.u64(payloadBase); w.u64(eventCount)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ChunkDescriptor {
        ChunkDescriptor(storyId: StoryID(rawValue: try r.u64()), keeperRank: try r.i32(), sequence: try r.u64(),
                        range: try r.timeRange(), revision: try r.u32(), watermark: try r.u64(),
                        records: (try r.u64(), try r.u64()), payload: (try r.u64(), try r.u64()),
                        payloadBytes: try r.u64(), payloadBase: try r.u64(), eventCount: try r.u64())
    }
}

/// Body of ``ControlMessage/watermarks(_:)``: one contributor's watermarks for many stories.
///
/// A client sends its keeper one of these per flusher round for every story it holds there that
/// is idle, instead of one empty batch per story; a keeper sends its grapher one per poll for the
/// stories whose reports are due. A watermark only raises the contributor's watermark of a story
/// the receiver records and in which the contributor is registered (a client registers by its
/// first batch, a keeper by being in the grapher's group); it never registers a contributor, so
/// one that crossed a release on the wire cannot hold the story open again.
public struct WatermarkSet: Sendable, Hashable, WireCodable {
    /// One story's watermark: nothing earlier will come from the contributor.
    public struct Entry: Sendable, Hashable {
        /// The story.
        public var storyId: StoryID
        /// The watermark (ns, visor time).
        public var watermark: UInt64
        /// Keeper → grapher: the recording the report belongs to (the ticket of its start notice).
        /// A keeper's "finished" (`UInt64.max`) may reach the grapher after the visor's next start of
        /// the same story; it must not end that new recording. Clients send 0.
        public var recording: UInt64

        /// Creates an entry.
        public init(storyId: StoryID, watermark: UInt64, recording: UInt64 = 0) {
            self.storyId = storyId
            self.watermark = watermark
            self.recording = recording
        }
    }

    /// The contributor: the client id (client → keeper) or the keeper's world rank (keeper → grapher).
    public var contributor: UInt64
    /// The stories' watermarks.
    public var entries: [Entry]

    /// Creates the set.
    public init(contributor: UInt64, entries: [Entry]) {
        self.contributor = contributor
        self.entries = entries
    }

    /// Encoded size of a set of `entries` entries, header included.
    public static func encodedByteCount(entries: Int) -> Int { MessageHeader.byteCount + 12 + 24 * entries }

    func write(to w: inout WireWriter) {
        w.u64(contributor)
        w.u32(UInt32(entries.count))
        for e in entries { w.u64(e.storyId.rawValue); w.u64(e.watermark); w.u64(e.recording) }
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> WatermarkSet {
        let contributor = try r.u64()
        let n = try r.count("watermarks.entries", limit: UInt64(r.limits.maxListCount), minElementBytes: 24)
        var entries: [Entry] = []
        entries.reserveCapacity(n)
        for _ in 0..<n {
            entries.append(Entry(storyId: StoryID(rawValue: try r.u64()), watermark: try r.u64(), recording: try r.u64()))
        }
        return WatermarkSet(contributor: contributor, entries: entries)
    }
}

/// Body of ``ControlMessage/chunkAck(_:)``: the grapher reports a chunk durable (rc = success) or failed.
/// A keeper frees a chunk only after a durable ack.
public struct ChunkAck: Sendable, Hashable, WireCodable {
    /// The story.
    public var storyId: StoryID
    /// The descriptor's sequence number.
    public var sequence: UInt64
    /// `success` when durable (or, with `received`, read); otherwise why not.
    public var rc: ReturnCode
    /// Error detail.
    public var detail: String
    /// A first acknowledgement: the grapher has read the chunk out of the keeper's slot, which the
    /// keeper can then reuse (it keeps the chunk's events for replays until the final one). The
    /// final acknowledgement (`received` false) says whether the chunk became durable.
    public var received: Bool

    /// Creates an ack.
    public init(storyId: StoryID, sequence: UInt64, rc: ReturnCode, detail: String = "", received: Bool = false) {
        self.storyId = storyId
        self.sequence = sequence
        self.rc = rc
        self.detail = detail
        self.received = received
    }

    /// Whether the chunk is durable.
    public var isDurable: Bool { rc == .success && !received }

    func write(to w: inout WireWriter) {
        w.u64(storyId.rawValue); w.u64(sequence); w.returnCode(rc); w.string(detail); w.bool(received)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ChunkAck {
        ChunkAck(storyId: StoryID(rawValue: try r.u64()), sequence: try r.u64(), rc: try r.returnCode(),
                 detail: try r.string("chunkAck.detail"), received: try r.bool("chunkAck.received"))
    }
}

/// Body of ``ControlMessage/shutdown(_:)``.
public struct ShutdownRequest: Sendable, Hashable, WireCodable {
    /// Flush and archive everything buffered before stopping (true), or stop at once (false).
    public var drain: Bool
    /// How long a drain may go without progress before it is abandoned, in ms (at least 60 s is
    /// used: `RecordingProcess.minimumDrainStallLimit`); a drain that progresses is never cut short.
    public var deadlineMilliseconds: UInt64
    /// Why (for logs).
    public var reason: String

    /// Creates a shutdown request.
    public init(drain: Bool, deadlineMilliseconds: UInt64, reason: String = "") {
        self.drain = drain
        self.deadlineMilliseconds = deadlineMilliseconds
        self.reason = reason
    }

    func write(to w: inout WireWriter) { w.bool(drain); w.u64(deadlineMilliseconds); w.string(reason) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ShutdownRequest {
        ShutdownRequest(drain: try r.bool("shutdown.drain"), deadlineMilliseconds: try r.u64(),
                        reason: try r.string("shutdown.reason"))
    }
}

/// Body of ``ControlMessage/shutdownComplete(_:)``: a process reports it drained and stopped.
public struct ShutdownComplete: Sendable, Hashable, WireCodable {
    /// World rank of the process.
    public var rank: Int32
    /// `success`, or why draining failed.
    public var rc: ReturnCode
    /// Events still buffered and not durable at stop (0 after a clean drain).
    public var undrainedEvents: UInt64

    /// Creates the report.
    public init(rank: Int32, rc: ReturnCode, undrainedEvents: UInt64 = 0) {
        self.rank = rank
        self.rc = rc
        self.undrainedEvents = undrainedEvents
    }

    func write(to w: inout WireWriter) { w.i32(rank); w.returnCode(rc); w.u64(undrainedEvents) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ShutdownComplete {
        ShutdownComplete(rank: try r.i32(), rc: try r.returnCode(), undrainedEvents: try r.u64())
    }
}

/// Body of ``ControlMessage/batchAck(_:)``: a keeper accepted (or refused) one event batch.
///
/// Acknowledgements are the flow control of ingest: a keeper over its memory bound holds them
/// back, so writers wait instead of the keeper's memory growing.
public struct BatchAck: Sendable, Hashable, WireCodable {
    /// The batch's story.
    public var storyId: StoryID
    /// The batch's client.
    public var clientId: ClientID
    /// The index of the batch's first event (identifies the batch).
    public var firstIndex: UInt32
    /// Events the batch carried.
    public var count: UInt32
    /// Events the keeper refused (counted and reported; `rc` says why when not zero).
    public var rejected: UInt32
    /// Outcome.
    public var rc: ReturnCode

    /// Creates an acknowledgement.
    public init(storyId: StoryID, clientId: ClientID, firstIndex: UInt32, count: UInt32, rejected: UInt32 = 0,
                rc: ReturnCode = .success) {
        self.storyId = storyId
        self.clientId = clientId
        self.firstIndex = firstIndex
        self.count = count
        self.rejected = rejected
        self.rc = rc
    }

    func write(to w: inout WireWriter) {
        w.u64(storyId.rawValue); w.u64(clientId.rawValue); w.u32(firstIndex); w.u32(count); w.u32(rejected)
        w.returnCode(rc)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> BatchAck {
        BatchAck(storyId: StoryID(rawValue: try r.u64()), clientId: ClientID(rawValue: try r.u64()), firstIndex: try r.u32(),
                 count: try r.u32(), rejected: try r.u32(), rc: try r.returnCode())
    }
}
