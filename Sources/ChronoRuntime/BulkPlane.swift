import ChronoSystem
import Fabric
import MPI

/// The bulk plane: one libfabric endpoint per recording process (keepers, graphers, players),
/// with the address of every other member it was opened over (all recording processes, or with
/// `shm` those of one node), so chunks move by RMA.
public final class BulkPlane: @unchecked Sendable {
    /// This process's endpoint.
    public let endpoint: FabricEndpoint
    private let peers: [Int: PeerAddress]

    private init(endpoint: FabricEndpoint, peers: [Int: PeerAddress]) {
        self.endpoint = endpoint
        self.peers = peers
    }

    /// Opens the endpoint for `provider` and exchanges addresses. Collective over `members`
    /// (the recording processes, ordered by world rank).
    /// - Throws: `FabricError.providerUnavailable` naming the provider when it is missing or
    ///   lacks RMA (on this rank; the caller aborts the job), `MPIError` from the exchange.
    public static func open(provider: String, members: Communicator, worldRank: Int) throws -> BulkPlane {
        let endpoint = try FabricEndpoint(provider: FabricProvider(provider))
        let addresses = try endpoint.exchangeAddresses(over: members)
        let worldRanks = try members.allgather(Int64(worldRank))
        var peers: [Int: PeerAddress] = [:]
        for (i, w) in worldRanks.enumerated() { peers[Int(w)] = addresses[i] }
        return BulkPlane(endpoint: endpoint, peers: peers)
    }

    /// The address of the recording process with world rank `rank`.
    public func peer(worldRank rank: Int) -> PeerAddress? { peers[rank] }

    /// Measures a raw RMA read (`fi_read`, no chunk codec, no pipeline) of `byteCount` bytes from
    /// the recording process `exposer` into `reader` (world ranks): one warm-up read, then
    /// `repetitions` reads one after the other, each waited for. The exposer makes progress until
    /// the reader is done (manual-progress providers need it). Collective over `members`, the
    /// communicator the plane was opened over; registers and releases memory on both ranks.
    /// - Returns: bytes per second on `reader`; nil on the other ranks.
    /// - Throws: `FabricError` from registration or the reads, `MPIError` from the exchange.
    public func measureRead(members: Communicator, worldRank: Int, exposer: Int, reader: Int, byteCount: Int,
                            repetitions: Int) throws -> Double? {
        let involved = worldRank == exposer || worldRank == reader
        let region = involved ? try endpoint.register(byteCount: max(1, byteCount)) : nil
        if worldRank == exposer { region?.whole.fill(with: 0x5A) }
        let addresses = try members.allgather(worldRank == exposer ? region?.remoteBaseAddress ?? 0 : 0)
        let keys = try members.allgather(worldRank == exposer ? region?.key ?? 0 : 0)
        var rate: Double?
        if worldRank == reader, let region, let peer = peer(worldRank: exposer) {
            let address = addresses[peer.index], key = keys[peer.index]
            try endpoint.read(into: region.whole, from: peer, remoteAddress: address, key: key, length: byteCount)
            let started = ContinuousClock.now
            for _ in 0..<max(1, repetitions) {
                try endpoint.read(into: region.whole, from: peer, remoteAddress: address, key: key, length: byteCount)
            }
            let seconds = Double((ContinuousClock.now - started) / .nanoseconds(1)) / 1e9
            rate = seconds > 0 ? Double(byteCount) * Double(max(1, repetitions)) / seconds : nil
        }
        let done = try members.ibarrier()
        var backoff = IdleBackoff.serviceLoop
        while try done.test() == nil { backoff.step(didWork: !(try endpoint.progress()).isEmpty) }
        try region?.close()
        return rate
    }

    /// Closes the endpoint (not collective).
    public func close() throws {
        try endpoint.close()
    }
}
