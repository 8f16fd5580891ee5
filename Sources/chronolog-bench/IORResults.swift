import Foundation

/// A phase of a test: writing or reading back.
enum IORAccess: String, Codable, Sendable, CaseIterable {
    case write, read
}

/// Percentiles of a latency.
struct IORPercentiles: Codable, Sendable {
    var p50: Double
    var p99: Double
    /// Only for the per-event call latency.
    var p999: Double?
}

/// One API's phase in one iteration, all writers together: IOR's per-iteration line.
struct IORPhaseRow: Codable, Sendable {
    var iteration: Int
    var api: IORAPI
    var access: IORAccess
    var writers: Int
    /// Bytes moved: events' record bytes plus their 32-byte metadata records.
    var bytes: Int
    var events: Int
    /// `logEvent` calls (write) or replay pieces (read) for CHRONOLOG; I/O calls for the baselines.
    var ops: Int
    /// The slowest writer's open + I/O + close time; the rates divide by it.
    var seconds: Double
    /// The slowest writer's time in each step.
    var openSeconds: Double
    var ioSeconds: Double
    var closeSeconds: Double
    var mibPerSecond: Double
    var opsPerSecond: Double
    var eventsPerSecond: Double
    /// Per-event call latency, ns (write phases): each percentile is the largest over writers.
    var latencyNs: IORPercentiles?
    /// Time until durable, seconds (write phases), over every writer's samples.
    var durableSeconds: IORPercentiles?
    var durableSamples: Int
    /// CPU seconds of every rank of the job (service ranks included) during the phase, which for
    /// writes lasts until the events are durable.
    var cpuSeconds: Double
    var cpuSecondsPerEvent: Double
    /// Whether the stonewall stopped some writer early.
    var stonewalled: Bool
    /// Read phases: the share of the files' bytes the page cache held when the phase started
    /// (0 … 1; nil for writes, or when there was nothing to measure).
    var cachedAtStart: Double?

    /// Combines the writers' measurements.
    init(iteration: Int, api: IORAPI, access: IORAccess, ranks: [IORRankPhase], cpuSeconds: Double) {
        self.iteration = iteration
        self.api = api
        self.access = access
        writers = ranks.count
        bytes = ranks.reduce(0) { $0 + $1.bytes }
        events = ranks.reduce(0) { $0 + $1.events }
        ops = ranks.reduce(0) { $0 + $1.ops }
        seconds = ranks.map(\.totalSeconds).max() ?? 0
        openSeconds = ranks.map(\.openSeconds).max() ?? 0
        ioSeconds = ranks.map(\.ioSeconds).max() ?? 0
        closeSeconds = ranks.map(\.closeSeconds).max() ?? 0
        let s = max(seconds, 1e-9)
        mibPerSecond = Double(bytes) / 1_048_576 / s
        opsPerSecond = Double(ops) / s
        eventsPerSecond = Double(events) / s
        if access == .write, ranks.contains(where: { $0.latencyP50 > 0 }) {
            latencyNs = IORPercentiles(p50: ranks.map(\.latencyP50).max()!, p99: ranks.map(\.latencyP99).max()!,
                                       p999: ranks.map(\.latencyP999).max()!)
        }
        let samples = ranks.flatMap(\.durableSamples).sorted()
        durableSamples = samples.count
        if !samples.isEmpty {
            durableSeconds = IORPercentiles(p50: Self.percentile(samples, 50), p99: Self.percentile(samples, 99), p999: nil)
        }
        self.cpuSeconds = cpuSeconds
        cpuSecondsPerEvent = events > 0 ? cpuSeconds / Double(events) : 0
        stonewalled = ranks.contains(where: \.stonewalled)
        let fileBytes = ranks.reduce(0) { $0 + $1.fileBytes }
        if access == .read, fileBytes > 0 {
            cachedAtStart = Double(ranks.reduce(0) { $0 + $1.cachedBytes }) / Double(fileBytes)
        }
    }

    /// The nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}

/// Max, min, mean and standard deviation (over n, as IOR) of one figure over the iterations.
struct IORStatistics: Codable, Sendable {
    var max: Double
    var min: Double
    var mean: Double
    var stddev: Double

    init(_ values: [Double]) {
        max = values.max() ?? 0
        min = values.min() ?? 0
        mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        let m = mean
        stddev = values.isEmpty ? 0 : (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)).squareRoot()
    }
}

/// One API's phase over every iteration: IOR's "Summary of all tests" line plus what IOR lacks.
struct IORSummaryRow: Codable, Sendable {
    var api: IORAPI
    var access: IORAccess
    var iterations: Int
    var writers: Int
    var mibPerSecond: IORStatistics
    var opsPerSecond: IORStatistics
    var eventsPerSecond: IORStatistics
    var meanSeconds: Double
    /// Means over the iterations.
    var latencyNs: IORPercentiles?
    var durableSeconds: IORPercentiles?
    var cpuSecondsPerEvent: Double

