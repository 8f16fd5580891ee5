import ChronoSystem
import Glibc
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
    ///
    /// The recording groups' shape and the virtual nodes are the service's: every rank uses those of
    /// the lowest service rank (the visor), whatever its own configuration says, so an MPMD
    /// application need not repeat the service's deployment settings, and ranks never compute
    /// different maps. The clients the job needs are the most any rank asks for.
    /// - Parameters:
    ///   - isService: whether this rank runs the service (`chronolog-job`) rather than an application.
    /// - Throws: `MPIError` from the exchange, `RolePlanError` when the job is too small
    ///   (thrown on every rank alike, so all ranks can exit together).
    public static func discover(
        world: Communicator, isService: Bool, shape: GroupShape, virtualNodes: Int, minimumClients: Int
    ) throws -> JobLayout {
        try waitForEveryRank(world)
        let node = try world.splitByNode(key: world.rank)
        // The node's key is its lowest world rank: the same on every member, unique per node.
        let nodeKey = try node.allreduce(Int64(world.rank), op: .min)
        try node.free()
        let host = (try? MPIRuntime.processorName()) ?? "?"
        var mine: [UInt8] = []
        append(UInt64(bitPattern: nodeKey), to: &mine)
        mine.append(isService ? 1 : 0)
        for setting in [shape.keepers, shape.graphers, shape.players, virtualNodes, minimumClients] {
            append(UInt64(bitPattern: Int64(setting)), to: &mine)
        }
        mine += Array(host.utf8.prefix(255))
        let all = try world.allgatherv(mine)
        var facts: [RankFacts] = []
        var settings: [[Int]] = []
        for (rank, bytes) in all.enumerated() {
            guard bytes.count >= factsHeaderBytes else {
                throw MPIError(call: "JobLayout.discover", message: "rank \(rank) sent \(bytes.count) bytes of facts")
            }
            facts.append(RankFacts(
                worldRank: rank, nodeKey: Int(Int64(bitPattern: read(bytes, at: 0))), isService: bytes[8] != 0,
                host: String(decoding: bytes[factsHeaderBytes...], as: UTF8.self)))
            settings.append((0..<5).map { Int(Int64(bitPattern: read(bytes, at: 9 + 8 * $0))) })
        }
        // The service's settings (its lowest rank's); with no service rank, this rank's own (the
        // plan then fails alike everywhere).
        let service = facts.first(where: \.isService).map { settings[$0.worldRank] }
            ?? [shape.keepers, shape.graphers, shape.players, virtualNodes, minimumClients]
        let plan = try RolePlan(facts: facts, shape: GroupShape(keepers: service[0], graphers: service[1], players: service[2]),
                                virtualNodes: service[3], minimumClients: settings.map { $0[4] }.max() ?? minimumClients)
        return JobLayout(plan: plan, worldRank: world.rank)
    }

    /// Waits until every rank of `world` has come to the layout (a barrier, tested rather than
    /// waited on): an MPMD application that never joins (it does not call chronolog_join or
    /// chronolog_init, import py_chronolog_client or ChronoJob.join) would otherwise leave the
    /// service waiting without a word. Every `noteAfter`, world rank 0 says what it waits for.
    static func waitForEveryRank(_ world: Communicator, noteAfter: Duration = .seconds(10)) throws {
        let arrived = try world.ibarrier()
        var backoff = IdleBackoff.serviceLoop
        var nextNote = ContinuousClock.now + noteAfter
        var waited = Duration.zero
        while try arrived.test() == nil {
            if world.rank == 0 && ContinuousClock.now >= nextNote {
                waited += noteAfter
                let note = "chronolog: waited \(waited) for every one of the job's \(world.size) ranks to join; an MPMD application's "
                    + "ranks must join (chronolog_join or chronolog_init, import py_chronolog_client, or ChronoJob.join)\n"
                _ = note.withCString { write(2, $0, strlen($0)) }
                nextNote = ContinuousClock.now + noteAfter
            }
            backoff.idle()
        }
    }

    /// Bytes before the host name in a rank's facts: its node key, whether it is a service rank,
    /// and its five settings (keepers, graphers, players, virtual nodes, clients needed).
    private static let factsHeaderBytes = 9 + 5 * 8

    private static func read(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    private static func append(_ v: UInt64, to out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}
