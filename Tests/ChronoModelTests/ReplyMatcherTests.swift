import Testing
@testable import ChronoModel

@Suite struct ReplyMatcherTests {
    private static func route(story: UInt64) -> ControlMessage {
        .acquireReply(AcquireReply(rc: .success, storyId: StoryID(rawValue: story), groupId: 1, keeperRanks: [1],
                                   grapherRank: 2, playerRank: 3))
    }

    @Test("a late answer to a request that timed out is dropped and counted, the next request gets its own")
    func lateAnswerIsNotTakenByTheNextRequest() throws {
        var matcher = ReplyMatcher(first: 1)
        let route = matcher.begin()  // a route request…
        matcher.end()  // …that timed out
        let acquire = matcher.begin()
        #expect(route != acquire)
        // The route's answer arrives now: it is an acquireReply too, and must not become the acquire's.
        #expect(try matcher.take(Self.route(story: 11).encode(requestId: route)) == nil)
        #expect(matcher.stale == 1)
        #expect(try matcher.take(Self.route(story: 22).encode(requestId: acquire)) == Self.route(story: 22))
        matcher.end()
        // The next call (a create) gets a generic reply, not a leftover.
        let create = matcher.begin()
        #expect(try matcher.take(ControlMessage.reply(GenericReply(rc: .success)).encode(requestId: create)) ==
                .reply(GenericReply(rc: .success)))
        #expect(matcher.stale == 1)
    }

    @Test("answers without an id, or after the request ended, are stale")
    func answersWithoutTheOutstandingIdAreStale() throws {
        var matcher = ReplyMatcher(first: 5)
        let id = matcher.begin()
        #expect(id == 5)
        #expect(try matcher.take(ControlMessage.reply(GenericReply(rc: .success)).encode()) == nil)
        matcher.end()
        #expect(try matcher.take(ControlMessage.reply(GenericReply(rc: .success)).encode(requestId: id)) == nil)
        #expect(matcher.stale == 2)
    }

    @Test("ids count up from the first and skip 0 when they wrap")
    func idsWrapPastZero() {
        var matcher = ReplyMatcher(first: UInt32.max)
        #expect(matcher.begin() == UInt32.max)
        #expect(matcher.begin() == 1)
        var fromZero = ReplyMatcher(first: 0)
        #expect(fromZero.begin() == 1)
    }

    @Test("an answer of the outstanding request that does not decode, or from another protocol version, is an error")
    func undecodableAnswersThrow() throws {
        var matcher = ReplyMatcher(first: 1)
        let id = matcher.begin()
        var truncated = ControlMessage.reply(GenericReply(rc: .success, detail: "detail")).encode(requestId: id)
        truncated.removeLast()
        #expect(throws: ChronoLogError.self) { try matcher.take(truncated) }
        // A peer of the version before 13 wrote an 8-byte body length: bytes 12..<16 are 0.
        var old = ControlMessage.reply(GenericReply(rc: .success)).encode()
        old[4] = UInt8(truncatingIfNeeded: ChronoModelVersion.protocolVersion - 1)
        #expect(throws: ChronoLogError.protocolVersionMismatch(expected: ChronoModelVersion.protocolVersion,
                                                               got: ChronoModelVersion.protocolVersion - 1)) {
            try matcher.take(old)
        }
        // Garbage carrying another request's id: stale, not the outstanding request's error.
        var other = truncated
        other[12] &+= 1
        #expect(try matcher.take(other) == nil)
        #expect(matcher.stale == 1)
    }
}
