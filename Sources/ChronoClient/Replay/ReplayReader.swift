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
    }

    private let provider: String
    private let slotBytes: Int
    private let state = Mutex(State())

    /// - Parameters:
    ///   - provider: `fabric.provider`.
    ///   - slotBytes: the largest piece (`player.pieceBytes`, or one event plus the chunk header).
    init(provider: String, slotBytes: Int) {
        self.provider = provider
        self.slotBytes = slotBytes
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
    /// - Throws: `.noConnection` when the read fails; `.malformedMessage` when the bytes do not
    ///   decode as a chunk.
    func read(_ remote: RemotePiece, from player: Int, into chunk: inout StoryChunk) throws(ChronoLogError) {
        let result: Result<Void, ChronoLogError> = state.withLock { s in
            do throws(ChronoLogError) {
                let (endpoint, pool) = try open(&s)
                guard remote.length <= UInt64(slotBytes) else {
                    throw .malformedMessage(.inconsistent("replay piece of \(remote.length) bytes exceeds the \(slotBytes)-byte slot"))
                }
                do {
                    let peer: PeerAddress
                    if let known = s.peers[player] {
                        peer = known
                    } else {
                        guard let inserted = try endpoint.insert(peerAddresses: [remote.playerAddress]).first else {
                            throw ChronoLogError.noConnection("the player's fabric address was not accepted")
                        }
                        s.peers[player] = inserted
                        peer = inserted
                    }
                    let buffer = try pool.allocate(byteCount: Int(remote.length))
                    defer { try? pool.free(buffer) }
                    let op = try endpoint.postRead(into: buffer, from: peer, remoteAddress: remote.address, key: remote.key,
                                                   length: Int(remote.length))
                    try endpoint.wait(for: op)
                    try buffer.withUnsafeMutableBytes { raw in
                        try chunk.assign(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<Int(remote.length)]))
                    }
                    return .success(())
                } catch let error as ChronoLogError {
                    throw error
                } catch {
                    throw .noConnection("RMA read of a replay piece from player rank \(player) failed: \(error)")
                }
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
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
