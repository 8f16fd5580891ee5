import ChronoArchive
import ChronoClient
import ChronoModel
import Foundation

/// CHRONOLOG: each unit is a story of the run's chronicle. A write phase acquires the stories
/// (open), logs every event with `logEvent` (I/O; a probe samples time-to-durable), flushes them to
/// the keepers (close; with `-e` also waits until they are durable in the archive), then, untimed,
/// waits until they are durable (without `-e`) and releases them. A read phase replays each story
/// whole through the player, piece by piece, and checks the number of events.
struct ChronologBackend: IORBackend {
    let api = IORAPI.chronolog
    let context: IORContext

    private var p: IORParameters { context.parameters }

    func write(_ layout: IORLayout, _ recorder: inout IORPhaseRecorder) throws -> [Int] {
        let client = context.client, units = layout.writtenUnits
        let handles = try units.map { try client.acquireStory(layout.chronicle, layout.storyName($0)) }
        recorder.opened()
        let probe = p.durableProbeMs > 0 ? DurableProbe(story: handles[0], intervalMs: p.durableProbeMs) : nil
        var rejected = 0
        let source = context.source
        let done = try IOREventLoop.run(p, &recorder, localStonewall: true) { i in
            if handles[layout.story(ofEvent: i)].logEvent(bytes: source.record(i)) == 0 { rejected += 1 }
            return true
        }
        recorder.addOps(done)
        // The probe's last durable flush may still wait for an archive round: not in the timed steps.
        probe?.requestStop()
        for h in handles { try h.flush() }
        recorder.didIO()
        let ioEnd = ContinuousClock.now
        if p.durable { try makeDurable(handles, since: ioEnd, &recorder) }
        recorder.closed()
        if !p.durable { try makeDurable(handles, since: ioEnd, &recorder) }
        for s in try probe?.stop() ?? [] { recorder.recordDurable(seconds: s) }
        for u in units { try client.releaseStory(layout.chronicle, layout.storyName(u)) }
        guard rejected == 0 else { throw IORError.rejected(events: rejected) }
        return (0..<p.storiesPerWriter).map { k in Int(handles[k].eventsLogged) }
    }

    /// Waits until every story's events are durable; one time-to-durable sample per story.
    private func makeDurable(_ handles: [StoryHandle], since ioEnd: ContinuousClock.Instant, _ recorder: inout IORPhaseRecorder) throws {
        for h in handles {
            _ = try h.flush(durable: true)
            recorder.recordDurable(seconds: recorder.seconds(since: ioEnd))
        }
    }

    func read(_ layout: IORLayout, _ units: [(unit: IORUnit, segments: [IORSegment])], _ recorder: inout IORPhaseRecorder) throws {
        recorder.opened()
        let client = context.client
        var check = p.readCheck ? IORReadCheck(eventBytes: p.eventBytes, stories: p.storiesPerWriter) : nil
        for (unit, segments) in units {
            let expected = segments.reduce(0) { $0 + $1.events }
            var events = 0
            // -R: each writer's next event in the story; a problem found stops the check, not the replay.
            var next = Dictionary(segments.map { ($0.writer, 0) }, uniquingKeysWith: { a, _ in a })
            var problem: String?
            _ = try client.replayStory(layout.chronicle, layout.storyName(unit), from: 0, to: .max, timeoutMs: 600_000) {
                (chunk: StoryChunk) throws(ChronoLogError) in
                events += chunk.count
                if check != nil && problem == nil { problem = check!.replayed(chunk, story: unit.story, next: &next) }
                recorder.read(bytes: chunk.payload.count + chunk.count * EventRecord.byteSize, events: chunk.count)
            }
            guard events == expected else {
                throw IORError.readBack(api: api, what: "events of story \(layout.storyName(unit))", got: events, expected: expected)
            }
            if let c = check, problem == nil {
                problem = c.complete(story: unit.story, next: next,
                                     expected: Dictionary(segments.map { ($0.writer, $0.events) }, uniquingKeysWith: +))
            }
            if let problem { throw IORError.readCheck(api: api, problem: problem) }
        }
        recorder.didIO()
        recorder.closed()
    }

    func removeFiles(_ layout: IORLayout) {}

    func cachedFiles(_ layout: IORLayout) -> [String] {
        (try? ArchiveReader.archiveFiles(at: p.archiveDirectory)) ?? []
    }
}
