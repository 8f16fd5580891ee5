import ChronoModel
import ChronoSystem
import Fabric
import Synchronization

/// A session's end of the bulk plane for replay: a fabric endpoint (opened at the first replay)
/// and a small registered pool, into which large replay pieces are read by RMA from the players'
/// registered memory. Reads are serialised (one at a time per session); the registered memory is
/// reused for every piece.
final class ReplayReader: Sendable {
    private struct State {
        var endpoint: FabricEndpoint?
        var pool: RegisteredMemoryPool?
        var peers: [Int: PeerAddress] = [:]
        var closed = false
        /// Pieces whose payload was read straight into the caller's chunk, and pieces decoded
        /// from the registered buffer.
        var inPlace: UInt64 = 0
        var decoded: UInt64 = 0
        /// Archive files mapped to copy payloads from, and the pieces read that way or refused.
        var files = MappedFileCache()
        var fromFile: UInt64 = 0
        var fileRefused: UInt64 = 0
        var lentByRma: UInt64 = 0
    }

    private let provider: String
    private let slotBytes: Int
    private let registeredOnly: Bool
    private let mapFiles: Bool
    private let state = Mutex(State())

    /// - Parameters:
    ///   - provider: `fabric.provider`.
    ///   - slotBytes: the largest piece (`player.pieceBytes`, or one event plus the chunk header).
    ///   - registeredOnly: read pieces whole into the registered buffer even where the provider
    ///     takes unregistered memory (a test harness's ``ClientTestSeams/registeredReadsOnly``).
    ///   - mapFiles: copy payloads lent from an archive file on this host from the file mapped
    ///     read-only (`client.mapArchiveFiles`).
    init(provider: String, slotBytes: Int, registeredOnly: Bool = false, mapFiles: Bool = true) {
        self.provider = provider
        self.slotBytes = slotBytes
        self.registeredOnly = registeredOnly
        self.mapFiles = mapFiles
    }

    /// `replay.pieces.inPlace` and `replay.pieces.decoded`: RMA pieces read each way;
    /// `replay.pieces.fromFile` and `replay.pieces.fileRefused`: those whose payload was copied from
    /// the mapped archive file, and those naming a file that could not be mapped;
    /// `replay.pieces.lentByRma`: those whose payload, lent from the player's archive file, was
    /// read by RMA (empty before the first).
    var counters: Counters {
        state.withLock { s in
            s.inPlace + s.decoded == 0 ? [:] : [.replayPiecesInPlace: s.inPlace, .replayPiecesDecoded: s.decoded,
                                                .replayPiecesFromFile: s.fromFile, .replayPiecesFileRefused: s.fileRefused,
                                                .replayPiecesLentByRma: s.lentByRma]
        }
    }

