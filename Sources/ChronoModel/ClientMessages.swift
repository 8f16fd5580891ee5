// Bodies of the messages between a client and the visor.

/// Body of ``ControlMessage/connect(_:)``: a client introduces itself to the visor.
public struct ConnectRequest: Sendable, Hashable, WireCodable {
    /// The client's protocol version (also in the header; repeated so a reply can name it).
    public var protocolVersion: UInt16
    /// Host name of the client process.
    public var hostName: String
    /// Process id of the client.
    public var pid: UInt32
    /// MPI rank of the client in the job's world communicator.
    public var rank: Int32
    /// The client's identity for chronicle access (`owner`, `access.write`, `access.read`): the name
    /// given to the client, by default the process's user name. Empty: the visor refuses the connect (−2).
    public var user: String
    /// Requested mode.
    public var mode: ClientMode

    /// Creates a connect request.
    public init(protocolVersion: UInt16 = ChronoModelVersion.protocolVersion, hostName: String, pid: UInt32,
                rank: Int32, user: String = "", mode: ClientMode) {
        self.protocolVersion = protocolVersion
        self.hostName = hostName
        self.pid = pid
        self.rank = rank
        self.user = user
        self.mode = mode
    }

    func write(to w: inout WireWriter) {
        w.u16(protocolVersion); w.string(hostName); w.u32(pid); w.i32(rank); w.string(user); w.u8(mode.rawValue)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ConnectRequest {
        ConnectRequest(protocolVersion: try r.u16(), hostName: try r.string("connect.hostName"), pid: try r.u32(),
                       rank: try r.i32(), user: try r.string("connect.user"), mode: try r.enumValue(ClientMode.self, "connect.mode"))
    }
}

/// Body of ``ControlMessage/connectReply(_:)``.
public struct ConnectReply: Sendable, Hashable, WireCodable {
    /// Outcome.
    public var rc: ReturnCode
    /// The job-unique id assigned to the client (``ClientID/none`` on failure).
    public var clientId: ClientID
    /// The visor's clock when it replied (ns), a first clock sample.
    public var visorTime: UInt64
    /// Error detail when `rc` is not success.
    public var detail: String
    /// The boot id of the visor's host when its event time is that host's `CLOCK_REALTIME`
    /// (empty otherwise): a client on the same boot of the same host reads the same clock, so its
    /// offset is exactly 0, with no ping-pong to estimate it (nor the estimate's error).
    public var visorHostBoot: [UInt8]
    /// The service's `grapher.archiveIntervalMs` (0: not said): how long a durable flush may wait
    /// for an archive round, whatever the client's own configuration says.
    public var archiveIntervalMs: UInt32

    /// Creates a connect reply.
    public init(rc: ReturnCode, clientId: ClientID, visorTime: UInt64, detail: String = "", visorHostBoot: [UInt8] = [],
                archiveIntervalMs: UInt32 = 0) {
        self.rc = rc
        self.clientId = clientId
        self.visorTime = visorTime
        self.detail = detail
        self.visorHostBoot = visorHostBoot
        self.archiveIntervalMs = archiveIntervalMs
    }

    func write(to w: inout WireWriter) {
        w.returnCode(rc); w.u64(clientId.rawValue); w.u64(visorTime); w.string(detail); w.blob(visorHostBoot); w.u32(archiveIntervalMs)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ConnectReply {
        ConnectReply(rc: try r.returnCode(), clientId: ClientID(rawValue: try r.u64()), visorTime: try r.u64(),
                     detail: try r.string("connectReply.detail"), visorHostBoot: try r.blob("connectReply.visorHostBoot"),
                     archiveIntervalMs: try r.u32())
    }
}

/// Body of ``ControlMessage/clockPing(_:)``: the client's half of a clock-offset measurement.
public struct ClockPing: Sendable, Hashable, WireCodable {
    /// Sample number, echoed in the pong.
    public var sequence: UInt32
    /// Client clock when the ping was sent (ns).
    public var clientSendTime: UInt64

    /// Creates a ping.
    public init(sequence: UInt32, clientSendTime: UInt64) {
        self.sequence = sequence
        self.clientSendTime = clientSendTime
    }

