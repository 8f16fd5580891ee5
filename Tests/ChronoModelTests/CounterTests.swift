import ChronoModel
import Testing

@Suite struct CounterTests {
    @Test("every counter is declared once; a name ends in .max exactly when the counter is a maximum")
    func catalogueIsConsistent() {
        #expect(Set(Counter.all.map(\.name)).count == Counter.all.count)
        for c in Counter.all {
            #expect(c.name.hasSuffix(".max") == (c.aggregation == .max), "\(c.name) is a \(c.aggregation)")
            #expect(Counter.declared(named: c.name) == c)
        }
        #expect(Counter.declared(named: "events.archivd") == nil)
    }

    @Test("sums add and maxima keep the largest when counters of several ranks are combined")
    func aggregation() {
        var total: Counters = [.eventsArchived: 5, .memoryPeakBytes: 700]
        total.aggregate([.eventsArchived: 7, .memoryPeakBytes: 300, .roundMs: 9])
        total.aggregate([.memoryPeakBytes: 900])
        #expect(total == [.eventsArchived: 12, .memoryPeakBytes: 900, .roundMs: 9])
        #expect(total.byName == ["events.archived": 12, "memory.peak.bytes.max": 900, "round.ms.max": 9])
    }

    @Test("a heartbeat's counters keep their aggregation on the wire; a counter named twice is malformed")
    func heartbeatWire() throws {
        let own = Counter("workload.custom.max", .max)
        let beat = Heartbeat(role: .grapher, groupId: 1, rank: 2, sentAt: 3,
                             counters: [.eventsArchived: 4, .durableLatencyP99Us: 5, own: 6])
        guard case let .heartbeat(decoded) = try ControlMessage.decode(ControlMessage.heartbeat(beat).encode()) else {
            Issue.record("not a heartbeat")
            return
        }
        #expect(decoded == beat)
        #expect(decoded.counters.keys.first { $0.name == "workload.custom.max" }?.aggregation == .max)
        let twice = Heartbeat(role: .keeper, groupId: 0, rank: 1, sentAt: 0, counters: [Counter("x"): 1, Counter("x", .max): 2])
        #expect(throws: ChronoLogError.self) { try ControlMessage.decode(ControlMessage.heartbeat(twice).encode()) }
    }
}