    init(api: IORAPI, access: IORAccess, rows: [IORPhaseRow]) {
        self.api = api
        self.access = access
        iterations = rows.count
        writers = rows.first?.writers ?? 0
        mibPerSecond = IORStatistics(rows.map(\.mibPerSecond))
        opsPerSecond = IORStatistics(rows.map(\.opsPerSecond))
        eventsPerSecond = IORStatistics(rows.map(\.eventsPerSecond))
        meanSeconds = IORStatistics(rows.map(\.seconds)).mean
        func mean(_ values: [Double]) -> Double { IORStatistics(values).mean }
        let lat = rows.compactMap(\.latencyNs)
        if !lat.isEmpty {
            latencyNs = IORPercentiles(p50: mean(lat.map(\.p50)), p99: mean(lat.map(\.p99)), p999: mean(lat.compactMap(\.p999)))
        }
        let dur = rows.compactMap(\.durableSeconds)
        if !dur.isEmpty { durableSeconds = IORPercentiles(p50: mean(dur.map(\.p50)), p99: mean(dur.map(\.p99)), p999: nil) }
        cpuSecondsPerEvent = mean(rows.map(\.cpuSecondsPerEvent))
    }
}

/// A CHRONOLOG figure next to the best baseline's of the same run.
struct IORRatio: Codable, Sendable {
    var access: IORAccess
    var figure: String
    var higherIsBetter: Bool
    var chronolog: Double
    /// The baseline with the best value of the figure.
    var baseline: IORAPI
    var baselineValue: Double
    /// `chronolog / baselineValue`.
    var ratio: Double
}

/// One writer's progress in one phase, for `benchmarks/plot.py`.
struct IORTimeline: Codable, Sendable {
    var api: IORAPI
    var access: IORAccess
    var iteration: Int
    var rank: Int
    /// Seconds since the benchmark started (each rank's own clock, started after a common barrier).
    var t: [Double]
    /// Bytes done by then within the phase.
    var bytes: [Int]
}

/// The JSON summary (`--json FILE`, `-O summaryFormat=JSON`).
struct IORReport: Codable, Sendable {
    var tool = "chronolog-bench ior"
    var began: String
    var finished: String
    var command: [String]
    var host: String
    /// Ranks of the job (service ranks included), recording groups (one per node, real or
    /// virtual) and writer (client) ranks.
    var ranks: Int
    var nodes: Int
    var writers: Int
    var parameters: IORParameters
    var iterations: [IORPhaseRow]
    var summary: [IORSummaryRow]
    var ratios: [IORRatio]
    var timeline: [IORTimeline]

    /// The summary rows, in the order of `-a`, writes before reads.
    static func summarize(_ rows: [IORPhaseRow], apis: [IORAPI]) -> [IORSummaryRow] {
        IORAccess.allCases.flatMap { access in
            apis.compactMap { api in
                let mine = rows.filter { $0.api == api && $0.access == access }
                return mine.isEmpty ? nil : IORSummaryRow(api: api, access: access, rows: mine)
            }
        }
    }

    /// Every CHRONOLOG summary figure divided by the best baseline's (highest rate, lowest
    /// latency or cost) of the same run; empty without CHRONOLOG or without a baseline.
    static func ratios(_ summary: [IORSummaryRow]) -> [IORRatio] {
        typealias Figure = (name: String, higher: Bool, value: (IORSummaryRow) -> Double?)
        let figures: [Figure] = [
            ("MiB/s", true, { $0.mibPerSecond.mean }),
            ("events/s", true, { $0.eventsPerSecond.mean }),
            ("per-event call p50 ns", false, { $0.latencyNs?.p50 }),
            ("per-event call p99 ns", false, { $0.latencyNs?.p99 }),
            ("per-event call p99.9 ns", false, { $0.latencyNs?.p999 }),
            ("time-to-durable p50 s", false, { $0.durableSeconds?.p50 }),
            ("time-to-durable p99 s", false, { $0.durableSeconds?.p99 }),
            ("CPU s/event", false, { $0.cpuSecondsPerEvent }),
        ]
        var out: [IORRatio] = []
        for access in IORAccess.allCases {
            guard let mine = summary.first(where: { $0.api == .chronolog && $0.access == access }) else { continue }
            let baselines = summary.filter { $0.api.isBaseline && $0.access == access }
            for f in figures {
                guard let value = f.value(mine), value > 0 else { continue }
                let candidates = baselines.compactMap { b in f.value(b).flatMap { $0 > 0 ? (b.api, $0) : nil } }
                guard let best = f.higher ? candidates.max(by: { $0.1 < $1.1 }) : candidates.min(by: { $0.1 < $1.1 }) else { continue }
                out.append(IORRatio(access: access, figure: f.name, higherIsBetter: f.higher, chronolog: value,
                                    baseline: best.0, baselineValue: best.1, ratio: value / best.1))
            }
        }
        return out
    }
}
