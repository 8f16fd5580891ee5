import ChronoModel
import ChronoRoles
import ChronoSystem
import Foundation
import Testing
import TestSupport

/// The visor's progress lines and `chronolog-job --summary-json`.
@Suite("Job progress and summary JSON", .serialized)
struct JobProgressTests {
    let job = MPIJob.executable("chronolog-job")

    // MARK: - Without MPI

    /// A registry with one group: keeper 1, grapher 2, player 3, each with its latest heartbeat.
    static func registry(received: UInt64, archived: UInt64, late: UInt64 = 0, keeperFaults: UInt64 = 0,
                         grapherFaults: UInt64 = 0, acksHeld: UInt64 = 0) -> RecordingGroupRegistry {
        var g = RecordingGroupRegistry()
        for (role, rank) in [(Role.keeper, Int32(1)), (.grapher, 2), (.player, 3)] {
            g.register(Registration(role: role, groupId: 0, rank: rank, hostName: "h"), now: 0)
        }
        let mib: UInt64 = 1 << 20
        g.heartbeat(Heartbeat(role: .keeper, groupId: 0, rank: 1, sentAt: 0, counters: [
            .eventsReceived: received, .eventsRejected: 3, .bytesReceived: received * 100, .eventsLate: late,
            .memoryResidentBytes: 10 * mib, .faultsMinor: keeperFaults, .acksHeld: acksHeld]), now: 1)
        g.heartbeat(Heartbeat(role: .grapher, groupId: 0, rank: 2, sentAt: 0, counters: [
            .eventsArchived: archived, .bytesArchived: archived * 100, .durableLatencyP99Us: 12_345,
            .memoryResidentBytes: 20 * mib, .faultsMinor: grapherFaults]), now: 1)
        g.heartbeat(Heartbeat(role: .player, groupId: 0, rank: 3, sentAt: 0, counters: [.memoryResidentBytes: 2 * mib]), now: 1)
        return g
    }

    /// Hands `g`'s keeper's and grapher's heartbeats to `p`, arrived at the given times (nil: not sent).
    static func beat(_ p: inout JobProgress, _ g: RecordingGroupRegistry, keeperAt: Duration?, grapherAt: Duration?) {
        let counters = g.groups[0]?.counters ?? [:]
        if let keeperAt { p.heartbeat(rank: 1, role: .keeper, counters: counters[1] ?? [:], at: keeperAt) }
        if let grapherAt { p.heartbeat(rank: 2, role: .grapher, counters: counters[2] ?? [:], at: grapherAt) }
    }

