import Fabric
import MPI

/// The bulk plane: one libfabric endpoint per recording process (keepers, graphers, players),
/// with every other recording process's address, so chunks move by RMA.
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

    /// Closes the endpoint (not collective).
    public func close() throws {
        try endpoint.close()
    }
}
