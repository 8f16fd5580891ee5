// Bodies of the replay messages: client → visor → player, player ↔ keepers, player ↔ grapher.

/// Body of ``ControlMessage/replayRequest(_:)``: `ReplayStory(chronicle, story, start, end)`.
///
/// A client sends it to the visor, which fills in `clientRank`, `keeperRanks` and `storyKnown`
/// and forwards it to the player of the story's recording group. The player sends the same
/// message (with its own query id) to each of those keepers to collect the events they still hold.
public struct ReplayRequest: Sendable, Hashable, WireCodable {
    /// Sender-chosen id, unique among the sender's queries in flight.
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
    /// World rank the answer goes to (set by the visor from the sender's rank; a client's value is ignored).
    public var clientRank: Int32
    /// Keepers that may hold events of the story not yet archived (set by the visor: the keepers
    /// of the group recording the story, or of the last group that recorded it).
    public var keeperRanks: [Int32]
    /// Whether the story exists in the visor's directory (set by the visor). When it does not, a
    /// story absent from the archive too is answered with `CL_ERR_NOT_EXIST`.
    public var storyKnown: Bool
    /// The client's fabric endpoint address: large pieces are offered for an RMA read from the
    /// player's registered memory. Empty: every piece travels inline.
    public var readerAddress: [UInt8]
    /// Events the player leaves out (set by the visor from the archive catalog): those of an earlier
    /// incarnation of a story destroyed and created again.
    public var hidden: [HiddenEvents]
    /// 0: every event of the range. N > 0: only the last N events of the range — of the part
    /// before `completeBefore` while the story is recorded — answered from the keepers' memory
    /// where they still hold them, from the archive for the rest ("last N", ChronoLog 3.1). To a
    /// keeper: at most its last N events of the range (``ReplayPiece/coveredFrom`` says from where
    /// its answer holds all of them).
    public var lastCount: UInt32
    /// With N > 0: the reader already has the keepers' own last-N answers (asked directly) and the
    /// range ends where they cover every event (``KeeperLastAnswers/coveredFrom``); the player skips
    /// its own first round with the keepers and reads the range as a whole (the keepers' events in
    /// it, then the archive), keeping its last N.
    public var belowKeepers: Bool
    /// Writers of earlier jobs in the story's current incarnation, with what the archive catalog
    /// says they logged (set by the visor). Their events can only be in the archive: when the
    /// archive lacks a writer's tail and the range reaches past its last archived event, the
    /// answer is partial (`CL_ERR_PARTIAL_RESULT`) and says so. Writers of the running job are
    /// not listed (their events are archived or still in keepers' memory).
    public var earlierWriters: [EarlierWriter]
    /// Whether the reader runs on the player's node (set by the visor from the job's node map; a
    /// client's value is ignored). Only then may a piece name the archive file its payload lies in
    /// (``RemotePiece/payloadFile``): ranks of different nodes share no memory, not even a file's
    /// page cache, also where virtual nodes rehearse a cluster on one host.
    public var readerOnPlayerNode: Bool = false

    /// A writer of an earlier job: its client id, its first visible index and its event count.
    public struct EarlierWriter: Sendable, Hashable {
        /// The writer's client id.
        public var client: UInt64
        /// Its first index in the story's current incarnation (0 unless an earlier incarnation's
        /// events are hidden).
        public var first: UInt64
        /// Its events are indexes `first..<count`; `nil` when it never released the story (its
        /// tail is unknown).
        public var count: UInt64?

        /// Creates the entry.
        public init(client: UInt64, first: UInt64, count: UInt64?) {
            self.client = client
            self.first = first
            self.count = count
        }
    }

    /// A writer's events hidden from replays: those with index below `below` (`UInt64.max`: all).
    public struct HiddenEvents: Sendable, Hashable {
        /// The writer's client id.
        public var client: UInt64
        /// Its events with a smaller index are hidden.
        public var below: UInt64

        /// Creates the entry.
        public init(client: UInt64, below: UInt64) {
            self.client = client
            self.below = below
        }
    }

    /// Whether the event record `r` is one of the ``hidden`` events.
    public func hides(_ r: EventRecord) -> Bool {
        hidden.contains { $0.client == r.clientId && UInt64(r.index) < $0.below }
    }

