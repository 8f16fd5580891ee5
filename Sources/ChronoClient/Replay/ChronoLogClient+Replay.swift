import ChronoModel
import Foundation
import Synchronization

/// How a replay ended: up to when its answer is complete, and whether the story is still recorded.
public struct ReplayOutcome: Sendable, Hashable {
    /// Every event of the story before this time (visor time, ns) was in the answer, except late
    /// events (logged with a time whose range had already been sealed).
    public var completeBefore: UInt64
    /// Whether the story was still being recorded (acquired by some client) when answered.
    public var isRecording: Bool
    /// `nil` when every archived event of the range was read; otherwise why some could not be
    /// (a damaged archive row, the tail a killed writer left uncommitted, a writer's tail the
    /// catalog records but the archive lacks, or a writer that never released the story): ChronoLog's
    /// `CL_ERR_PARTIAL_RESULT` (−18), with the events that could be read delivered.
    public var partial: String? = nil

    /// Whether nothing archived was left out (``partial`` is `nil`).
    public var isComplete: Bool { partial == nil }
}

extension ChronoLogClient {
    /// ChronoLog's `ReplayStory`: every event of the story with `start <= time < end`, in event
    /// order (time, client id, index), from the archive and from the events not archived yet —
    /// an event is visible as soon as its batch reached its keeper (after `client.lingerMicroseconds`
    /// at most, or at once after ``StoryHandle/flush()``).
    ///
    /// The story need not be acquired. Many queries may run at once, from any number of threads.
    /// - Parameters:
    ///   - timeoutMs: how long the player may take; default `timeouts.replayQueryMs`.
    /// - Returns: the events (an empty range, or a story without events, gives `[]` at once).
    ///   When some archived events could not be read (damaged rows), this form still returns the
    ///   rest; the ``replayStory(_:_:from:to:timeoutMs:pieces:)`` form says so (``ReplayOutcome/partial``).
    /// - Throws: `.notReaderMode` (−11) for a writer-only client; `.invalidName` (−2);
    ///   `.chronicleNotFound` (−3) when neither the job nor the archive knows the story;
    ///   `.noPlayers` (−10); `.queryTimedOut` (−12); `.noConnection` (−8); `.notAuthorized` (−9)
    ///   when the chronicle's `access.read` is `owner` and this client is not it.
    public func replayStory(_ chronicle: String, _ story: String, from start: UInt64, to end: UInt64,
                            timeoutMs: Int? = nil) throws(ChronoLogError) -> [Event] {
        var events: [Event] = []
        _ = try replayStory(chronicle, story, from: start, to: end, timeoutMs: timeoutMs) { (chunk: StoryChunk) throws(ChronoLogError) in
            events.reserveCapacity(events.count + chunk.count)
            for i in 0..<chunk.count { events.append(chunk.event(at: i)) }
        }
        return events
    }

    /// `ReplayStory` delivering the answer piece by piece (each a ``StoryChunk`` of at most
    /// `player.pieceBytes`, in event order) to `body`, without building one array of events.
    /// Same semantics and errors as ``replayStory(_:_:from:to:timeoutMs:)``; an error thrown by
    /// `body` cancels the query and is rethrown.
    /// - Returns: up to when the answer is complete, and whether the story is still recorded.
    @discardableResult
    public func replayStory(_ chronicle: String, _ story: String, from start: UInt64, to end: UInt64, timeoutMs: Int? = nil,
                            pieces body: (StoryChunk) throws(ChronoLogError) -> Void) throws(ChronoLogError) -> ReplayOutcome {
        let id = try requireConnection()
        guard mode == .writerReader else { throw .notReaderMode }
        _ = try ChronicleName(chronicle)
        _ = try StoryName(story)
        let range = TimeRange(start: start, end: end)
        if range.isEmpty { return ReplayOutcome(completeBefore: start, isRecording: false) }
        let timeout = UInt64(max(1, timeoutMs ?? session.config.timeouts.replayQueryMs))
        let query = ReplayQuery(session: session, request: ReplayRequest(
            queryId: 0, clientId: id, chronicle: chronicle, story: story, range: range, timeoutMilliseconds: timeout))
        return try query.run(body)
    }

    /// Opens this process's end of the bulk plane for replays now, instead of at the first replay:
    /// libfabric's first `fi_getinfo` loads every provider it knows, 0.1–0.15 s of CPU on the
    /// development machine, which a reader timing its first replay (a benchmark's read phase) or
    /// answering a user would rather pay at start-up. Later calls do nothing.
    /// - Throws: `.notReaderMode` (−11) for a writer-only client; `.noConnection` (−8) when not
    ///   connected or the provider cannot be opened.
    public func prepareReplay() throws(ChronoLogError) {
        _ = try requireConnection()
        guard mode == .writerReader else { throw .notReaderMode }
        _ = try session.replayReader.address()
    }

