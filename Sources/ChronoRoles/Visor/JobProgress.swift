import ChronoModel
import ChronoSystem

/// The visor's progress lines during a job (`progress.intervalMs`), made from what the recording
/// processes already send: the counters of their latest heartbeats (`heartbeat.intervalMs`), so
/// gathering them costs no message of its own and nothing per event. Pure state: the visor gives
/// it the elapsed time and the totals; it keeps the previous line's totals to compute rates.
public struct JobProgress: Sendable {
    /// The job's figures as of the latest heartbeats, summed over the recording processes.
    public struct Totals: Sendable, Equatable {
        /// Events keepers received (`events.received`), rejected ones included.
        public var received: UInt64 = 0
        /// Events keepers rejected (`events.rejected`, `events.rejected.notRecorded`).
        public var rejected: UInt64 = 0
        /// Events graphers archived (`events.archived`).
        public var archived: UInt64 = 0
        /// Late events, keepers' and graphers' (`events.late`).
        public var late: UInt64 = 0
        /// Record bytes keepers received (`bytes.received`).
        public var bytesReceived: UInt64 = 0
        /// Record bytes graphers archived (`bytes.archived`).
        public var bytesArchived: UInt64 = 0
        /// The largest p99 of the graphers' log-to-durable latency so far, in µs.
        public var durableP99Microseconds: UInt64 = 0
        /// Resident memory of the recording processes, summed.
        public var residentBytes: UInt64 = 0
        /// Minor page faults of the keepers and of the graphers since each process started
        /// (pages touched for the first time: on the development VM each costs a host fault).
        public var keeperFaults: UInt64 = 0
        public var grapherFaults: UInt64 = 0
        /// Batch acknowledgements keepers held back (`acks.held`): at their memory bound, where
        /// writers wait for durability to free room.
        public var acksHeld: UInt64 = 0
        /// Recording processes whose heartbeat (with counters) has arrived.
        public var reporting = 0

        public init() {}

        /// Events received and not rejected that are not durable yet.
        public var lag: UInt64 { received > rejected + archived ? received - rejected - archived : 0 }
        /// Record bytes received that are not durable yet (rejected events' bytes included).
        public var lagBytes: UInt64 { bytesReceived > bytesArchived ? bytesReceived - bytesArchived : 0 }

        /// Adds one recording process's latest heartbeat counters.
        public mutating func add(_ c: Counters, role: Role) {
            guard !c.isEmpty else { return }
            reporting += 1
            residentBytes += c[.memoryResidentBytes] ?? 0
            late += c[.eventsLate] ?? 0
            switch role {
            case .keeper:
                received += c[.eventsReceived] ?? 0
                rejected += (c[.eventsRejected] ?? 0) + (c[.eventsRejectedNotRecorded] ?? 0)
                bytesReceived += c[.bytesReceived] ?? 0
                keeperFaults += c[.faultsMinor] ?? 0
                acksHeld += c[.acksHeld] ?? 0
            case .grapher:
                archived += c[.eventsArchived] ?? 0
                bytesArchived += c[.bytesArchived] ?? 0
                durableP99Microseconds = max(durableP99Microseconds, c[.durableLatencyP99Us] ?? 0)
                grapherFaults += c[.faultsMinor] ?? 0
            case .player, .visor, .client:
                break
            }
        }
    }

    /// One recording process's event counts as of one of its heartbeats.
    private struct Sample {
        var at: Duration
        var received: UInt64
        var archived: UInt64
    }

    /// Time between two lines.
    public let interval: Duration
    private var lastAt: Duration = .zero
    private var lastTotals = Totals()
    /// Each keeper's and grapher's latest heartbeat, the one the previous line used, and its rates
    /// between those two: processes send heartbeats on their own schedules, so each rate is over
    /// the time between two heartbeats of one process, never over a line's interval.
    private var latest: [Int32: Sample] = [:]
    private var used: [Int32: Sample] = [:]
    private var rates: [Int32: (received: Double, archived: Double)] = [:]

    /// Fewer record bytes received since the line before than this show no fresh-page share
    /// ("-"): a few kilobytes against the pages a job touches while it warms up say nothing.
    static let freshShareMinimumBytes: UInt64 = 1_000_000

    /// A process silent for longer than this counts no rate (it stopped, or stopped answering).
    private let silence: Duration

    /// - Parameters:
    ///   - interval: time between two lines (`progress.intervalMs`).
    ///   - heartbeatInterval: `heartbeat.intervalMs`; a process with no heartbeat for three of them counts no rate.
    public init(interval: Duration, heartbeatInterval: Duration = .seconds(1)) {
        self.interval = interval
        self.silence = heartbeatInterval * 3
    }