    /// Creates a request.
    public init(queryId: UInt64, clientId: ClientID, chronicle: String, story: String, range: TimeRange,
                timeoutMilliseconds: UInt64, clientRank: Int32 = -1, keeperRanks: [Int32] = [], storyKnown: Bool = false,
                readerAddress: [UInt8] = [], hidden: [HiddenEvents] = [], lastCount: UInt32 = 0, belowKeepers: Bool = false,
                earlierWriters: [EarlierWriter] = [], readerOnPlayerNode: Bool = false) {
        self.queryId = queryId
        self.clientId = clientId
        self.chronicle = chronicle
        self.story = story
        self.range = range
        self.timeoutMilliseconds = timeoutMilliseconds
        self.clientRank = clientRank
        self.keeperRanks = keeperRanks
        self.storyKnown = storyKnown
        self.readerAddress = readerAddress
        self.hidden = hidden
        self.lastCount = lastCount
        self.belowKeepers = belowKeepers
        self.earlierWriters = earlierWriters
        self.readerOnPlayerNode = readerOnPlayerNode
    }

    func write(to w: inout WireWriter) {
        w.u64(queryId); w.u64(clientId.rawValue); w.string(chronicle); w.string(story)
        w.u64(range.start); w.u64(range.end); w.u64(timeoutMilliseconds)
        w.i32(clientRank); w.ranks(keeperRanks); w.bool(storyKnown); w.blob(readerAddress)
        w.u32(UInt32(truncatingIfNeeded: hidden.count))
        for h in hidden { w.u64(h.client); w.u64(h.below) }
        w.u32(lastCount); w.bool(belowKeepers)
        w.u32(UInt32(truncatingIfNeeded: earlierWriters.count))
        for e in earlierWriters { w.u64(e.client); w.u64(e.first); w.u64(e.count ?? .max) }
        w.bool(readerOnPlayerNode)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ReplayRequest {
        ReplayRequest(queryId: try r.u64(), clientId: ClientID(rawValue: try r.u64()), chronicle: try r.string("chronicle"),
                      story: try r.string("story"), range: try r.timeRange(), timeoutMilliseconds: try r.u64(),
                      clientRank: try r.i32(), keeperRanks: try r.ranks("replay.keeperRanks"),
                      storyKnown: try r.bool("replay.storyKnown"), readerAddress: try r.blob("replay.readerAddress"),
                      hidden: try hiddenList(from: &r), lastCount: try r.u32(), belowKeepers: try r.bool("replay.belowKeepers"),
                      earlierWriters: try earlierList(from: &r), readerOnPlayerNode: try r.bool("replay.readerOnPlayerNode"))
    }

    private static func earlierList(from r: inout WireReader) throws(ChronoLogError) -> [EarlierWriter] {
        let n = try r.count("replay.earlierWriters", limit: UInt64(r.limits.maxListCount), minElementBytes: 24)
        var list: [EarlierWriter] = []
        list.reserveCapacity(n)
        for _ in 0..<n {
            let client = try r.u64(), first = try r.u64(), count = try r.u64()
            list.append(EarlierWriter(client: client, first: first, count: count == .max ? nil : count))
        }
        return list
    }

    private static func hiddenList(from r: inout WireReader) throws(ChronoLogError) -> [HiddenEvents] {
        let n = try r.count("replay.hidden", limit: UInt64(r.limits.maxListCount), minElementBytes: 16)
        var list: [HiddenEvents] = []
        list.reserveCapacity(n)
        for _ in 0..<n { list.append(HiddenEvents(client: try r.u64(), below: try r.u64())) }
        return list
    }
}

/// Body of ``ControlMessage/replayPiece(_:)``: one piece of a replay answer (player → client, or
/// keeper → player).
///
/// Pieces are numbered from 0 and sent in event order; the one with `isLast` ends the query.
/// Each carries at most `player.pieceBytes` of encoded events. A failure is a single last piece
/// whose `rc` says why.
public struct ReplayPiece: Sendable, Hashable, WireCodable {
    /// The query answered.
    public var queryId: UInt64
    /// Outcome of the query (a failure is sent as a single last piece).
    public var rc: ReturnCode
    /// Piece number, from 0.
    public var pieceNumber: UInt32
    /// Whether this is the last piece.
    public var isLast: Bool
    /// The events of this piece, if any.
    public var chunk: StoryChunk?
    /// In the last piece: every event with a time before this is in the answer, except events
    /// that arrive late (after their range was sealed). `follow` advances by it.
    public var completeBefore: UInt64
    /// In the last piece: whether the story was still being recorded when the query was answered.
    public var recording: Bool
    /// In a keeper's last piece: every event of this keeper with a time at or after this (and in
    /// the query's range) is in its answer — held in memory, never archived yet, and not left out
    /// by a "last N" limit. `UInt64.max`: the keeper cannot say (it does not record the story).
    public var coveredFrom: UInt64
    /// Why the query failed (empty on success).
    public var detail: String
    /// Instead of an inline chunk: where the encoded chunk waits in the player's registered
    /// memory, for the client to read by RMA (then acknowledge, which frees it).
    public var remote: RemotePiece?