    /// `ReplayStory` as an asynchronous sequence of events, in event order. The query runs on a
    /// thread of its own (never blocking Swift's cooperative pool); pieces are fetched as the
    /// consumer goes, at most two ahead, so memory stays bounded whatever the range's size.
    /// Errors (as for ``replayStory(_:_:from:to:timeoutMs:)``) end the sequence by throwing.
    /// Cancelling the consuming task cancels the query.
    public func replay(_ chronicle: String, _ story: String, from start: UInt64, to end: UInt64,
                       timeoutMs: Int? = nil) -> ReplayEvents {
        ReplayEvents { (feed: ReplayEvents.Feed) throws(ChronoLogError) in
            try self.replayStory(chronicle, story, from: start, to: end, timeoutMs: timeoutMs) { (chunk: StoryChunk) throws(ChronoLogError) in
                try feed.send(chunk)
            }
        }
    }

    /// Follows a live story: yields its events from `start` on, in event order, as they become
    /// complete (every keeper's watermark passed them), and ends once the story is no longer
    /// recorded (its last holder released it) and every event logged before was yielded.
    ///
    /// Polls the player every `interval` with a replay from the last complete time on. Events
    /// that arrive late (after their range was sealed) are not yielded once `follow` has passed
    /// their time; they are counted as late in the job summary and are in the archive.
    public func follow(_ chronicle: String, _ story: String, from start: UInt64 = 0,
                       interval: Duration = .milliseconds(20), timeoutMs: Int? = nil) -> ReplayEvents {
        ReplayEvents { (feed: ReplayEvents.Feed) throws(ChronoLogError) in
            var cursor = start
            while true {
                var pieces: [StoryChunk] = []
                let outcome = try self.replayStory(chronicle, story, from: cursor, to: .max, timeoutMs: timeoutMs) {
                    (chunk: StoryChunk) throws(ChronoLogError) in pieces.append(chunk)
                }
                let finished = !outcome.isRecording
                let upTo = finished ? UInt64.max : max(cursor, outcome.completeBefore)
                for chunk in pieces {
                    let part = chunk.slice(TimeRange(start: cursor, end: upTo))
                    if !part.isEmpty { try feed.send(part) }
                }
                if finished { return }
                cursor = upTo
                try feed.pause(interval)
            }
        }
    }
}

/// The events of a replay (``ChronoLogClient/replay(_:_:from:to:timeoutMs:)``) or of a followed
/// story (``ChronoLogClient/follow(_:_:from:interval:timeoutMs:)``), as an asynchronous sequence.
/// The query runs on its own thread and stays at most two pieces ahead of the consumer.
public struct ReplayEvents: AsyncSequence, Sendable {
    public typealias Element = Event

    /// The producer's side: hands pieces to the consumer, waiting while it is two pieces behind.
    public final class Feed: Sendable {
        fileprivate let continuation: AsyncThrowingStream<StoryChunk, Error>.Continuation
        fileprivate let produced = Atomic<Int>(0)
        fileprivate let consumed = Atomic<Int>(0)
        fileprivate let cancelled = Atomic<Bool>(false)

        fileprivate init(continuation: AsyncThrowingStream<StoryChunk, Error>.Continuation) {
            self.continuation = continuation
        }

        /// Passes `chunk` on; waits while the consumer is two pieces behind.
        /// - Throws: `.unknown("cancelled")` once the consumer stopped (the query is then cancelled).
        func send(_ chunk: StoryChunk) throws(ChronoLogError) {
            while produced.load(ordering: .acquiring) - consumed.load(ordering: .acquiring) >= 2 {
                try pause(.microseconds(200))
            }
            produced.add(1, ordering: .releasing)
            continuation.yield(chunk)
        }

        /// Sleeps for `duration` unless the consumer stopped.
        func pause(_ duration: Duration) throws(ChronoLogError) {
            if cancelled.load(ordering: .acquiring) { throw .unknown("the replay's consumer stopped") }
            let (s, atto) = duration.components
            Thread.sleep(forTimeInterval: Double(s) + Double(atto) / 1e18)
            if cancelled.load(ordering: .acquiring) { throw .unknown("the replay's consumer stopped") }
        }
    }

    private let stream: AsyncThrowingStream<StoryChunk, Error>
    private let feed: Feed

    init(producer: @escaping @Sendable (Feed) throws(ChronoLogError) -> Void) {
        let (stream, continuation) = AsyncThrowingStream<StoryChunk, Error>.makeStream()
        let feed = Feed(continuation: continuation)
        continuation.onTermination = { [feed] _ in feed.cancelled.store(true, ordering: .releasing) }
        self.stream = stream
        self.feed = feed
        let thread = Thread {
            do throws(ChronoLogError) {
                try producer(feed)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.name = "chronolog-replay"
        thread.start()
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: stream.makeAsyncIterator(), feed: feed)
    }

    /// Iterates the events, piece by piece.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: AsyncThrowingStream<StoryChunk, Error>.AsyncIterator
        let feed: Feed
        var current: StoryChunk?
        var position = 0

        public mutating func next() async throws -> Event? {
            while true {
                if let chunk = current, position < chunk.count {
                    position += 1
                    return chunk.event(at: position - 1)
                }
                guard let chunk = try await inner.next() else { return nil }
                feed.consumed.add(1, ordering: .releasing)
                current = chunk
                position = 0
            }
        }
    }
}
