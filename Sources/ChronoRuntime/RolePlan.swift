import ChronoModel
/// What one rank tells the others about itself before roles are assigned.
public struct RankFacts: Sendable, Equatable {
    /// Rank in `MPI_COMM_WORLD`.
    public var worldRank: Int
    /// Identifies the physical node: the lowest world rank sharing memory with this rank.
    public var nodeKey: Int
    /// Whether this rank belongs to the service (runs `chronolog-job`), as opposed to an MPMD
    /// application rank.
    public var isService: Bool
    /// The host name, for the printed map.
    public var host: String

    public init(worldRank: Int, nodeKey: Int, isService: Bool, host: String) {
        self.worldRank = worldRank
        self.nodeKey = nodeKey
        self.isService = isService
        self.host = host
    }
}

/// One rank's assignment.
public struct RoleAssignment: Sendable, Equatable {
    /// Rank in `MPI_COMM_WORLD`.
    public var worldRank: Int
    /// The role.
    public var role: Role
    /// The (possibly virtual) node index, 0-based, in order of the nodes' lowest ranks.
    public var node: Int
    /// The recording group for keepers, graphers and players; `nil` for the visor and clients.
    public var group: Int?
    /// The host name.
    public var host: String

    /// An assignment (the plan makes them; a simulator makes its own).
    public init(worldRank: Int, role: Role, node: Int, group: Int?, host: String) {
        (self.worldRank, self.role, self.node, self.group, self.host) = (worldRank, role, node, group, host)
    }
}

/// How many processes of each recording role a node hosts.
public struct GroupShape: Sendable, Equatable {
    /// Keepers per recording group (ChronoLog's K), at least 1.
    public var keepers: Int
    /// Graphers per recording group; ChronoLog allows exactly one.
    public var graphers: Int
    /// Players per recording group.
    public var players: Int

    public init(keepers: Int = 1, graphers: Int = 1, players: Int = 1) {
        self.keepers = keepers
        self.graphers = graphers
        self.players = players
    }

    /// Service ranks one recording group needs.
    public var ranksPerGroup: Int { keepers + graphers + players }
}

/// Why a job cannot be laid out.
public enum RolePlanError: Error, Equatable, CustomStringConvertible {
    /// The job has too few ranks for the requested roles; `minimum` is the smallest `-n` that works.
    case tooFewRanks(have: Int, minimum: Int, detail: String)
    /// A parameter is out of range.
    case invalidShape(String)

    public var description: String {
        switch self {
        case let .tooFewRanks(have, minimum, detail):
            "this job has \(have) ranks but needs at least \(minimum) (\(detail)); run with mpirun -n \(minimum) or more"
        case let .invalidShape(s): "invalid role layout: \(s)"
        }
    }
}

/// The rank → role → node → group map of a job: a pure function of what every rank reported,
/// so all ranks compute the same map without further messages.
///
/// Rules (ARCHITECTURE §2): the lowest service rank is the visor. Service ranks are grouped by
/// node (optionally splitting each physical node into `virtualNodes` virtual ones); on each node,
/// in rank order and skipping the visor, the first `keepers` ranks are keepers, then the graphers,
/// then the players: one recording group per node. A node with too few service ranks for a
/// whole group hosts no group. Every other rank (service leftovers and MPMD application ranks)
/// is a client.
public struct RolePlan: Sendable, Equatable {
    /// One entry per world rank, indexed by world rank.
    public let assignments: [RoleAssignment]
    /// Number of recording groups.
    public let groupCount: Int

