import ChronoClient
import Foundation
import Synchronization

/// Samples CHRONOLOG's time-to-durable while a write phase logs: a helper thread asks, every
/// `--durable-probe-ms`, for a durable flush of one story (`flush(durable: true)`) and times the
/// answer, which comes once every event logged to it before the request is in the archive.
final class DurableProbe: @unchecked Sendable {
    private let story: StoryHandle
    private let interval: Duration
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    private let samples = Mutex<[Double]>([])
    private let failure = Mutex<String?>(nil)

    /// Starts probing `story` every `intervalMs` (≥ 1).
    init(story: StoryHandle, intervalMs: Int) {
        self.story = story
        interval = .milliseconds(intervalMs)
        let thread = Thread { [self] in probe() }
        thread.name = "durable-probe"
        thread.start()
    }

    private func probe() {
        defer { finished.store(true, ordering: .releasing) }
        var next = ContinuousClock.now + interval
        while running.load(ordering: .relaxed) {
            guard ContinuousClock.now >= next else {
                Thread.sleep(forTimeInterval: 0.001)
                continue
            }
            let start = ContinuousClock.now
            do {
                _ = try story.flush(durable: true)
            } catch {
                failure.withLock { $0 = "\(error)" }
                return
            }
            let took = ContinuousClock.now - start
            samples.withLock { $0.append(Double(took / .nanoseconds(1)) / 1e9) }
            next = start + interval
        }
    }

    /// Asks the probe to stop after the durable flush in flight, if any; does not wait.
    func requestStop() { running.store(false, ordering: .relaxed) }

    /// Stops probing and waits for a probe in flight.
    /// - Returns: the samples, seconds.
    /// - Throws: `IORError.otherRank` with the durable flush's error if one failed.
    func stop() throws -> [Double] {
        requestStop()
        while !finished.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }
        if let f = failure.withLock({ $0 }) { throw IORError.otherRank("CHRONOLOG durable probe: \(f)") }
        return samples.withLock { $0 }
    }
}
