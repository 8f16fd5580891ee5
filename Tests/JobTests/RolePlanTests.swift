import ChronoRuntime
import ChronoRoles
import Testing

/// The rank → role → node → group rules, without MPI.
@Suite("Role plan")
struct RolePlanTests {
    func facts(_ nodes: [Int], service: Int? = nil) -> [RankFacts] {
        nodes.enumerated().map { rank, node in
            RankFacts(worldRank: rank, nodeKey: node, isService: service.map { rank < $0 } ?? true, host: "n\(node)")
        }
    }

    @Test("six ranks on one node: visor, keeper, grapher, player, two clients")
    func defaultSix() throws {
        let plan = try RolePlan(facts: facts([0, 0, 0, 0, 0, 0]), shape: GroupShape(), minimumClients: 1)
        #expect(plan.assignments.map(\.role) == [.visor, .keeper, .grapher, .player, .client, .client])
        #expect(plan.groupCount == 1)
        #expect(plan.assignments.map(\.group) == [nil, 0, 0, 0, nil, nil])
    }

    @Test("one group per node across many nodes, ranks interleaved across nodes")
    func manyNodes() throws {
        // 3 nodes, round-robin rank placement (as `--map-by node` does), 5 ranks each.
        let nodes = (0..<15).map { [0, 1, 2][$0 % 3] }
        let plan = try RolePlan(facts: facts(nodes), shape: GroupShape(keepers: 2), minimumClients: 0)
        #expect(plan.groupCount == 3)
        for g in 0..<3 {
            let members = plan.assignments.filter { $0.group == g }
            #expect(Set(members.map { nodes[$0.worldRank] }).count == 1, "group \(g) spans nodes")
            #expect(members.filter { $0.role == .keeper }.count == 2)
            #expect(members.filter { $0.role == .grapher }.count == 1)
            #expect(members.filter { $0.role == .player }.count == 1)
        }
        #expect(plan.ranks(of: .visor) == [0])
    }

    @Test("virtual nodes split one machine into several groups")
    func virtualNodes() throws {
        let plan = try RolePlan(facts: facts(Array(repeating: 0, count: 8)), shape: GroupShape(), virtualNodes: 2, minimumClients: 1)
        #expect(plan.groupCount == 2)
        #expect(plan.ranks(of: .grapher).count == 2)
        #expect(Set(plan.assignments.map(\.node)) == [0, 1])
    }

    @Test("a node too small for a group hosts clients only")
    func smallNodeHostsClients() throws {
        let plan = try RolePlan(facts: facts([0, 0, 0, 0, 1, 1]), shape: GroupShape(), minimumClients: 0)
        #expect(plan.groupCount == 1)
        #expect(plan.assignments[4].role == .client && plan.assignments[5].role == .client)
        #expect(plan.assignments[4].node == 1)
    }

    @Test("MPMD: application ranks are clients, service ranks carry the roles")
    func mpmd() throws {
        let plan = try RolePlan(facts: facts(Array(repeating: 0, count: 6), service: 4), shape: GroupShape(), minimumClients: 1)
        #expect(plan.assignments.map(\.role) == [.visor, .keeper, .grapher, .player, .client, .client])
    }

    @Test("too few ranks names the minimum -n", arguments: [1, 2, 3, 4])
    func tooFew(n: Int) {
        #expect(throws: RolePlanError.self) {
            try RolePlan(facts: facts(Array(repeating: 0, count: n)), shape: GroupShape(), minimumClients: 1)
        }
        do {
            _ = try RolePlan(facts: facts(Array(repeating: 0, count: n)), shape: GroupShape(), minimumClients: 1)
        } catch {
            #expect(error.description.contains("mpirun -n 5"), "\(error)")
        }
    }

    @Test("with virtual nodes, too few ranks names the smallest -n that forms a group, and that -n works",
          arguments: [(6, 7, 16), (5, 5, 12), (4, 2, 6), (6, 2, 6)])
    func tooFewForVirtualNodes(n: Int, virtualNodes: Int, smallest: Int) throws {
        // One group needs 3 service ranks in one of the node's equal parts: with 7 parts, 15 ranks
        // besides the visor (parts of 2 and one of 3), the other parts' ranks being clients.
        if n < smallest {
            do {
                _ = try RolePlan(facts: facts(Array(repeating: 0, count: n)), shape: GroupShape(), virtualNodes: virtualNodes,
                                 minimumClients: 1)
                Issue.record("\(n) ranks in \(virtualNodes) virtual nodes formed a group")
            } catch {
                #expect(error.description.contains("mpirun -n \(smallest) or more") && error.description.contains("virtual nodes"),
                        "\(error)")
            }
        }
        let plan = try RolePlan(facts: facts(Array(repeating: 0, count: smallest)), shape: GroupShape(), virtualNodes: virtualNodes,
                                minimumClients: 1)
        #expect(plan.groupCount >= 1)
        #expect(throws: RolePlanError.self) {
            try RolePlan(facts: facts(Array(repeating: 0, count: smallest - 1)), shape: GroupShape(), virtualNodes: virtualNodes,
                         minimumClients: 1)
        }
    }

    @Test("more keepers raise the minimum")
    func keepersRaiseMinimum() {
        do {
            _ = try RolePlan(facts: facts(Array(repeating: 0, count: 6)), shape: GroupShape(keepers: 3), minimumClients: 1)
            Issue.record("6 ranks cannot hold 1 visor + 3 keepers + grapher + player + client")
        } catch {
            #expect(error.description.contains("mpirun -n 7"), "\(error)")
        }
    }

    @Test("invalid shapes are rejected")
    func invalidShapes() {
        #expect(throws: RolePlanError.self) { try RolePlan(facts: facts([0, 0, 0, 0, 0]), shape: GroupShape(keepers: 0)) }
        #expect(throws: RolePlanError.self) { try RolePlan(facts: facts([0, 0, 0, 0, 0]), shape: GroupShape(graphers: 2)) }
        #expect(throws: RolePlanError.self) { try RolePlan(facts: facts([0, 0, 0, 0, 0]), shape: GroupShape(), virtualNodes: 0) }
    }
}
