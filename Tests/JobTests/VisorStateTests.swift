import ChronoModel
import ChronoRoles
import Testing

/// The visor's directory and registries, without MPI.
@Suite("Visor state")
struct VisorStateTests {
    let alice = ClientID(rawValue: 1), bob = ClientID(rawValue: 2)

    @Test("a story stays held until its last holder releases it")
    func lastHolder() throws {
        var d = ChronicleDirectory()
        try d.createChronicle("c", attributes: [:], flags: 0)
        _ = try d.acquire(chronicle: "c", story: "s", attributes: [:], by: alice)
        let second = try d.acquire(chronicle: "c", story: "s", attributes: [:], by: bob)
        #expect(second.story.holders == [alice, bob] && !second.alreadyHeld)
        #expect(try d.release(chronicle: "c", story: "s", by: alice).holders == [bob])
        #expect(throws: ChronoLogError.storyAcquired(chronicle: "c", story: "s")) { try d.destroyStory(chronicle: "c", story: "s") }
        #expect(try d.release(chronicle: "c", story: "s", by: bob).holders.isEmpty)
        try d.destroyStory(chronicle: "c", story: "s")
    }

    @Test("codes: exists, missing, acquired, not acquired")
    func codes() throws {
        var d = ChronicleDirectory()
        try d.createChronicle("c", attributes: ["k": "v"], flags: 0)
        #expect(d.chronicles.values.first?.attributes == ["k": "v"])
        #expect(throws: ChronoLogError.chronicleExists("c")) { try d.createChronicle("c", attributes: [:], flags: 0) }
        #expect(throws: ChronoLogError.chronicleNotFound("x")) { try d.destroyChronicle("x") }
        #expect(throws: ChronoLogError.chronicleNotFound("x")) {
            _ = try d.acquire(chronicle: "x", story: "s", attributes: [:], by: alice)
        }
        #expect(throws: ChronoLogError.storyNotAcquired(chronicle: "c", story: "s")) {
            try d.release(chronicle: "c", story: "s", by: alice)
        }
        _ = try d.acquire(chronicle: "c", story: "s", attributes: [:], by: alice)
        #expect(throws: ChronoLogError.storyAcquired(chronicle: "c", story: "s")) { try d.destroyChronicle("c") }
        #expect(d.stories(heldBy: alice).map(\.story) == ["s"])
    }

    @Test("only groups with a grapher and a keeper are chosen; none active → no keepers")
    func groupChoice() throws {
        var g = RecordingGroupRegistry()
        var rng = SystemRandomNumberGenerator()
        #expect(throws: ChronoLogError.noKeepers) { _ = try g.chooseGroup(using: &rng) }
        g.register(Registration(role: .keeper, groupId: 0, rank: 1, hostName: "a"), now: 0)
        g.register(Registration(role: .player, groupId: 0, rank: 3, hostName: "a"), now: 0)
        #expect(throws: ChronoLogError.noKeepers) { _ = try g.chooseGroup(using: &rng) }
        g.register(Registration(role: .keeper, groupId: 1, rank: 4, hostName: "b"), now: 0)
        g.register(Registration(role: .grapher, groupId: 1, rank: 5, hostName: "b"), now: 0)
        for _ in 0..<50 { #expect(try g.chooseGroup(using: &rng).id == 1) }
        g.register(Registration(role: .grapher, groupId: 0, rank: 2, hostName: "a"), now: 0)
        var seen: Set<UInt32> = []
        for _ in 0..<200 { seen.insert(try g.chooseGroup(using: &rng).id) }
        #expect(seen == [0, 1])
    }

    /// A story recorded again in another group would be answered for by that group's keepers only,
    /// while the old group still holds its events not yet archived (simulator seed 99, several groups).
    @Test("a story recorded again stays in the group that recorded it last, while that group is active")
    func groupChoiceKeepsLastGroup() throws {
        var g = RecordingGroupRegistry()
        var rng = SystemRandomNumberGenerator()
        for (group, base) in [(UInt32(0), Int32(1)), (1, 4), (2, 7)] {
            g.register(Registration(role: .keeper, groupId: group, rank: base, hostName: "n\(group)"), now: 0)
            g.register(Registration(role: .grapher, groupId: group, rank: base + 1, hostName: "n\(group)"), now: 0)
        }
        for _ in 0..<50 { #expect(try g.chooseGroup(preferring: 2, using: &rng).id == 2) }
        g.unregister(rank: 8)  // group 2 loses its grapher: the story goes to an active group
        var seen: Set<UInt32> = []
        for _ in 0..<200 { seen.insert(try g.chooseGroup(preferring: 2, using: &rng).id) }
        #expect(seen == [0, 1])
    }

    @Test("client ids are unique; a wrong rank or unknown id has no connection; protocol mismatch")
    func clients() throws {
        var c = ClientRegistry()
        let a = try c.connect(ConnectRequest(hostName: "h", pid: 1, rank: 4, user: "alice", mode: .writer), fromRank: 4)
        let b = try c.connect(ConnectRequest(hostName: "h", pid: 2, rank: 5, user: "bob", mode: .writer), fromRank: 5)
        #expect(a != b)
        try c.validate(a, fromRank: 4)
        #expect(throws: ChronoLogError.self) { try c.validate(a, fromRank: 5) }
        c.disconnect(a)
        #expect(throws: ChronoLogError.self) { try c.validate(a, fromRank: 4) }
        #expect(throws: ChronoLogError.protocolVersionMismatch(expected: ChronoModelVersion.protocolVersion, got: 999)) {
            _ = try c.connect(ConnectRequest(protocolVersion: 999, hostName: "h", pid: 3, rank: 6, mode: .writer), fromRank: 6)
        }
    }
}