    @Test("totals come from the latest heartbeats; rates are over the time since the previous line's (the start's for the first)")
    func linesFromHeartbeats() {
        var p = JobProgress(interval: .seconds(1))
        // Registered, no heartbeat yet: no line, and the next one is an interval later.
        var silent = RecordingGroupRegistry()
        silent.register(Registration(role: .keeper, groupId: 0, rank: 1, hostName: "h"), now: 0)
        #expect(!p.isDue(at: .milliseconds(999)) && p.isDue(at: .seconds(1)))
        #expect(p.line(at: .seconds(1), totals: silent.progressTotals) == nil)
        #expect(!p.isDue(at: .milliseconds(1999)) && p.isDue(at: .seconds(2)))
        // Fresh pages are shown as a share of the bytes keepers received since the line before:
        // 1,000,300 bytes, then 1,000,000, then none.
        let page = Double(ResidentMemory.pageBytes)
        func share(_ pages: Double, _ bytes: Double) -> String { String(format: "%.1f%%", pages * page * 100 / bytes) }
        let first = Self.registry(received: 10_003, archived: 8_000, keeperFaults: 50, acksHeld: 4)
        #expect(first.progressTotals.lag == 2_000 && first.progressTotals.residentBytes == 32 << 20)
        Self.beat(&p, first, keeperAt: .seconds(2), grapherAt: .seconds(2))
        let line1 = p.line(at: .seconds(2), totals: first.progressTotals) ?? ""
        // Counters count from the job's start: the first line's rates are over the 2 s since then.
        #expect(line1 == "chronolog-job: progress t=2.0s in=5002/s archived=4000/s lag=2000 (0.2 MiB) durable.p99=12.3ms "
            + "memory=32.0MiB late=0 rejected=3 fresh.keeper=\(share(50, 1_000_300)) fresh.grapher=0.0% held=4", "\(line1)")
        #expect(!p.isDue(at: .milliseconds(2999)) && p.isDue(at: .seconds(3)))
        let second = Self.registry(received: 20_003, archived: 20_000, late: 7, keeperFaults: 50, grapherFaults: 122, acksHeld: 10)
        Self.beat(&p, second, keeperAt: .seconds(4), grapherAt: .seconds(4))
        let line2 = p.line(at: .seconds(4), totals: second.progressTotals) ?? ""
        #expect(line2.contains(" t=4.0s in=5000/s archived=6000/s lag=0 (0.0 MiB)") && line2.contains(" late=7 rejected=3"), "\(line2)")
        // Acknowledgements held back since the line before: 10 - 4.
        #expect(line2.hasSuffix(" fresh.keeper=0.0% fresh.grapher=\(share(122, 1_000_000)) held=6"), "\(line2)")
        let line3 = p.line(at: .seconds(5), totals: second.progressTotals) ?? ""
        #expect(line3.hasSuffix(" fresh.keeper=- fresh.grapher=- held=0"), "nothing received, no share, none held: \(line3)")
    }

    @Test("lines more often than heartbeats, keepers and graphers beating at their own times: each rate over one process's two heartbeats (no burst, then 0/s); a silent process counts none")
    func linesFasterThanHeartbeats() {
        var p = JobProgress(interval: .milliseconds(500), heartbeatInterval: .seconds(1))
        let first = Self.registry(received: 10_003, archived: 8_000), second = Self.registry(received: 20_003, archived: 20_000)
        // The keeper beats at 1.0 and 2.0 s, the grapher at 1.5 and 2.5 s; a line every 0.5 s.
        Self.beat(&p, first, keeperAt: .milliseconds(1000), grapherAt: nil)
        Self.beat(&p, first, keeperAt: nil, grapherAt: .milliseconds(1500))
        let l1 = p.line(at: .milliseconds(1600), totals: first.progressTotals) ?? ""
        #expect(l1.contains(" t=1.6s in=10003/s archived=5333/s "), "\(l1)")
        Self.beat(&p, second, keeperAt: .milliseconds(2000), grapherAt: nil)
        let l2 = p.line(at: .milliseconds(2100), totals: second.progressTotals) ?? ""
        #expect(l2.contains(" in=10000/s archived=5333/s "), "\(l2)")
        Self.beat(&p, second, keeperAt: nil, grapherAt: .milliseconds(2500))
        let l3 = p.line(at: .milliseconds(2600), totals: second.progressTotals) ?? ""
        #expect(l3.contains(" in=10000/s archived=12000/s "), "\(l3)")
        // No heartbeat for more than three intervals: no rate.
        let l4 = p.line(at: .milliseconds(6000), totals: second.progressTotals) ?? ""
        #expect(l4.contains(" in=0/s archived=0/s "), "\(l4)")
        // A few kilobytes since the line before give no fresh-page share.
        let trickle = Self.registry(received: 20_013, archived: 20_010, keeperFaults: 90)
        Self.beat(&p, trickle, keeperAt: .milliseconds(6100), grapherAt: .milliseconds(6100))
        let l5 = p.line(at: .milliseconds(6200), totals: trickle.progressTotals) ?? ""
        #expect(l5.contains(" fresh.keeper=- "), "\(l5)")
    }

    // MARK: - Under mpirun

    /// One progress line's fields.
    struct ProgressLine {
        var t: Double, inRate: UInt64, archivedRate: UInt64, lag: UInt64, memoryMiB: Double, late: UInt64, rejected: UInt64
        /// Batch acknowledgements keepers held back since the line before.
        var held: UInt64
        /// Fresh pages as a share of the bytes received since the line before, in %; nil for "-".
        var freshKeeper: Double?, freshGrapher: Double?

        init?(_ line: String) {
            guard let m = line.firstMatch(of: /^chronolog-job: progress t=([\d.]+)s in=(\d+)\/s archived=(\d+)\/s lag=(\d+) \([\d.]+ MiB\) durable\.p99=[\d.]+ms memory=([\d.]+)MiB late=(\d+) rejected=(\d+) fresh\.keeper=(-|[\d.]+%) fresh\.grapher=(-|[\d.]+%) held=(\d+)$/),
                  let t = Double(m.1), let i = UInt64(m.2), let a = UInt64(m.3), let lag = UInt64(m.4), let mem = Double(m.5),
                  let late = UInt64(m.6), let rej = UInt64(m.7), let held = UInt64(m.10) else { return nil }
            (self.t, inRate, archivedRate, self.lag, memoryMiB, self.late, rejected, self.held) = (t, i, a, lag, mem, late, rej, held)
            freshKeeper = Double(m.8.dropLast())
            freshGrapher = Double(m.9.dropLast())
        }
    }

    static let longRun = ["--rounds", "3", "--events", "80000", "--set", "progress.intervalMs=200", "--set", "heartbeat.intervalMs=50"]

    @Test("a job with a short progress interval prints progress lines with sane values before its summary")
    func progressLines() throws {
        let r = try MPIJob.run(ranks: 6, [job] + Self.longRun, timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        let raw = r.lines(startingWith: "chronolog-job: progress")
        let lines = raw.compactMap(ProgressLine.init)
        #expect(lines.count == raw.count, "every progress line has the documented form: \(raw)")
        #expect(lines.count >= 2, "\(r)")
        let logged = r.stdout.firstMatch(of: /events: logged=(\d+)/).flatMap { UInt64($0.1) } ?? 0
        #expect(logged == 2 * 3 * 3 * 80_000, "\(r)")
        let late = r.stdout.firstMatch(of: /events: .* late=(\d+)/).flatMap { UInt64($0.1) } ?? 0
        // Times grow by the interval or more; the rates, over the time since the line before (the
        // first line's over one interval), integrate to about what keepers received: no more than
        // was logged, within the rounding of t to 0.1 s.
        var integratedIn = 0.0, previous = (lines.first?.t ?? 0) - 0.2
        for l in lines {
            #expect(l.t - previous >= 0.15, "\(raw)")
            integratedIn += Double(l.inRate) * (l.t - previous)
            previous = l.t
            // Late events happen (counted in the summary too); never more than the summary's, and nothing rejected here.
            #expect(l.lag <= logged && l.late <= late && l.rejected == 0, "\(raw)")
            #expect(l.memoryMiB > 1 && l.memoryMiB < Double(ChronoConfig.physicalMemoryBytes >> 20), "\(raw)")
        }
        #expect(integratedIn <= Double(logged) * 1.5, "\(raw)")
        // While events flow, keepers and graphers report the pages they touch for the first time.
        let flowing = lines.filter { $0.inRate > 0 }
        #expect(flowing.allSatisfy { $0.freshKeeper != nil && $0.freshGrapher != nil }, "\(raw)")
        #expect(flowing.contains { ($0.freshKeeper ?? 0) > 0 }, "a keeper's first range buffers are fresh pages: \(raw)")
        #expect(lines.contains { $0.inRate > 0 } && lines.contains { $0.archivedRate > 0 }, "events flowed while lines were printed: \(raw)")
        // Progress comes before the summary.
        let lastProgress = r.stdout.range(of: "chronolog-job: progress", options: .backwards)
        let summary = r.stdout.range(of: "chronolog-job summary:")
        #expect(lastProgress != nil && summary != nil && lastProgress!.lowerBound < summary!.lowerBound, "\(r)")
    }

    @Test("a keeper at its memory bound: the progress lines show the acknowledgements it held back, no more than its summary counts")
    func heldAtTheBound() throws {
        // 1 MiB (the least allowed) for 2 writers of 80,000 events a round: the keeper holds
        // acknowledgements back while what it buffers waits to be durable.
        let r = try MPIJob.run(ranks: 6, [job] + Self.longRun + ["--set", "keeper.memoryLimitBytes=1048576"], timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        let raw = r.lines(startingWith: "chronolog-job: progress")
        let lines = raw.compactMap(ProgressLine.init)
        #expect(lines.count == raw.count && lines.count >= 2, "\(raw)")
        let summaryHeld = r.counters(role: "keeper")["acks.held"] ?? 0
        let shown = lines.reduce(0) { $0 + $1.held }
        #expect(shown > 0 && shown <= summaryHeld, "held \(shown) in the lines, \(summaryHeld) in the summary: \(raw)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
    }

    @Test("--quiet prints no progress line; the map and the summary stay")
    func quiet() throws {
        let r = try MPIJob.run(ranks: 6, [job, "--quiet"] + Self.longRun, timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "chronolog-job: progress").isEmpty, "\(r)")
        #expect(r.stdout.contains("chronolog-job summary:") && r.stdout.contains("rank  role"), "\(r)")
    }

    @Test("--summary-json writes every counter of the text summary, equal to it")
    func summaryJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-summary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("summary.json").path
        let r = try MPIJob.run(ranks: 6, [job, "--summary-json", file], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
        // The events line, figure by figure.
        let eventsLine = try #require(r.lines(startingWith: "  events: ").first)
        let events = try #require(doc["events"] as? [String: Any])
        var textEvents: [String: UInt64] = [:]
        for field in eventsLine.dropFirst("  events: ".count).split(separator: " ") {
            let kv = field.split(separator: "=")
            textEvents[String(kv[0])] = UInt64(kv[1])
        }
        #expect(textEvents.count == 7 && Set(events.keys) == Set(textEvents.keys), "\(eventsLine) vs \(events)")
        for (k, v) in textEvents { #expect((events[k] as? NSNumber)?.uint64Value == v, "events.\(k)") }
        // Every role line, counter by counter, and its rank count.
        let roles = try #require(doc["roles"] as? [String: [String: Any]])
        #expect(Set(roles.keys) == ["visor", "keeper", "grapher", "player", "client"], "\(roles.keys)")
        for (role, entry) in roles {
            let text = r.counters(role: role)
            let counters = try #require(entry["counters"] as? [String: NSNumber])
            #expect(!text.isEmpty && counters.mapValues(\.uint64Value) == text, "\(role): \(counters) vs \(text)")
            let ranks = (entry["ranks"] as? NSNumber)?.intValue ?? 0
            #expect(r.stdout.contains("  \(role) (\(ranks) rank\(ranks == 1 ? "" : "s")):"), "\(role): \(ranks)")
        }
        #expect((doc["exitStatus"] as? NSNumber)?.intValue == 0 && r.stdout.contains("exit status: 0"))
    }

    @Test("a --summary-json file that cannot be created fails at start-up with status 2, naming it")
    func summaryJSONBadPath() throws {
        // /proc exists and root may write its directory's mode bits, but no file can be created there.
        for (path, needle) in [("/nonexistent-dir/s.json", "does not exist"), ("/tmp", "is a directory"), ("", "needs a file name"),
                               ("/proc/chronolog-summary.json", "cannot be created")] {
            let r = try MPIJob.run(ranks: 6, [job, "--summary-json", path], timeout: 60)
            #expect(r.exitCode == 2 && r.stderr.contains(needle), "\(path): \(r)")
        }
    }
}
