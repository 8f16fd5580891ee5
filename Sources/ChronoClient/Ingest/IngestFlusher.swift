import ChronoModel
import Foundation
import Synchronization

/// The one background thread of a session's ingest: every linger interval it receives waiting
/// acknowledgements (so writers rarely find their window full), ships batches that lingered long
/// enough and sends the idle stories' watermarks, one message per keeper (``round(_:everyStory:transport:sets:)``).
///
/// It never waits for a window or a lock a writer holds. While no story is held it backs off
/// (doubling its sleep up to 50 ms). `stop()` ends and joins it; the session calls it before MPI
/// is finalized.
@_spi(IngestTesting)
public final class IngestFlusher: @unchecked Sendable {
    private let router: AckRouter
    private let transport: any IngestTransport
    private let interval: UInt64
    private let condition = NSCondition()
    private var stopping = false
    private var running = false
    private let rounds = Atomic<UInt64>(0)

    /// The longest sleep while nothing is held.
    static let idleSleepLimitNanoseconds: UInt64 = 50_000_000

    /// - Parameter intervalNanoseconds: the period while stories are held (the linger time,
    ///   clamped to 100 µs … 10 ms).
    public init(router: AckRouter, transport: any IngestTransport, intervalNanoseconds: UInt64) {
        self.router = router
        self.transport = transport
        self.interval = min(max(intervalNanoseconds, 100_000), 10_000_000)
    }

    /// Starts the thread. Call once.
    public func start() {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in loop() }
        thread.name = "chronolog-ingest-flusher"
        thread.start()
    }

    /// Rounds run so far.
    public var roundCount: UInt64 { rounds.load(ordering: .relaxed) }

    /// Stops the thread and waits until it has exited (it makes no transport call afterwards).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    /// Where one round's idle watermarks go: one set per keeper and client.
    public struct WatermarkDestination: Hashable, Sendable {
        let keeperRank: Int
        let clientId: ClientID
    }

    /// One round over the held stories: each ships its lingering batch, if due (``StoryIngest/tick(storiesHeld:)``),
    /// and the idle stories' watermarks go out as one ``WatermarkSet`` per keeper (and client),
    /// however many stories are idle.
    /// - Parameters:
    ///   - everyStory: false: visit only stories holding events (their linger time may be up).
    ///   - sets: scratch storage, reused from round to round (left empty).
    /// - Returns: the batches shipped and the watermark sets sent.
    @discardableResult
    public static func round(_ held: [StoryIngest], everyStory: Bool = true, transport: any IngestTransport,
                             sets: inout [WatermarkDestination: [WatermarkSet.Entry]]) -> (batches: Int, sets: Int) {
        var batches = 0
        for ingest in held where everyStory || ingest.holdsPendingEvents {
            switch ingest.tick(storiesHeld: held.count) {
            case .nothing: break
            case .shipped: batches += 1
            case .idle(let watermark):
                sets[WatermarkDestination(keeperRank: ingest.keeperRank, clientId: ingest.clientId), default: []]
                    .append(WatermarkSet.Entry(storyId: ingest.storyId, watermark: watermark))
            }
        }
        var sent = 0
        for (destination, entries) in sets where !entries.isEmpty {
            let message = ControlMessage.watermarks(WatermarkSet(contributor: destination.clientId.rawValue, entries: entries))
            // A failing transport is reported to the writers by their own calls; a lost idle
            // watermark only delays sealing until the next one.
            if (try? transport.send(message.encode(), to: destination.keeperRank)) != nil { sent += 1 }
        }
        sets.removeAll(keepingCapacity: true)
        return (batches, sent)
    }

    private func loop() {
        var held: [StoryIngest] = []
        var sets: [WatermarkDestination: [WatermarkSet.Entry]] = [:]
        var nextFullRound = ContinuousClock.now
        var generation: UInt64 = 0
        var sleep = interval
        while true {
            // Refreshed only when stories were added or removed (thousands of held stories would
            // otherwise cost a retain and release each per round).
            generation = router.snapshot(into: &held, unlessAt: generation)
            if held.isEmpty {
                sleep = min(sleep * 2, Self.idleSleepLimitNanoseconds)
            } else {
                sleep = interval
                // A failing transport is reported to the writers by their own calls.
                _ = try? transport.pollAcks(into: router)
                // Stories holding events are visited every round (their batches linger at most about
                // one interval longer); every story, for idle watermarks, every 5 ms or, with more
                // than 500 stories, every 10 µs per story (their watermark intervals grow too).
                let now = ContinuousClock.now
                let everyStory = now >= nextFullRound
                if everyStory { nextFullRound = now + max(.milliseconds(5), .microseconds(10 * held.count)) }
                Self.round(held, everyStory: everyStory, transport: transport, sets: &sets)
            }
            rounds.add(1, ordering: .relaxed)
            condition.lock()
            if !stopping {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(sleep) / 1e9))
            }
            if stopping {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            condition.unlock()
        }
    }
}