    func write(to w: inout WireWriter) { w.u32(sequence); w.u64(clientSendTime) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ClockPing {
        ClockPing(sequence: try r.u32(), clientSendTime: try r.u64())
    }
}

/// Body of ``ControlMessage/clockPong(_:)``: the visor's answer to a ``ClockPing``.
public struct ClockPong: Sendable, Hashable, WireCodable {
    /// The ping's sample number.
    public var sequence: UInt32
    /// The ping's send time, echoed.
    public var clientSendTime: UInt64
    /// The visor's clock when it answered (ns).
    public var visorTime: UInt64

    /// Creates a pong.
    public init(sequence: UInt32, clientSendTime: UInt64, visorTime: UInt64) {
        self.sequence = sequence
        self.clientSendTime = clientSendTime
        self.visorTime = visorTime
    }

    func write(to w: inout WireWriter) { w.u32(sequence); w.u64(clientSendTime); w.u64(visorTime) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ClockPong {
        ClockPong(sequence: try r.u32(), clientSendTime: try r.u64(), visorTime: try r.u64())
    }
}

/// Body of ``ControlMessage/createChronicle(_:)``.
public struct CreateChronicleRequest: Sendable, Hashable, WireCodable {
    /// The requesting client.
    public var clientId: ClientID
    /// Chronicle name (validated by the visor, which answers `CL_ERR_INVALID_ARG` for a bad one).
    public var chronicle: String
    /// Chronicle attributes.
    public var attributes: [String: String]
    /// Creation flags.
    public var flags: UInt32

    /// Creates the request.
    public init(clientId: ClientID, chronicle: String, attributes: [String: String] = [:], flags: UInt32 = 0) {
        self.clientId = clientId
        self.chronicle = chronicle
        self.attributes = attributes
        self.flags = flags
    }

    func write(to w: inout WireWriter) {
        w.u64(clientId.rawValue); w.string(chronicle); w.attributes(attributes); w.u32(flags)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> CreateChronicleRequest {
        CreateChronicleRequest(clientId: ClientID(rawValue: try r.u64()), chronicle: try r.string("chronicle"),
                               attributes: try r.attributes("attributes"), flags: try r.u32())
    }
}

/// Body of ``ControlMessage/destroyChronicle(_:)`` and ``ControlMessage/showStories(_:)``.
public struct ChronicleRequest: Sendable, Hashable, WireCodable {
    /// The requesting client.
    public var clientId: ClientID
    /// Chronicle name.
    public var chronicle: String

    /// Creates the request.
    public init(clientId: ClientID, chronicle: String) {
        self.clientId = clientId
        self.chronicle = chronicle
    }

    func write(to w: inout WireWriter) { w.u64(clientId.rawValue); w.string(chronicle) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ChronicleRequest {
        ChronicleRequest(clientId: ClientID(rawValue: try r.u64()), chronicle: try r.string("chronicle"))
    }
}

/// Body of ``ControlMessage/acquireStory(_:)``, ``ControlMessage/releaseStory(_:)`` and
/// ``ControlMessage/destroyStory(_:)`` (attributes and flags are empty for the last two;
/// `eventCount` is the releasing client's event count, 0 otherwise).
public struct StoryRequest: Sendable, Hashable, WireCodable {
    /// The requesting client.
    public var clientId: ClientID
    /// Chronicle name.
    public var chronicle: String
    /// Story name.
    public var story: String
    /// Story attributes (acquire only).
    public var attributes: [String: String]
    /// Flags (acquire only).
    public var flags: UInt32
    /// Release only: how many events the client wrote to the story (its next index: indexes
    /// 0..<eventCount), recorded in the archive catalog so `chronolog verify` can tell a complete story.
    public var eventCount: UInt64

    /// Creates the request.
    public init(clientId: ClientID, chronicle: String, story: String, attributes: [String: String] = [:], flags: UInt32 = 0,
                eventCount: UInt64 = 0) {
        self.clientId = clientId
        self.chronicle = chronicle
        self.story = story
        self.attributes = attributes
        self.flags = flags
        self.eventCount = eventCount
    }

