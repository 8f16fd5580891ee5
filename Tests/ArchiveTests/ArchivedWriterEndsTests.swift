import ChronoArchive
import ChronoModel
import Testing

/// Where earlier writers' archived events end, and when a replay's range makes their missing tail
/// matter (``ArchivedWriterEnds``), on an in-memory story read back three events per window.
@Suite("Archived writer ends")
struct ArchivedWriterEndsTests {
    /// One story in memory; `lastWindowStart` steps back `step` events whatever the count asked.
    final class MemorySource: ArchiveSource {
        let chunk: StoryChunk
        let step: Int
        private(set) var reads = 0

        init(events: [Event], step: Int = 3) throws {
            chunk = try StoryChunk(storyId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: .max), events: events)
            self.step = step
        }

        func firstWindow(chronicle: String, story: String, range: TimeRange, maxBytes: Int,
                         toleratingDamage: Bool) throws(ArchiveError) -> TimeRange { range }

        func read(chronicle: String, story: String, range: TimeRange) throws(ArchiveError) -> ArchiveAnswer {
            guard story == "s" else { throw .storyNotFound(chronicle: chronicle, story: story) }
            reads += 1
            return ArchiveAnswer(events: chunk.slice(range), completeness: ArchiveCompleteness())
        }

        func readEncoded(chronicle: String, story: String, window: TimeRange,
                         into destination: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> EncodedWindow? { nil }

        func lastWindowStart(chronicle: String, story: String, range: TimeRange, count: Int) throws(ArchiveError) -> UInt64 {
            guard story == "s" else { throw .storyNotFound(chronicle: chronicle, story: story) }
            let inside = chunk.records.filter { range.contains($0.time) }
            return inside.count > step ? inside[inside.count - step].time : range.start
        }
    }

    /// Client 1 wrote indexes 0..<10 at times 100, 110, …, 190; client 2 indexes 0..<3 at 5, 15, 25.
    private func story() throws -> MemorySource {
        let one = (0..<10).map { Event(time: 100 + 10 * UInt64($0), clientId: ClientID(1), index: UInt32($0), text: "a") }
        let two = (0..<3).map { Event(time: 5 + 10 * UInt64($0), clientId: ClientID(2), index: UInt32($0), text: "b") }
        return try MemorySource(events: one + two)
    }

    @Test("the backward scan finds each writer's last archived event, stopping once all are found")
    func scan() throws {
        let source = try story()
        let ends = try ArchivedWriterEnds.scan(source, chronicle: "c", story: "s", clients: [1])
        #expect(ends.ends == [1: .init(index: 9, time: 190)])
        #expect(source.reads == 1, "one window holds client 1's last event")
        let both = try ArchivedWriterEnds.scan(source, chronicle: "c", story: "s", clients: [1, 2, 7])
        #expect(both.ends == [1: .init(index: 9, time: 190), 2: .init(index: 2, time: 25)])
        let none = try ArchivedWriterEnds.scan(source, chronicle: "c", story: "missing", clients: [1])
        #expect(none.ends.isEmpty)
    }

    @Test("a tail is missing only for ranges reaching past the writer's last archived event; complete writers never")
    func missingTails() throws {
        let ends = try ArchivedWriterEnds.scan(try story(), chronicle: "c", story: "s", clients: [1, 2, 7])
        let writers: [ReplayRequest.EarlierWriter] = [
            .init(client: 1, first: 0, count: 10),  // all archived
            .init(client: 2, first: 0, count: 5),  // indexes 3, 4 missing
            .init(client: 7, first: 0, count: nil),  // never released, nothing archived
        ]
        let whole = ends.missingTails(of: writers, before: .max)
        #expect(whole == [
            "client 2 tail missing: indexes 3..<5 of its 5 events never archived (its last archived event: index 2, time 25)",
            "client 7 never released the story: its tail is unknown (none of its events is archived)",
        ])
        // Up to client 2's last archived event: what it lacks lies after the range.
        #expect(ends.missingTails(of: Array(writers.prefix(2)), before: 25).isEmpty)
        #expect(ends.missingTails(of: Array(writers.prefix(2)), before: 26).count == 1)
        // A writer whose count is within what is archived, or whose visible events start past it.
        #expect(ends.missingTails(of: [.init(client: 2, first: 0, count: 3)], before: .max).isEmpty)
        #expect(ends.missingTails(of: [.init(client: 2, first: 4, count: 6)], before: .max)
                == ["client 2 tail missing: indexes 4..<6 of its 2 events never archived (its last archived event: index 2, time 25)"])
    }

    @Test("the catalog's writers of earlier jobs: ids below the job's first, released with events or never released")
    func earlierWriters() {
        var catalog = ArchiveCatalog()
        catalog.createChronicle("c", attributes: [:], flags: 0)
        for id in [3, 5, 9, 1000] { catalog.acquire(chronicle: "c", story: "s", attributes: [:], by: ClientID(UInt64(id))) }
        catalog.release(chronicle: "c", story: "s", by: ClientID(3), count: 4)
        catalog.release(chronicle: "c", story: "s", by: ClientID(5), count: 0)
        let story = catalog.story(chronicle: "c", story: "s")!
        #expect(story.earlierWriters(before: 1000) == [.init(client: 3, first: 0, count: 4), .init(client: 9, first: 0, count: nil)])
    }
}
