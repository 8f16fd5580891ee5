import Foundation
import Histogram

/// What one rank measured in one phase, sent to the first writer as JSON to be combined.
struct IORRankPhase: Codable, Sendable {
    var rank: Int
    /// Bytes stored or read: events' record bytes plus their 32-byte metadata records.
    var bytes = 0
    var events = 0
    /// I/O operations: `logEvent` calls or replay pieces for CHRONOLOG, I/O calls for the baselines.
    var ops = 0
    var openSeconds = 0.0
    var ioSeconds = 0.0
    var closeSeconds = 0.0
    /// Per-event call latency (`logEvent`, or the baseline's append), ns; write phases only.
    var latencyP50 = 0.0, latencyP99 = 0.0, latencyP999 = 0.0
    /// Time from an event's logging (or the last write) until it was durable, seconds.
    var durableSamples: [Double] = []
    /// Whether the stonewall (`-D`) stopped this rank before its last event.
    var stonewalled = false
    /// Read phases: bytes of the files read (as far as this rank wrote them; CHRONOLOG: the
    /// archive) and how many of them the page cache held when the phase started.
    var fileBytes = 0, cachedBytes = 0
    var timeline = ProgressTimeline()

    /// Open + I/O + close.
    var totalSeconds: Double { openSeconds + ioSeconds + closeSeconds }
}

/// Measures one rank's phase: the open / I/O / close steps, bytes and events, sampled per-event
/// latency, time-to-durable samples and the progress timeline.
struct IORPhaseRecorder {
    private(set) var result: IORRankPhase
    private let origin: ContinuousClock.Instant
    private var stepStart: ContinuousClock.Instant
    private var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    /// Bytes one event takes.
    let storedEventBytes: Int

    /// Starts the phase now. - Parameter origin: the benchmark's start, the timeline's zero.
    init(rank: Int, origin: ContinuousClock.Instant, storedEventBytes: Int) {
        self.origin = origin
        self.storedEventBytes = storedEventBytes
        result = IORRankPhase(rank: rank)
        stepStart = .now
        result.timeline.record(at: seconds(since: origin), bytes: 0, force: true)
    }

    /// Seconds from `instant` to now.
    func seconds(since instant: ContinuousClock.Instant) -> Double {
        Double((ContinuousClock.now - instant) / .nanoseconds(1)) / 1e9
    }

    /// Seconds since the I/O step started (the stonewall clock).
    var secondsWriting: Double { seconds(since: stepStart) }

    /// Notes what the page cache held of the files read when the phase started.
    mutating func noteCache(cached: Int, of total: Int) {
        result.cachedBytes = cached
        result.fileBytes = total
    }

    /// Ends the open step; the I/O step starts.
    mutating func opened() { result.openSeconds = lap() }

    /// Ends the I/O step; the close step starts.
    mutating func didIO() {
        result.ioSeconds = lap()
        result.timeline.record(at: seconds(since: origin), bytes: result.bytes, force: true)
    }

    /// Ends the close step.
    mutating func closed() { result.closeSeconds = lap() }

    private mutating func lap() -> Double {
        let now = ContinuousClock.now
        defer { stepStart = now }
        return Double((now - stepStart) / .nanoseconds(1)) / 1e9
    }

    /// Sets the events written so far in a write phase (and their bytes), and samples the timeline.
    @inline(__always)
    mutating func progress(events n: Int) {
        result.events = n
        result.bytes = n * storedEventBytes
        tick()
    }

    /// Counts I/O operations.
    @inline(__always)
    mutating func addOps(_ n: Int) { result.ops += n }

    /// Counts bytes and events read, one operation, and samples the timeline.
    mutating func read(bytes n: Int, events: Int, ops: Int = 1) {
        result.bytes += n
        result.events += events
        result.ops += ops
        tick()
    }

    /// Samples the timeline (cheap when the interval has not passed).
    mutating func tick() {
        result.timeline.record(at: seconds(since: origin), bytes: result.bytes)
    }

    /// Records one per-event latency sample, ns.
    @inline(__always)
    mutating func recordLatency(nanoseconds: UInt64) { latency.record(nanoseconds) }

    /// Records a time-to-durable sample, seconds.
    mutating func recordDurable(seconds: Double) { result.durableSamples.append(seconds) }

    /// Marks the rank stonewalled.
    mutating func stonewall() { result.stonewalled = true }

    /// The rank's result, latency percentiles filled in.
    func finished() -> IORRankPhase {
        var r = result
        if latency.totalCount > 0 {
            r.latencyP50 = Double(latency.valueAtPercentile(50))
            r.latencyP99 = Double(latency.valueAtPercentile(99))
            r.latencyP999 = Double(latency.valueAtPercentile(99.9))
        }
        return r
    }
}
