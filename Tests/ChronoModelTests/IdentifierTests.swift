import Testing
@testable import ChronoModel

@Suite struct IdentifierTests {
    @Test func fnv1aKnownVectors() {
        // Published FNV-1a 64 test vectors.
        #expect(StableHash.fnv1a64("".utf8) == 0xcbf2_9ce4_8422_2325)
        #expect(StableHash.fnv1a64("a".utf8) == 0xaf63_dc4c_8601_ec8c)
        #expect(StableHash.fnv1a64("foobar".utf8) == 0x8594_4171_f739_67e8)
    }

    @Test func storyIdIsHashOfChronicleNulStory() throws {
        let chronicle = try ChronicleName("foo")
        let story = try StoryName("bar")
        #expect(StoryID(chronicle: chronicle, story: story).rawValue == StableHash.fnv1a64(Array("foo\u{0}bar".utf8)))
        #expect(ChronicleID(chronicle).rawValue == StableHash.fnv1a64("foo".utf8))
        // Fixed values: these must never change (they are stored in archives).
        #expect(ChronicleID(chronicle).description == "dcb27518fed9d577")
        #expect(StoryID(chronicle: chronicle, story: story).description == StableHash.hex(StableHash.fnv1a64(Array("foo\u{0}bar".utf8))))
    }

    @Test func splitMatters() throws {
        let a = StoryID(chronicle: try ChronicleName("ab"), story: try StoryName("c"))
        let b = StoryID(chronicle: try ChronicleName("a"), story: try StoryName("bc"))
        #expect(a != b)
    }

    @Test func clientIdsAreUniqueAndNonZero() throws {
        var allocator = ClientIDAllocator()
        var seen = Set<ClientID>()
        for _ in 0..<10_000 {
            let id = try allocator.next()
            #expect(id != .none)
            #expect(seen.insert(id).inserted)
        }
        #expect(allocator.allocatedCount == 10_000)
    }

    @Test("client ids of jobs started a millisecond apart never meet; counts start at the base")
    func clientIdsOfLaterJobsDiffer() throws {
        let t: UInt64 = 1_796_280_878_045
        var earlier = ClientIDAllocator(startingAt: ClientIDAllocator.jobBase(unixTimeMs: t))
        let later = ClientIDAllocator.jobBase(unixTimeMs: t + 1)
        var last = ClientID.none
        for _ in 0..<(1 << 20) { last = try earlier.next() }
        #expect(last.rawValue < later && ClientIDAllocator.jobBase(unixTimeMs: t) > 0)
        #expect(earlier.allocatedCount == 1 << 20)
        #expect(later < 1 << 63)
        var zero = ClientIDAllocator(startingAt: 0)
        #expect(try zero.next() == ClientID(1))
    }

    @Test func hexIsZeroPadded() {
        #expect(StableHash.hex(0) == "0000000000000000")
        #expect(StableHash.hex(0xAB) == "00000000000000ab")
        #expect(StableHash.hex(UInt64.max) == "ffffffffffffffff")
    }
}