    /// Creates a piece.
    public init(queryId: UInt64, rc: ReturnCode, pieceNumber: UInt32, isLast: Bool, chunk: StoryChunk?,
                completeBefore: UInt64 = 0, recording: Bool = false, detail: String = "", remote: RemotePiece? = nil,
                coveredFrom: UInt64 = .max) {
        self.queryId = queryId
        self.rc = rc
        self.pieceNumber = pieceNumber
        self.isLast = isLast
        self.chunk = chunk
        self.completeBefore = completeBefore
        self.recording = recording
        self.detail = detail
        self.remote = remote
        self.coveredFrom = coveredFrom
    }

    func write(to w: inout WireWriter) {
        w.u64(queryId); w.returnCode(rc); w.u32(pieceNumber); w.bool(isLast); w.u64(completeBefore); w.bool(recording)
        w.u64(coveredFrom)
        w.string(detail)
        w.bool(remote != nil)
        if let remote {
            w.u64(remote.address); w.u64(remote.key); w.u64(remote.length); w.u64(remote.eventCount); w.blob(remote.playerAddress)
            w.u32(UInt32(remote.payloadSegments.count))
            for s in remote.payloadSegments { w.u64(s.address); w.u64(s.key); w.u64(s.length) }
            w.bool(remote.payloadFile != nil)
            if let f = remote.payloadFile {
                w.blob(f.bootId); w.string(f.path); w.u64(f.identity.device); w.u64(f.identity.inode)
                for o in f.offsets { w.u64(o) }
            }
        }
        w.bool(chunk != nil)
        chunk?.encode(into: &w.bytes)
    }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ReplayPiece {
        let queryId = try r.u64()
        let rc = try r.returnCode()
        let piece = try r.u32()
        let isLast = try r.bool("replayPiece.isLast")
        let completeBefore = try r.u64()
        let recording = try r.bool("replayPiece.recording")
        let coveredFrom = try r.u64()
        let detail = try r.string("replayPiece.detail")
        var remote: RemotePiece?
        if try r.bool("replayPiece.hasRemote") {
            var piece = RemotePiece(address: try r.u64(), key: try r.u64(), length: try r.u64(), eventCount: try r.u64(),
                                    playerAddress: try r.blob("replayPiece.playerAddress"))
            let count = Int(try r.u32())
            guard count <= RemotePiece.maxPayloadSegments else {
                throw .malformedMessage(.limitExceeded(field: "replayPiece.payloadSegments", value: UInt64(count),
                                                       limit: UInt64(RemotePiece.maxPayloadSegments)))
            }
            for _ in 0..<count {
                piece.payloadSegments.append(RemoteSegment(address: try r.u64(), key: try r.u64(), length: try r.u64()))
            }
            if try r.bool("replayPiece.hasPayloadFile") {
                guard count > 0 else {
                    throw .malformedMessage(.inconsistent("replay piece names a payload file but no payload segments"))
                }
                var file = RemoteFile(bootId: try r.blob("replayPiece.bootId"), path: try r.string("replayPiece.path"),
                                      identity: FileIdentity(device: try r.u64(), inode: try r.u64()), offsets: [])
                file.offsets.reserveCapacity(count)
                for _ in 0..<count { file.offsets.append(try r.u64()) }
                piece.payloadFile = file
            }
            remote = piece
        }
        let hasChunk = try r.bool("replayPiece.hasChunk")
        let chunk = hasChunk ? try StoryChunk.read(from: &r) : nil
        return ReplayPiece(queryId: queryId, rc: rc, pieceNumber: piece, isLast: isLast, chunk: chunk,
                           completeBefore: completeBefore, recording: recording, detail: detail, remote: remote,
                           coveredFrom: coveredFrom)
    }
}

/// Where a replay piece waits in a player's registered memory (``ReplayPiece/remote``).
public struct RemotePiece: Sendable, Hashable {
    /// Remote address of the encoded chunk.
    public var address: UInt64
    /// Remote memory key.
    public var key: UInt64
    /// Length of the encoded chunk, in bytes (at most `player.pieceBytes` plus the chunk header,
    /// or one event's size when a single event is larger).
    public var length: UInt64
    /// Events in the chunk.
    public var eventCount: UInt64
    /// The player's fabric endpoint address.
    public var playerAddress: [UInt8]
    /// Empty: the whole encoded chunk lies at `address`. Otherwise the chunk's header and record
    /// table lie there, and its payload — `length` minus those bytes — in these segments, in order
    /// (a player lends a window's payload where it lies in the mapped archive file).
    public var payloadSegments: [RemoteSegment] = []
    /// Where the payload segments lie in the player's archive file, when the reader runs on the
    /// player's node (``ReplayRequest/readerOnPlayerNode``): such a reader may copy them from the
    /// file mapped read-only instead of reading them by RMA, and reads them by RMA when it cannot.
    public var payloadFile: RemoteFile? = nil

