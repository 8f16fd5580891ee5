import ChronoModel
import Foundation
import Synchronization

/// The one background thread of a session's ingest: every linger interval it receives waiting
/// acknowledgements (so writers rarely find their window full), ships batches that lingered long
/// enough and sends watermark-only batches for idle stories (``StoryIngest/tick()``).
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

    private func loop() {
        var held: [StoryIngest] = []
        var sleep = interval
        while true {
            router.snapshot(into: &held)
            if held.isEmpty {
                sleep = min(sleep * 2, Self.idleSleepLimitNanoseconds)
            } else {
                sleep = interval
                // A failing transport is reported to the writers by their own calls.
                _ = try? transport.pollAcks(into: router)
                for ingest in held { ingest.tick(storiesHeld: held.count) }
                held.removeAll(keepingCapacity: true)
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
