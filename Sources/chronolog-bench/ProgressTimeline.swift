/// A rank's progress through one phase over time, for the plot: seconds since the benchmark
/// started and bytes done so far. At most ``capacity`` samples: when full, every other sample is
/// dropped and the interval doubles, so a long phase keeps an even, bounded record.
struct ProgressTimeline: Codable, Sendable {
    /// Seconds since the benchmark started (the same origin for every phase of a rank).
    private(set) var t: [Double] = []
    /// Bytes done by then (cumulative within the phase).
    private(set) var bytes: [Int] = []
    private var interval = 0.005
    private var nextAt = -Double.infinity

    /// The most samples kept.
    static let capacity = 1000

    private enum CodingKeys: String, CodingKey { case t, bytes }

    /// Records a sample if the interval has passed since the last one (or `force`).
    mutating func record(at seconds: Double, bytes done: Int, force: Bool = false) {
        guard force || seconds >= nextAt else { return }
        t.append(seconds)
        bytes.append(done)
        nextAt = seconds + interval
        if t.count >= Self.capacity {
            t = stride(from: 0, to: t.count, by: 2).map { t[$0] }
            bytes = stride(from: 0, to: bytes.count, by: 2).map { bytes[$0] }
            interval *= 2
        }
    }
}