    /// The most payload segments a piece may name (a piece of 64 MiB in 1-MiB HDF5 chunks needs 65).
    public static let maxPayloadSegments = 4096

    /// Creates a descriptor.
    public init(address: UInt64, key: UInt64, length: UInt64, eventCount: UInt64, playerAddress: [UInt8],
                payloadSegments: [RemoteSegment] = [], payloadFile: RemoteFile? = nil) {
        self.address = address
        self.key = key
        self.length = length
        self.eventCount = eventCount
        self.playerAddress = playerAddress
        self.payloadSegments = payloadSegments
        self.payloadFile = payloadFile
    }
}

extension RemotePiece {
    /// Where the piece's payload lies, for a reader whose piece has `headBytes` of header and
    /// record table: `(offset, address, key, length)` per part, `offset` counted from the payload's
    /// start. Without segments the payload follows the head at ``address``; with them, the
    /// segments must hold the payload exactly (`length - headBytes` bytes), or a reader would read
    /// past what it allocated, or leave part of its payload unread.
    /// - Throws: `.malformedMessage` when ``length`` exceeds `Int.max`, `headBytes` exceeds
    ///   ``length``, or the segments do not add up to the payload.
    public func payloadLayout(headBytes: Int) throws(ChronoLogError) -> [(offset: Int, remoteAddress: UInt64, key: UInt64, length: Int)] {
        guard length <= UInt64(Int.max) else {
            throw .malformedMessage(.limitExceeded(field: "replayPiece.length", value: length, limit: UInt64(Int.max)))
        }
        guard headBytes >= 0, UInt64(headBytes) <= length else {
            throw .malformedMessage(.inconsistent("replay piece of \(length) bytes is shorter than its \(headBytes)-byte head"))
        }
        let payloadBytes = Int(length) - headBytes
        guard !payloadSegments.isEmpty else { return [(0, address &+ UInt64(headBytes), key, payloadBytes)] }
        var layout: [(offset: Int, remoteAddress: UInt64, key: UInt64, length: Int)] = []
        layout.reserveCapacity(payloadSegments.count)
        var at = 0
        for s in payloadSegments {
            guard s.length <= UInt64(payloadBytes - at) else {
                throw .malformedMessage(.inconsistent("replay piece's payload segments exceed its \(payloadBytes) payload bytes"))
            }
            layout.append((at, s.address, s.key, Int(s.length)))
            at += Int(s.length)
        }
        guard at == payloadBytes else {
            throw .malformedMessage(.inconsistent("replay piece's payload segments hold \(at) of its \(payloadBytes) payload bytes"))
        }
        return layout
    }
}

extension RemotePiece {
    /// Where the piece's payload lies in ``payloadFile``, for a reader whose piece has `headBytes`
    /// of header and record table: `(offset, fileOffset, length)` per segment, `offset` counted
    /// from the payload's start; nil when the piece names no file.
    /// - Throws: what ``payloadLayout(headBytes:)`` throws, and `.malformedMessage` when the file
    ///   names another number of offsets than there are segments.
    public func fileLayout(headBytes: Int) throws(ChronoLogError) -> [(offset: Int, fileOffset: UInt64, length: Int)]? {
        guard let file = payloadFile else { return nil }
        guard file.offsets.count == payloadSegments.count else {
            throw .malformedMessage(.inconsistent(
                "replay piece names \(file.offsets.count) file offsets for its \(payloadSegments.count) payload segments"))
        }
        return zip(try payloadLayout(headBytes: headBytes), file.offsets).map { ($0.offset, $1, $0.length) }
    }
}

/// Which file a path named when it was opened: the device and inode `fstat` reported. Two paths
/// (or one path at two times) name the same file on a host only when these agree.
public struct FileIdentity: Sendable, Hashable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    public var description: String { "device \(device) inode \(inode)" }
}

