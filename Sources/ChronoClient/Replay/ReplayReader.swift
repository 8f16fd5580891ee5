import ChronoModel
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
    }

    private let provider: String
    private let slotBytes: Int
    private let registeredOnly: Bool
    private let state = Mutex(State())

    /// - Parameters:
    ///   - provider: `fabric.provider`.
    ///   - slotBytes: the largest piece (`player.pieceBytes`, or one event plus the chunk header).
    ///   - registeredOnly: read pieces whole into the registered buffer even where the provider
    ///     takes unregistered memory (`fabric.testRegisteredReads`).
    init(provider: String, slotBytes: Int, registeredOnly: Bool = false) {
        self.provider = provider
        self.slotBytes = slotBytes
        self.registeredOnly = registeredOnly
    }

    /// `replay.pieces.inPlace` and `replay.pieces.decoded`: RMA pieces read each way (empty before
    /// the first).
    var counters: Counters {
        state.withLock { s in
            s.inPlace + s.decoded == 0 ? [:] : [.replayPiecesInPlace: s.inPlace, .replayPiecesDecoded: s.decoded]
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
                do {
                    let peer = try peerAddress(of: player, remote.playerAddress, in: &s, endpoint: endpoint)
                    let slot = try pool.allocate(byteCount: inPlace ? headBytes : length)
                    defer { try? pool.free(slot) }
                    try slot.withUnsafeMutableBytes { raw in
                        if inPlace {
                            let head = UnsafeRawBufferPointer(rebasing: raw[0..<headBytes])
                            try chunk.assign(payloadByteCount: length - headBytes) { (payload) throws(ChronoLogError) in
                                do {
                                    let ops = [
                                        try endpoint.postRead(into: slot, from: peer, remoteAddress: remote.address, key: remote.key, length: headBytes),
                                        try endpoint.postRead(intoUnregistered: payload, from: peer, segments: payloadSegments),
                                    ]
                                    try endpoint.waitAll(ops)
                                } catch {
                                    Self.abandon(&s)
                                    throw .noConnection("RMA read of a replay piece from player rank \(player) failed: \(error)")
                                }
                                return head
                            }
                            s.inPlace += 1
                        } else {
                            let segments = [(offset: 0, remoteAddress: remote.address, key: remote.key, length: headBytes)]
                                + payloadSegments.map { ($0.offset + headBytes, $0.remoteAddress, $0.key, $0.length) }
                            try endpoint.wait(for: try endpoint.postRead(into: slot, from: peer, segments: segments))
                            try chunk.assign(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
                            s.decoded += 1
                        }
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
        }
    }
}
