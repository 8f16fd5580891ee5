import ChronoModel
import ChronoRuntime
import Testing

/// The attach protocol's encodings (docs/ATTACH.md), without MPI.
@Suite("Attach wire")
struct AttachWireTests {
    @Test("a relayed message's tag names its destination and control tag, and nothing else decodes as one",
          arguments: [(0, ControlTag.service), (1, .events), (3, .replay), (4095, .events)])
    func relayTags(destination: Int, tag: ControlTag) {
        let raw = AttachWire.relayTag(destination: destination, tag: tag)
        #expect(AttachWire.route(ofTag: raw)?.destination == destination)
        #expect(AttachWire.route(ofTag: raw)?.tag == tag)
        for own in [AttachWire.GatewayTag.goodbye, .keepAlive, .hello] {
            #expect(AttachWire.route(ofTag: own.rawValue) == nil, "gateway tag \(own) taken for a relayed one")
        }
        #expect(AttachWire.route(ofTag: -1) == nil)
    }

    @Test("the source trailer round-trips, and a message too short for one is refused")
    func sourceTrailer() {
        var bytes: [UInt8] = [1, 2, 3]
        AttachWire.appendSource(70_000, to: &bytes)
        #expect(AttachWire.stripSource(&bytes) == 70_000 && bytes == [1, 2, 3])
        var short: [UInt8] = [1, 2, 3]
        #expect(AttachWire.stripSource(&short) == nil && short == [1, 2, 3])
    }

    @Test("the hello answer carries the role map; a garbled or inconsistent one is -8, never a crash")
    func helloAnswer() throws {
        let plan = try RolePlan(facts: (0..<5).map { RankFacts(worldRank: $0, nodeKey: 0, isService: true, host: "vm") },
                                shape: GroupShape(), minimumClients: 1)
        let answer = AttachWire.HelloAnswer(rc: .success, gatewayRank: 4, readOnly: true, assignments: plan.assignments)
        let back = try AttachWire.HelloAnswer.decode(answer.encode())
        #expect(back == answer)
        #expect(RolePlan(assignments: back.assignments) == plan)
        for bad in [[UInt8](), Array("{}".utf8), Array(#"{"rc":0,"gatewayRank":1,"readOnly":false,"ranks":[0],"roles":[],"nodes":[],"groups":[],"hosts":[]}"#.utf8),
                    Array(#"{"rc":0,"gatewayRank":1,"readOnly":false,"ranks":[0],"roles":["boss"],"nodes":[0],"groups":[-1],"hosts":["h"]}"#.utf8)] {
            #expect(throws: ChronoLogError.self) { try AttachWire.HelloAnswer.decode(bad) }
            #expect((try? AttachWire.HelloAnswer.decode(bad)) == nil)
        }
        let refused = try AttachWire.HelloAnswer.decode(AttachWire.HelloAnswer(rc: .notAuthorized).encode())
        #expect(refused.rc == .notAuthorized && refused.assignments.isEmpty)
    }
}