/// The archive file a piece's payload lies in (``RemotePiece/payloadFile``): the host's boot,
/// the path and identity of the file, and each payload segment's offset in it. A reader maps the
/// file only when its own host has booted as `bootId` and the file at `path` is `identity`.
public struct RemoteFile: Sendable, Hashable {
    /// The player's host's boot id (`/proc/sys/kernel/random/boot_id`).
    public var bootId: [UInt8]
    public var path: String
    public var identity: FileIdentity
    /// The file offset of each payload segment, in order.
    public var offsets: [UInt64]

    public init(bootId: [UInt8], path: String, identity: FileIdentity, offsets: [UInt64]) {
        self.bootId = bootId
        self.path = path
        self.identity = identity
        self.offsets = offsets
    }
}

/// Memory of a peer to read: address, key and length (``RemotePiece/payloadSegments``).
public struct RemoteSegment: Sendable, Hashable {
    public var address: UInt64
    public var key: UInt64
    public var length: UInt64

    public init(address: UInt64, key: UInt64, length: UInt64) {
        self.address = address
        self.key = key
        self.length = length
    }
}

/// Body of ``ControlMessage/replayAck(_:)``: a client received a replay piece (flow control: the
/// player keeps at most `player.piecesInFlight` pieces of a query unacknowledged).
public struct ReplayAck: Sendable, Hashable, WireCodable {
    /// The query.
    public var queryId: UInt64
    /// The piece received.
    public var pieceNumber: UInt32
    /// True when the client gave up on the query (timed out or cancelled): the player drops it.
    public var cancel: Bool

    /// Creates an acknowledgement.
    public init(queryId: UInt64, pieceNumber: UInt32, cancel: Bool = false) {
        self.queryId = queryId
        self.pieceNumber = pieceNumber
        self.cancel = cancel
    }

    func write(to w: inout WireWriter) { w.u64(queryId); w.u32(pieceNumber); w.bool(cancel) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ReplayAck {
        ReplayAck(queryId: try r.u64(), pieceNumber: try r.u32(), cancel: try r.bool("replayAck.cancel"))
    }
}

/// Body of ``ControlMessage/archiveLease(_:)``: a player asks its grapher to hold archive rounds
/// off while it reads the archive file (which is consistent on disk only between rounds).
public struct ArchiveLease: Sendable, Hashable, WireCodable {
    /// Request (player → grapher), grant (grapher → player), release (player → grapher) or
    /// recall (grapher → player).
    public enum Action: UInt8, Sendable, CaseIterable {
        /// Player → grapher: hold rounds off once the current one ended.
        case request = 1
        /// Grapher → player: no round runs until released (or until the lease expires).
        case grant = 2
        /// Player → grapher: rounds may run again.
        case release = 3
        /// Grapher → player: a round is due; release the lease (and ask again for more reading).
        case recall = 4
    }

    /// The lease, chosen by the player.
    public var leaseId: UInt64
    /// What this message does.
    public var action: Action

    /// Creates a lease message.
    public init(leaseId: UInt64, action: Action) {
        self.leaseId = leaseId
        self.action = action
    }

    func write(to w: inout WireWriter) { w.u64(leaseId); w.u8(action.rawValue) }

    static func read(from r: inout WireReader) throws(ChronoLogError) -> ArchiveLease {
        ArchiveLease(leaseId: try r.u64(), action: try r.enumValue(Action.self, "archiveLease.action"))
    }
}