    func write(to w: inout WireWriter) {
        w.u64(clientId.rawValue); w.string(chronicle); w.string(story); w.attributes(attributes); w.u32(flags); w.u64(eventCount)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> StoryRequest {
        StoryRequest(clientId: ClientID(rawValue: try r.u64()), chronicle: try r.string("chronicle"),
                     story: try r.string("story"), attributes: try r.attributes("attributes"), flags: try r.u32(),
                     eventCount: try r.u64())
    }
}

/// Body of ``ControlMessage/reply(_:)``: the generic answer (return code + detail text).
public struct GenericReply: Sendable, Hashable, WireCodable {
    /// Outcome.
    public var rc: ReturnCode
    /// Human-readable detail (empty on success).
    public var detail: String

    /// Creates a reply.
    public init(rc: ReturnCode, detail: String = "") {
        self.rc = rc
        self.detail = detail
    }

    /// The reply for `error` (its code and ``ChronoLogError/replyDetail``).
    public init(_ error: ChronoLogError) {
        self.init(rc: error.returnCode, detail: error.replyDetail)
    }

    /// The error this reply carries, or `nil` on success.
    public var error: ChronoLogError? { ChronoLogError(code: rc, detail: detail) }

    func write(to w: inout WireWriter) { w.returnCode(rc); w.string(detail) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> GenericReply {
        GenericReply(rc: try r.returnCode(), detail: try r.string("reply.detail"))
    }
}

/// Body of ``ControlMessage/nameList(_:)``: the answer to `ShowChronicles` / `ShowStories`.
public struct NameListReply: Sendable, Hashable, WireCodable {
    /// Outcome.
    public var rc: ReturnCode
    /// The names (empty on failure).
    public var names: [String]

    /// Creates the reply.
    public init(rc: ReturnCode, names: [String]) {
        self.rc = rc
        self.names = names
    }

    func write(to w: inout WireWriter) { w.returnCode(rc); w.strings(names) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> NameListReply {
        NameListReply(rc: try r.returnCode(), names: try r.strings("names"))
    }
}

/// Body of ``ControlMessage/acquireReply(_:)``: where a story is recorded.
public struct AcquireReply: Sendable, Hashable, WireCodable {
    /// Outcome.
    public var rc: ReturnCode
    /// The story's id.
    public var storyId: StoryID
    /// The recording group assigned to the story.
    public var groupId: UInt32
    /// World ranks of the group's keepers (the client spreads its batches over them).
    public var keeperRanks: [Int32]
    /// World rank of the group's grapher.
    public var grapherRank: Int32
    /// World rank of the group's player.
    public var playerRank: Int32
    /// Error detail when `rc` is not success.
    public var detail: String

    /// Creates the reply.
    public init(rc: ReturnCode, storyId: StoryID, groupId: UInt32, keeperRanks: [Int32], grapherRank: Int32,
                playerRank: Int32, detail: String = "") {
        self.rc = rc
        self.storyId = storyId
        self.groupId = groupId
        self.keeperRanks = keeperRanks
        self.grapherRank = grapherRank
        self.playerRank = playerRank
        self.detail = detail
    }

    func write(to w: inout WireWriter) {
        w.returnCode(rc); w.u64(storyId.rawValue); w.u32(groupId); w.ranks(keeperRanks)
        w.i32(grapherRank); w.i32(playerRank); w.string(detail)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> AcquireReply {
        AcquireReply(rc: try r.returnCode(), storyId: StoryID(rawValue: try r.u64()), groupId: try r.u32(),
                     keeperRanks: try r.ranks("keeperRanks"), grapherRank: try r.i32(), playerRank: try r.i32(),
                     detail: try r.string("acquireReply.detail"))
    }

    /// The keeper of `keepers` (a group's, in the visor's order) that `client` sends a story's
    /// events to: one per client, so its batches keep their order, spread over the group by
    /// client id. The visor names it in its notices, so that keeper waits for the client from
    /// its acquire on (−1 with no keeper).
    public static func writerKeeper(of client: ClientID, among keepers: [Int32]) -> Int32 {
        keepers.isEmpty ? -1 : keepers[Int(client.rawValue % UInt64(keepers.count))]
    }
}