    /// This session's endpoint address (opening the endpoint on first use), for replay requests.
    /// - Throws: `.noConnection` when the provider cannot be opened or the session has finished.
    func address() throws(ChronoLogError) -> [UInt8] {
        let result: Result<[UInt8], ChronoLogError> = state.withLock { s in
            do throws(ChronoLogError) { return .success(try open(&s).endpoint.localAddress) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func open(_ s: inout State) throws(ChronoLogError) -> (endpoint: FabricEndpoint, pool: RegisteredMemoryPool) {
        guard !s.closed else { throw .noConnection("the session has finished") }
        if let e = s.endpoint, let p = s.pool { return (e, p) }
        do {
            let endpoint = try FabricEndpoint(provider: FabricProvider(provider))
            let pool = try RegisteredMemoryPool(endpoint: endpoint, slotSize: slotBytes, slotCount: 1)
            s.endpoint = endpoint
            s.pool = pool
            return (endpoint, pool)
        } catch {
            throw .noConnection("cannot open fabric provider \(provider.debugDescription) to read replay pieces: \(error)")
        }
    }

    /// Reads the piece `remote` from the player at world rank `player` and decodes it into `chunk`,
    /// reusing its storage (no allocation once the caller stopped sharing the previous piece).
    ///
    /// Where the provider takes unregistered local memory (``FabricEndpoint/acceptsUnregisteredLocalMemory``)
    /// and `registeredOnly` is off, two reads run at once: the chunk's header and record table into the registered slot, and its
    /// payload straight into `chunk`'s own storage, so the payload is copied once on its way from the
    /// player's memory. Otherwise the whole piece is read into the slot and decoded from there.
    ///
    /// A piece whose payload lies in an archive file of this host (``RemotePiece/payloadFile``)
    /// has its payload copied from that file, mapped read-only, while the head is read by RMA:
    /// the same page-cache pages, copied by this core at memory speed rather than through the
    /// provider. Where the file cannot be mapped as named, the payload is read by RMA.
    ///
    /// A failed read closes the endpoint (a read left posted must never land in memory that was
    /// given back); the next query opens a new one.
    /// - Throws: `.noConnection` when the read fails; `.malformedMessage` when the bytes do not
    ///   decode as a chunk or disagree with `remote`.
    func read(_ remote: RemotePiece, from player: Int, into chunk: inout StoryChunk) throws(ChronoLogError) {
        let result: Result<Void, ChronoLogError> = state.withLock { s in
            do throws(ChronoLogError) {
                let (endpoint, pool) = try open(&s)
                let length = Int(clamping: remote.length)
                let records = Int(clamping: remote.eventCount)
                guard length <= slotBytes, records <= (length - StoryChunk.headerByteCount) / EventRecord.byteSize else {
                    throw .malformedMessage(.inconsistent(
                        "replay piece of \(remote.length) bytes and \(remote.eventCount) events does not fit the \(slotBytes)-byte slot"))
                }
                let headBytes = StoryChunk.headerByteCount + records * EventRecord.byteSize
                let inPlace = endpoint.acceptsUnregisteredLocalMemory && !registeredOnly
                // A payload lent apart (from the player's mapped archive file) follows the head
                // segment by segment; otherwise it follows the head at the piece's address.
                let payloadSegments = try remote.payloadLayout(headBytes: headBytes)
                let fileParts = try mapFiles ? Self.fileParts(of: remote, headBytes: headBytes, in: &s) : nil
                let headSegment = [(offset: 0, remoteAddress: remote.address, key: remote.key, length: headBytes)]
                do {
                    let peer = try peerAddress(of: player, remote.playerAddress, in: &s, endpoint: endpoint)
                    let slot = try pool.allocate(byteCount: inPlace ? headBytes : length)
                    defer { try? pool.free(slot) }
                    try slot.withUnsafeMutableBytes { raw in
                        if inPlace {
                            let head = UnsafeRawBufferPointer(rebasing: raw[0..<headBytes])
                            try chunk.assign(payloadByteCount: length - headBytes) { (payload) throws(ChronoLogError) in
                                do {
                                    var ops = [try endpoint.postRead(into: slot, from: peer, segments: headSegment)]
                                    if let fileParts {
                                        Self.copy(fileParts, into: payload)
                                    } else {
                                        ops.append(try endpoint.postRead(intoUnregistered: payload, from: peer, segments: payloadSegments))
                                    }
                                    try endpoint.waitAll(ops)
                                } catch {
                                    Self.abandon(&s)
                                    throw .noConnection("RMA read of a replay piece from player rank \(player) failed: \(error)")
                                }
                                return head
                            }
                            s.inPlace += 1
                        } else {
                            let payload = UnsafeMutableRawBufferPointer(rebasing: raw[headBytes..<length])
                            var segments = headSegment
                            if fileParts == nil {
                                segments += payloadSegments.map { ($0.offset + headBytes, $0.remoteAddress, $0.key, $0.length) }
                            }
                            let op = try endpoint.postRead(into: slot, from: peer, segments: segments)
                            if let fileParts { Self.copy(fileParts, into: payload) }
                            try endpoint.wait(for: op)
                            try chunk.assign(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
                            s.decoded += 1
                        }
                    }
                    if fileParts != nil {
                        s.fromFile += 1
                    } else if !remote.payloadSegments.isEmpty {
                        s.lentByRma += 1
                    }
                    return .success(())
                } catch let error as ChronoLogError {
                    throw error
                } catch {
                    Self.abandon(&s)
                    throw .noConnection("RMA read of a replay piece from player rank \(player) failed: \(error)")
                }
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Where the payload of `remote` lies in this host's page cache: its parts in the archive file
    /// the piece names, mapped read-only (``MappedFileCache``), each with its offset in the payload.
    /// Nil when the piece names no file, or names one this reader cannot map as named (counted:
    /// `replay.pieces.fileRefused`). The parts stay valid until the cache is used again.
    private static func fileParts(of remote: RemotePiece, headBytes: Int,
                                  in s: inout State) throws(ChronoLogError) -> [(offset: Int, bytes: UnsafeRawBufferPointer)]? {
        guard let layout = try remote.fileLayout(headBytes: headBytes), let file = remote.payloadFile else { return nil }
        guard let bytes = s.files.bytes(bootId: file.bootId, path: file.path,
                                        identity: file.identity,
                                        ranges: layout.map { ($0.fileOffset, $0.length) }) else {
            s.fileRefused += 1
            return nil
        }
        return zip(layout, bytes).map { ($0.offset, $1) }
    }

    /// Copies payload parts to their offsets in `payload` (their lengths were checked to fill it).
    private static func copy(_ parts: [(offset: Int, bytes: UnsafeRawBufferPointer)], into payload: UnsafeMutableRawBufferPointer) {
        for part in parts {
            UnsafeMutableRawBufferPointer(rebasing: payload[part.offset..<(part.offset + part.bytes.count)]).copyMemory(from: part.bytes)
        }
    }

    /// The player's address in this endpoint's address vector, inserted on first use.
    private func peerAddress(of player: Int, _ address: [UInt8], in s: inout State, endpoint: FabricEndpoint) throws -> PeerAddress {
        if let known = s.peers[player] { return known }
        guard let inserted = try endpoint.insert(peerAddresses: [address]).first else {
            throw ChronoLogError.noConnection("the player's fabric address was not accepted")
        }
        s.peers[player] = inserted
        return inserted
    }

    /// Closes the endpoint after a failed read, abandoning whatever is still posted; the next
    /// query opens a new endpoint (with a new address).
    private static func abandon(_ s: inout State) {
        try? s.pool?.close()
        try? s.endpoint?.close()
        s.pool = nil
        s.endpoint = nil
        s.peers = [:]
    }

    /// Closes the endpoint (not collective). Later reads fail with `.noConnection`.
    func close() {
        state.withLock { s in
            s.closed = true
            try? s.pool?.close()
            try? s.endpoint?.close()
            s.pool = nil
            s.endpoint = nil
            s.files = MappedFileCache()
        }
    }
}
