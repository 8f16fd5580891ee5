import ChronoModel
import ChronoRoles
import Testing

/// When a grapher's next archive round is due (issue 17: rounds follow each other at once under a
/// steady stream, and keep to the interval for a trickle).
@Suite("Archive round schedule")
struct ArchiveRoundScheduleTests {
    let start = ContinuousClock.now
    let interval = Duration.milliseconds(100)

    func due(afterMs elapsed: Int, bytes: Int, backlog: Bool = false, streamedMsBefore: Int? = nil) -> Duration {
        let now = start + .milliseconds(elapsed)
        return GrapherRole.nextRoundDue(now: now, lastStarted: start, lastBytes: bytes, backlog: backlog,
                                        interval: interval, lastStreamed: streamedMsBefore.map { start - .milliseconds($0) }) - now
    }

    @Test func aRoundThatWroteAStreamIsFollowedAtOnce() {
        #expect(due(afterMs: 30, bytes: GrapherRole.streamingRoundBytes) == .zero)
        #expect(due(afterMs: 30, bytes: 64 << 20) == .zero)
    }

    @Test func aSmallRoundLeavesTheNextToTheIntervalFromItsStart() {
        #expect(due(afterMs: 30, bytes: GrapherRole.streamingRoundBytes - 1) == .milliseconds(70))
        #expect(due(afterMs: 0, bytes: 0) == .milliseconds(100))
        // A round longer than the interval: the next one is due at once, never in the past.
        #expect(due(afterMs: 250, bytes: 1) == .zero)
    }

    @Test("a round that found little to write during a stream is followed after the short recheck, not the interval")
    func aPauseInAStreamIsShort() {
        // The round before (started 30 ms before this one) wrote a stream's worth.
        #expect(due(afterMs: 2, bytes: 0, streamedMsBefore: 30) == GrapherRole.streamRecheck)
        #expect(due(afterMs: 2, bytes: 1 << 20, streamedMsBefore: 30) == GrapherRole.streamRecheck)
        // Never later than the interval would have put it.
        #expect(due(afterMs: 98, bytes: 0, streamedMsBefore: 30) == .milliseconds(2))
        // The stream ended an interval ago or more: a trickle keeps to the interval.
        #expect(due(afterMs: 2, bytes: 0, streamedMsBefore: 98) == .milliseconds(98))
        #expect(due(afterMs: 2, bytes: 0, streamedMsBefore: 200) == .milliseconds(98))
    }

    @Test func aBacklogIsWrittenAtOnce() {
        #expect(due(afterMs: 5, bytes: 0, backlog: true) == .zero)
    }
}

/// Which of a story's sealed chunks a grapher archives as they are, without merging them into one
/// (issue 17: the merge copied every byte once more).
@Suite("Archive round chunks")
struct ArchiveRoundChunkTests {
    let story = StoryID(rawValue: 3)

    func chunk(_ times: Range<UInt64>, bytes: Int, range: TimeRange? = nil) throws -> StoryChunk {
        try StoryChunk(storyId: story, range: range ?? TimeRange(start: times.lowerBound, end: times.upperBound), events: times.map {
            Event(time: $0, clientId: ClientID(rawValue: 1), index: UInt32($0), record: [UInt8](repeating: 7, count: bytes))
        })
    }

    @Test func consecutiveChunksOfHalfARowOrMoreGoAsTheyAre() throws {
        let a = try chunk(0..<10, bytes: 1000), b = try chunk(10..<20, bytes: 1000)
        #expect(GrapherRole.archiveGroups([a, b], rowBytes: 4096) == [1, 1])
        // Half a row or more each (a keeper's slot-sized chunks, a row each once archived).
        #expect(GrapherRole.archiveGroups([a, b], rowBytes: 2 * a.encodedByteCount) == [1, 1])
        #expect(GrapherRole.archiveGroups([a], rowBytes: 4096) == nil, "one chunk is archived as it is anyway")
    }

    @Test func runsOfSmallChunksAreMergedAndInterleavedOnesAllMerged() throws {
        let a = try chunk(0..<10, bytes: 1000), b = try chunk(10..<20, bytes: 1000)
        let small1 = try chunk(20..<22, bytes: 100), small2 = try chunk(22..<25, bytes: 100), c = try chunk(25..<35, bytes: 1000)
        // Smaller than half a row: each would cost an index row of its own, so a run of them is merged.
        #expect(GrapherRole.archiveGroups([a, b], rowBytes: 2 * a.encodedByteCount + 2) == [2])
        #expect(GrapherRole.archiveGroups([a, small1, small2, c, small1], rowBytes: 4096) == nil,
                "out of order (the last one's times repeat earlier ones)")
        #expect(GrapherRole.archiveGroups([a, b, small1, small2, c], rowBytes: 4096) == [1, 1, 2, 1])
        #expect(GrapherRole.archiveGroups([small1, small2], rowBytes: 4096) == [2])
        // Out of order, or a revision overlapping a range: merged by time.
        #expect(GrapherRole.archiveGroups([b, a], rowBytes: 4096) == nil)
        let revision = try chunk(5..<15, bytes: 1000, range: TimeRange(start: 0, end: 20))
        #expect(GrapherRole.archiveGroups([a, revision], rowBytes: 4096) == nil)
        let empty = StoryChunk.empty(storyId: story, range: TimeRange(start: 20, end: 30))
        #expect(GrapherRole.archiveGroups([a, b, empty], rowBytes: 4096) == nil)
    }
}
