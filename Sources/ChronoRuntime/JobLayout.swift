import MPI

/// The layout of a running job: the role plan plus this rank's place in it.
///
/// Built collectively by `JobLayout.discover`: every rank learns its node (by shared-memory
/// split, so it holds on any number of nodes), gathers every rank's facts, and computes the same
/// `RolePlan`.
public struct JobLayout: Sendable {
    /// The map every rank agrees on.
    public let plan: RolePlan
    /// This rank in `MPI_COMM_WORLD`.
    public let worldRank: Int
    /// This rank's assignment.
    public var me: RoleAssignment { plan.assignments[worldRank] }

    /// A layout as another rank sees it: an attached client takes its gateway's (`worldRank`: the
    /// gateway's rank, whose client it is to the service).
    public init(plan: RolePlan, worldRank: Int) {
        self.plan = plan
        self.worldRank = worldRank
    }

    /// Discovers the layout. Collective over `world`.
    /// - Parameters:
    ///   - isService: whether this rank runs the service (`chronolog-job`) rather than an application.
    /// - Throws: `MPIError` from the exchange, `RolePlanError` when the job is too small
    ///   (thrown on every rank alike, so all ranks can exit together).
    public static func discover(
        world: Communicator, isService: Bool, shape: GroupShape, virtualNodes: Int, minimumClients: Int
    ) throws -> JobLayout {
        let node = try world.splitByNode(key: world.rank)
        // The node's key is its lowest world rank: the same on every member, unique per node.
        let nodeKey = try node.allreduce(Int64(world.rank), op: .min)
        try node.free()
        let host = (try? MPIRuntime.processorName()) ?? "?"
        var mine: [UInt8] = []
        append(UInt64(bitPattern: nodeKey), to: &mine)
        mine.append(isService ? 1 : 0)
        mine += Array(host.utf8.prefix(255))
        let all = try world.allgatherv(mine)
        var facts: [RankFacts] = []
        for (rank, bytes) in all.enumerated() {
            guard bytes.count >= 9 else {
                throw MPIError(call: "JobLayout.discover", message: "rank \(rank) sent \(bytes.count) bytes of facts")
            }
            let key = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            facts.append(RankFacts(
                worldRank: rank, nodeKey: Int(Int64(bitPattern: key)), isService: bytes[8] != 0,
                host: String(decoding: bytes[9...], as: UTF8.self)))
        }
        let plan = try RolePlan(facts: facts, shape: shape, virtualNodes: virtualNodes, minimumClients: minimumClients)
        return JobLayout(plan: plan, worldRank: world.rank)
    }

    private static func append(_ v: UInt64, to out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}