    /// Notes a recording process's heartbeat, arrived `elapsed` after the job started.
    public mutating func heartbeat(rank: Int32, role: Role, counters: Counters, at elapsed: Duration) {
        guard !counters.isEmpty, role == .keeper || role == .grapher else { return }
        latest[rank] = Sample(at: elapsed, received: role == .keeper ? counters[.eventsReceived] ?? 0 : 0,
                              archived: role == .grapher ? counters[.eventsArchived] ?? 0 : 0)
    }

    /// Whether a line is due `elapsed` after the job started.
    public func isDue(at elapsed: Duration) -> Bool { elapsed - lastAt >= interval }

    /// The line for `totals` at `elapsed` since the job started. The rates of events in and
    /// archived sum each keeper's and grapher's rate between its heartbeat the previous line used
    /// (the job's start for its first) and its latest (``heartbeat(rank:role:counters:at:)``); a
    /// process with no heartbeat since keeps its last rate, one silent for three heartbeat intervals none. Remembers `totals` for the next line.
    /// - Returns: `nil` while no recording process has sent a heartbeat yet (nothing to say).
    public mutating func line(at elapsed: Duration, totals: Totals) -> String? {
        guard totals.reporting > 0 else {
            lastAt = elapsed
            return nil
        }
        for (rank, now) in latest {
            guard elapsed - now.at <= silence else {
                rates[rank] = nil
                continue
            }
            let before = used[rank] ?? Sample(at: .zero, received: 0, archived: 0)
            guard now.at > before.at else { continue }
            let seconds = Self.seconds(now.at - before.at)
            rates[rank] = (Double(now.received &- min(now.received, before.received)) / seconds,
                           Double(now.archived &- min(now.archived, before.archived)) / seconds)
            used[rank] = now
        }
        func rate(_ part: KeyPath<(received: Double, archived: Double), Double>) -> String {
            String(UInt64(rates.values.reduce(0) { $0 + $1[keyPath: part] }.rounded()))
        }
        // Pages touched for the first time since the previous line, as a share of the record
        // bytes keepers received meanwhile ("-" when under a megabyte were): issue 17's target is ≤ 5 % once
        // a job's memory is warm.
        func freshShare(_ now: UInt64, _ before: UInt64) -> String {
            let bytes = totals.bytesReceived > lastTotals.bytesReceived ? totals.bytesReceived - lastTotals.bytesReceived : 0
            guard bytes >= Self.freshShareMinimumBytes else { return "-" }
            let pages = now > before ? now - before : 0
            return Self.fixed(Double(pages * ResidentMemory.pageBytes) * 100 / Double(bytes), 1) + "%"
        }
        let text = "chronolog-job: progress t=\(Self.fixed(Self.seconds(elapsed), 1))s"
            + " in=\(rate(\.received))/s archived=\(rate(\.archived))/s"
            + " lag=\(totals.lag) (\(Self.mebibytes(totals.lagBytes)) MiB) durable.p99=\(Self.fixed(Double(totals.durableP99Microseconds) / 1000, 1))ms"
            + " memory=\(Self.mebibytes(totals.residentBytes))MiB late=\(totals.late) rejected=\(totals.rejected)"
            + " fresh.keeper=\(freshShare(totals.keeperFaults, lastTotals.keeperFaults))"
            + " fresh.grapher=\(freshShare(totals.grapherFaults, lastTotals.grapherFaults))"
            + " held=\(totals.acksHeld > lastTotals.acksHeld ? totals.acksHeld - lastTotals.acksHeld : 0)"
        lastAt = elapsed
        lastTotals = totals
        return text
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private static func mebibytes(_ bytes: UInt64) -> String { fixed(Double(bytes) / 1_048_576, 1) }

    /// `value` with `digits` decimals (no Foundation formatting on the visor's loop).
    private static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = UInt64(max(0, value * scale).rounded())
        let whole = scaled / UInt64(scale), fraction = String(scaled % UInt64(scale))
        guard digits > 0 else { return String(whole) }
        return "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}

extension RecordingGroupRegistry {
    /// The progress totals of every registered process's latest heartbeat.
    public var progressTotals: JobProgress.Totals {
        var totals = JobProgress.Totals()
        for g in groups.values {
            for k in g.keepers { totals.add(g.counters[k] ?? [:], role: .keeper) }
            if let r = g.grapher { totals.add(g.counters[r] ?? [:], role: .grapher) }
            if let r = g.player { totals.add(g.counters[r] ?? [:], role: .player) }
        }
        return totals
    }
}