    /// Computes the plan.
    /// - Parameters:
    ///   - facts: one entry per world rank (any order).
    ///   - shape: processes per recording group.
    ///   - virtualNodes: split each physical node into this many virtual nodes (1 = off).
    ///   - minimumClients: clients the job needs (the built-in workload needs one).
    /// - Throws: `RolePlanError.tooFewRanks` naming the minimum `-n`.
    public init(facts: [RankFacts], shape: GroupShape, virtualNodes: Int = 1, minimumClients: Int = 0) throws(RolePlanError) {
        guard shape.keepers >= 1 else { throw .invalidShape("keepers per group must be at least 1, got \(shape.keepers)") }
        guard shape.graphers == 1 else { throw .invalidShape("a recording group has exactly one grapher, got \(shape.graphers)") }
        guard shape.players >= 0 else { throw .invalidShape("players per group must be 0 or more, got \(shape.players)") }
        guard virtualNodes >= 1 else { throw .invalidShape("virtual nodes must be at least 1, got \(virtualNodes)") }
        let sorted = facts.sorted { $0.worldRank < $1.worldRank }
        let service = sorted.filter(\.isService)
        let minimumForOneGroup = 1 + shape.ranksPerGroup + minimumClients
        guard let visor = service.first else {
            throw .tooFewRanks(have: 0, minimum: minimumForOneGroup, detail: "no rank runs chronolog-job")
        }

        // Physical nodes in order of their lowest rank; then virtual nodes inside each.
        var physicalOrder: [Int] = []
        var membersByNode: [Int: [RankFacts]] = [:]
        for f in service where f.worldRank != visor.worldRank {
            if membersByNode[f.nodeKey] == nil { physicalOrder.append(f.nodeKey) }
            membersByNode[f.nodeKey, default: []].append(f)
        }
        if membersByNode[visor.nodeKey] == nil { physicalOrder.insert(visor.nodeKey, at: 0) }
        physicalOrder.sort()

        var roleOf: [Int: (Role, Int, Int?)] = [:]   // world rank -> (role, node, group)
        var nodeIndexOfPhysical: [Int: Int] = [:]
        var nextNode = 0
        var groups = 0
        for key in physicalOrder {
            nodeIndexOfPhysical[key] = nextNode
            let members = membersByNode[key] ?? []
            // Contiguous blocks of the node's service ranks form its virtual nodes.
            let parts = max(1, virtualNodes)
            for v in 0..<parts {
                let lo = members.count * v / parts, hi = members.count * (v + 1) / parts
                let block = Array(members[lo..<hi])
                let node = nextNode + v
                if block.count >= shape.ranksPerGroup {
                    let group = groups
                    groups += 1
                    for (i, f) in block.enumerated() {
                        let role: Role
                        if i < shape.keepers { role = .keeper }
                        else if i < shape.keepers + shape.graphers { role = .grapher }
                        else if i < shape.ranksPerGroup { role = .player }
                        else { role = .client }
                        roleOf[f.worldRank] = (role, node, role == .client ? nil : group)
                    }
                } else {
                    for f in block { roleOf[f.worldRank] = (.client, node, nil) }
                }
            }
            nextNode += parts
        }
        roleOf[visor.worldRank] = (.visor, nodeIndexOfPhysical[visor.nodeKey] ?? 0, nil)

        var out: [RoleAssignment] = []
        out.reserveCapacity(sorted.count)
        for f in sorted {
            if let (role, node, group) = roleOf[f.worldRank] {
                out.append(RoleAssignment(worldRank: f.worldRank, role: role, node: node, group: group, host: f.host))
            } else {
                // An application rank of an MPMD launch: a client on its physical node.
                let node = nodeIndexOfPhysical[f.nodeKey] ?? -1
                out.append(RoleAssignment(worldRank: f.worldRank, role: .client, node: node, group: nil, host: f.host))
            }
        }
        let clients = out.filter { $0.role == .client }.count
        guard groups >= 1 else {
            let applicationRanks = sorted.count - service.count
            var detail = "1 visor + \(shape.keepers) keeper(s) + \(shape.graphers) grapher + \(shape.players) player(s) on one node"
                + (minimumClients > 0 ? " + \(minimumClients) client(s)" : "")
            if virtualNodes > 1 {
                detail += ", and with \(virtualNodes) virtual nodes a node's service ranks are split into \(virtualNodes) parts, "
                    + "one of which must hold the \(shape.ranksPerGroup) ranks of a group"
            }
            throw .tooFewRanks(
                have: sorted.count,
                minimum: Self.smallestOneNodeJob(shape: shape, virtualNodes: virtualNodes, minimumClients: minimumClients,
                                                 applicationRanks: applicationRanks),
                detail: detail)
        }
        guard clients >= minimumClients else {
            throw .tooFewRanks(
                have: sorted.count, minimum: sorted.count + (minimumClients - clients),
                detail: "the workload needs \(minimumClients) client rank(s), the layout leaves \(clients)")
        }
        self.assignments = out
        self.groupCount = groups
    }

    /// The smallest `-n` with which a job on one node (its `applicationRanks` MPMD ranks included)
    /// forms a recording group and has `minimumClients` clients: the rule of ``init(facts:shape:virtualNodes:minimumClients:)``,
    /// where each of a node's `virtualNodes` contiguous parts of its service ranks (the visor
    /// excepted) that holds a group's ranks hosts one, and every other rank is a client.
    static func smallestOneNodeJob(shape: GroupShape, virtualNodes: Int, minimumClients: Int, applicationRanks: Int) -> Int {
        let parts = max(1, virtualNodes)
        var members = shape.ranksPerGroup
        while true {
            var groups = 0
            for v in 0..<parts where members * (v + 1) / parts - members * v / parts >= shape.ranksPerGroup { groups += 1 }
            let clients = members - groups * shape.ranksPerGroup + applicationRanks
            if groups >= 1 && clients >= minimumClients { return 1 + members + applicationRanks }
            members += 1
        }
    }

    /// A plan as another process computed it (an attached client gets its job's map from the
    /// gateway): `assignments` indexed by world rank.
    public init(assignments: [RoleAssignment]) {
        self.assignments = assignments.sorted { $0.worldRank < $1.worldRank }
        self.groupCount = Set(assignments.compactMap(\.group)).count
    }

    /// The ranks holding `role`, in rank order.
    public func ranks(of role: Role) -> [Int] {
        assignments.filter { $0.role == role }.map(\.worldRank)
    }

    /// The ranks of recording group `group` holding `role`.
    public func ranks(of role: Role, inGroup group: Int) -> [Int] {
        assignments.filter { $0.role == role && $0.group == group }.map(\.worldRank)
    }

    /// The printed map: one line per rank, `rank → role → node → group`.
    public func renderedMap() -> String {
        var lines = ["rank  role     node  group  host"]
        for a in assignments {
            let group = a.group.map(String.init) ?? "-"
            lines.append(
                pad(String(a.worldRank), 6) + pad(a.role.rawValue, 9) + pad(String(a.node), 6) + pad(group, 7) + a.host)
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
