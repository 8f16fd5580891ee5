import ArgumentParser
@_spi(IngestTesting) import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation
import MPI
import Synchronization

/// Client-side event ingest: `unit` checks the batching, linger, watermarks, window and ack
/// routing against an in-process keeper (no MPI); `bench` measures `logEvent`'s cost; `flow` and
/// `back-pressure` run whole jobs and compare what the clients logged with what the keepers received.
struct IngestChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Client event ingest: unit scenarios, micro-benchmark, whole-job scenarios.",
        subcommands: [Unit.self, Bench.self, Flow.self, BackPressure.self, Restart.self])

    // MARK: - unit

    /// Scenarios on `StoryIngest` with an in-process keeper and a manual clock. No MPI.
    struct Unit: ParsableCommand {
        func run() throws {
            var c = Checker()
            countBatching(&c)
            byteBatching(&c)
            linger(&c)
            idleWatermarks(&c)
            rejection(&c)
            window(&c)
            threads(&c)
            closing(&c)
            stall(&c)
            routing(&c)
            flusherThread(&c)
            let counters = try c.finish()
            _ = counters
        }
    }

    // MARK: - bench

    /// Single-thread `logEvent` cost into an in-process keeper that acknowledges at once.
    struct Bench: ParsableCommand {
        @Option(help: "Events to log.") var events = 5_000_000
        @Option(help: "Record size in bytes.") var size = 256
        @Option(help: "Calls timed one by one for the latency percentiles.") var samples = 1_000_000

        func run() throws {
            let keeper = FakeKeeper(checking: false)
            let router = AckRouter()
            let settings = IngestSettings(config: ChronoConfig())
            let ingest = StoryIngest(chronicle: "bench", story: "s", storyId: StoryID(rawValue: 1), clientId: ClientID(1),
                                     keeperRank: 1, firstIndex: 0, settings: settings, clock: SystemClock(),
                                     transport: keeper, router: router)
            router.add(ingest)
            let record = [UInt8](repeating: 0xAB, count: size)
            let clock = ContinuousClock()
            var failures = 0
            let elapsed = record.withUnsafeBytes { raw in
                clock.measure {
                    for _ in 0..<events where (try? ingest.log(raw)) == nil { failures += 1 }
                }
            }
            var latencies = [UInt64](repeating: 0, count: samples)
            let wall = SystemClock()
            record.withUnsafeBytes { raw in
                for i in 0..<samples {
                    let t0 = wall.now()
                    if (try? ingest.log(raw)) == nil { failures += 1 }
                    latencies[i] = wall.now() &- t0
                }
            }
            try ingest.close()
            latencies.sort()
            let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            let perEvent = ns / Double(events)
            func pct(_ p: Double) -> UInt64 { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
            print(String(format: "BENCH logEvent size=%d events=%d ns/event=%.1f events/s=%.0f MB/s=%.0f", size, events,
                         perEvent, 1e9 / perEvent, Double(size) * 1e3 / perEvent))
            print("BENCH latency(ns, incl. ~2 clock reads) p50=\(pct(0.5)) p99=\(pct(0.99)) p99.9=\(pct(0.999)) max=\(latencies.last ?? 0)")
            print("BENCH batches=\(ingest.stats.batchesSent) failures=\(failures)")
            if failures > 0 { throw ExitCode(1) }
        }
    }

    // MARK: - flow (whole job)

    /// Every client rank logs events of various sizes to several stories from several threads,
    /// flushes, releases and disconnects; returns its ingest counters for the summary, where the
    /// keepers' `events.received` must equal the clients' `events.logged`.
    struct Flow: ParsableCommand {
        @OptionGroup var options: JobChecks.Options
        @Option(help: "Events each thread logs to each story.") var events = 2000
        @Option(help: "Stories each client acquires.") var stories = 3
        @Option(help: "Logging threads per client.") var threads = 2
        @Option(help: "Log every event with this record size instead of cycling through sizes up to the maximum.")
        var size: Int?

        func run() throws {
            let events = self.events, stories = self.stories, threads = self.threads, fixedSize = self.size
            let code = try options.job(minimumClients: 1).run { session, _ in
                guard let peers = session.peers else { throw CheckFailure("no client communicator") }
                var c = Checker()
                let maxEvent = session.config.story.maxEventBytes
                let client = ChronoLogClient(session: session)
                try client.connect()
                if peers.rank == 0 { try client.createChronicle("Ingest") }
                try peers.barrier()
                let handles = try (0..<stories).map { s in try client.acquireStory("Ingest", "story-\(s)") }
                let keeperOK = handles.allSatisfy { $0.keeperRanks.contains($0.keeperRank) }
                c.expect("rank \(peers.rank): each handle's keeper is one of its group's", keeperOK)
                // Sizes cycle through 0, small, medium and the exact maximum.
                let sizes = fixedSize.map { [min($0, maxEvent)] } ?? [0, 1, 17, 256, 1000, 4096, maxEvent]
                let zeros = Atomic<Int>(0), decreasing = Atomic<Int>(0)
                try peers.barrier()
                let start = ContinuousClock.now
                let cpuStart = processCPUSeconds()
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    var record = [UInt8](repeating: UInt8(truncatingIfNeeded: t), count: maxEvent)
                    var last = [UInt64](repeating: 0, count: handles.count)
                    for i in 0..<events {
                        for (h, handle) in handles.enumerated() {
                            let n = sizes[(i + h + t) % sizes.count]
                            let ts = record.withUnsafeMutableBytes { raw in
                                raw.storeBytes(of: UInt32(i).littleEndian, toByteOffset: 0, as: UInt32.self)
                                return handle.logEvent(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                            }
                            if ts == 0 { zeros.add(1, ordering: .relaxed) }
                            if ts < last[h] { decreasing.add(1, ordering: .relaxed) }
                            last[h] = ts
                        }
                    }
                    record.removeAll()
                }
                let logging = ContinuousClock.now - start
                let seconds = Double(logging.components.seconds) + Double(logging.components.attoseconds) / 1e18
                let cpuEnd = processCPUSeconds()
                let user = cpuEnd.user - cpuStart.user, system = cpuEnd.system - cpuStart.system
                let n = Double(threads * events * stories)
                print(String(format: "RATE rank %d: %.0f events in %.3f s = %.0f events/s; process CPU user %.3f s + sys %.3f s = %.0f ns/event; %d page faults",
                             peers.rank, n, seconds, n / seconds, user, system, (user + system) * 1e9 / n, cpuEnd.faults - cpuStart.faults))
                c.expect("rank \(peers.rank): no logEvent failed", zeros.load(ordering: .relaxed) == 0)
                c.expect("rank \(peers.rank): a thread's timestamps never decrease", decreasing.load(ordering: .relaxed) == 0)
                // Over-size events are refused with 0 / eventRejected, counted, never shipped.
                let big = [UInt8](repeating: 1, count: maxEvent + 1)
                c.expect("rank \(peers.rank): over-size logEvent → 0", handles[0].logEvent(big) == 0)
                c.expect("rank \(peers.rank): over-size log → -2 eventRejected", rc { _ = try handles[0].log(big) } == -2)
                c.expect("rank \(peers.rank): text event", handles[0].logEvent("hello ingest") > 0)
                c.expect("rank \(peers.rank): throwing variant", rc { _ = try handles[0].log("hello again") } == 0)
                for h in handles { c.expect("rank \(peers.rank): flush \(h.story) → 0", rc { try h.flush() } == 0) }
                let perStory = UInt64(threads * events)
                c.expect("rank \(peers.rank): eventsLogged per handle",
                         handles[0].eventsLogged == perStory + 2 && handles.dropFirst().allSatisfy { $0.eventsLogged == perStory })
                let stats = session.ingestStats
                c.expect("rank \(peers.rank): after flush every event is acknowledged", stats.eventsAcked == stats.eventsLogged)
                // Release half, keep the rest for disconnect to flush; log after release → 0.
                for h in handles.prefix(stories / 2 + 1) {
                    _ = h.logEvent("last words")
                    c.expect("rank \(peers.rank): release \(h.story) → 0", rc { try client.releaseStory("Ingest", h.story) } == 0)
                    c.expect("rank \(peers.rank): logEvent after release → 0", h.logEvent("too late") == 0)
                    c.expect("rank \(peers.rank): log after release → -5", rc { _ = try h.log("too late") } == -5)
                }
                // Re-acquire one story: indexes continue (the keeper would report a gap otherwise).
                let again = try client.acquireStory("Ingest", "story-0")
                c.expect("rank \(peers.rank): re-acquire gives a fresh valid handle", again.isValid && again !== handles[0])
                c.expect("rank \(peers.rank): logging after re-acquire", again.logEvent("back again") > 0)
                for h in handles.dropFirst(stories / 2 + 1) { _ = h.logEvent("flushed by disconnect") }
                c.expect("rank \(peers.rank): disconnect flushes and releases → 0", rc { try client.disconnect() } == 0)
                let final = session.ingestStats
                c.expect("rank \(peers.rank): every logged event acknowledged (\(final.eventsAcked)/\(final.eventsLogged))",
                         final.eventsAcked == final.eventsLogged && final.batchesAcked == final.batchesSent
                             && final.eventsRefused == 0 && final.acksOutOfOrder == 0)
                c.expect("rank \(peers.rank): rejections counted", final.eventsRejected == 2)
                try peers.barrier()
                var counters = try c.finish()
                counters.merge(session.ingestCounters) { $1 }
                return counters
            }
            throw ExitCode(code)
        }
    }

    // MARK: - restart (whole job)

    /// Each client acquires a story, releases it at once (its keeper finishes that empty recording
    /// and says so to the grapher), acquires it again, logs and releases. Run with a grapher asleep
    /// in its rounds (`--archive-delay-ms`), the keeper's reports and the visor's notices reach
    /// the grapher in either order (RecordingEpochs); every event must still be archived once.
    struct Restart: ParsableCommand {
        @OptionGroup var options: JobChecks.Options
        @Option(help: "Stories each client cycles through.") var stories = 4
        @Option(help: "Events logged in each second recording.") var events = 50

        func run() throws {
            let stories = self.stories, events = self.events
            let code = try options.job(minimumClients: 1).run { session, _ in
                guard let peers = session.peers else { throw CheckFailure("no client communicator") }
                var c = Checker()
                let client = ChronoLogClient(session: session)
                try client.connect()
                if peers.rank == 0 { try client.createChronicle("Restart") }
                try peers.barrier()
                for s in 0..<stories {
                    let name = "story-\(peers.rank)-\(s)"
                    _ = try client.acquireStory("Restart", name)
                    try client.releaseStory("Restart", name)
                    let h = try client.acquireStory("Restart", name)
                    var zeros = 0
                    for i in 0..<events where h.logEvent("event \(i) of \(name)") == 0 { zeros += 1 }
                    c.expect("rank \(peers.rank): \(name): every logEvent succeeded", zeros == 0)
                    try client.releaseStory("Restart", name)
                }
                try client.disconnect()
                try peers.barrier()
                var counters = try c.finish()
                counters.merge(session.ingestCounters) { $1 }
                return counters
            }
            throw ExitCode(code)
        }
    }

    // MARK: - back-pressure (whole job)

    /// With a slow keeper (`--ack-delay-microseconds`) and a small window, a writer is slowed to
    /// the keeper's pace and nothing is lost. Prints `PACE <rank> <seconds> <minimum seconds>`.
    struct BackPressure: ParsableCommand {
        @OptionGroup var options: JobChecks.Options
        @Option(help: "Batches each client logs.") var batches = 40

        func run() throws {
            let batches = self.batches, delay = options.ackDelayMicroseconds
            let code = try options.job(minimumClients: 1).run { session, _ in
                guard let peers = session.peers else { throw CheckFailure("no client communicator") }
                var c = Checker()
                let perBatch = session.config.client.batchEvents
                let window = session.config.client.maxPendingBatches
                c.expect("the keeper's ack delay is configured", delay > 0)
                let client = ChronoLogClient(session: session)
                try client.connect()
                if peers.rank == 0 { try client.createChronicle("Slow") }
                try peers.barrier()
                let h = try client.acquireStory("Slow", "story-\(peers.rank)")
                let start = ContinuousClock.now
                var zeros = 0
                for i in 0..<(batches * perBatch) where h.logEvent("event \(i)") == 0 { zeros += 1 }
                let logging = ContinuousClock.now - start
                try h.flush()
                let stats = h.ingestStats
                // Each ack comes one delay after its batch, so at most `window` batches go out per
                // delay: the batches beyond the first window take at least this long.
                let minimum = Duration.microseconds(delay * max(0, batches - window) / window)
                print("PACE \(peers.rank) \(logging) \(minimum) waits=\(stats.windowWaits)")
                c.expect("rank \(peers.rank): no event failed", zeros == 0)
                c.expect("rank \(peers.rank): the writer waited for its window", stats.windowWaits > 0)
                c.expect("rank \(peers.rank): logging was slowed to the keeper's pace (\(logging) ≥ \(minimum))", logging >= minimum)
                c.expect("rank \(peers.rank): every event acknowledged", stats.eventsAcked == UInt64(batches * perBatch))
                try client.releaseStory("Slow", "story-\(peers.rank)")
                try client.disconnect()
                try peers.barrier()
                var counters = try c.finish()
                counters.merge(session.ingestCounters) { $1 }
                return counters
            }
            throw ExitCode(code)
        }
    }
}

// MARK: - In-process keeper

/// A keeper inside the test process: decodes every batch, checks the protocol (dense indexes from
/// the first, the watermark promise, times never decreasing within a batch) and acknowledges each
/// batch, at once or when released.
final class FakeKeeper: IngestTransport, @unchecked Sendable {
    struct Key: Hashable {
        let story: UInt64
        let client: UInt64
    }

    struct State {
        var batches: [EventBatch] = []
        var ranks: [Int] = []
        var pendingAcks: [BatchAck] = []
        var holdAcks = false
        var pollsWhileHeld = 0
        var nextIndex: [Key: UInt64] = [:]
        var watermark: [Key: UInt64] = [:]
        var violations: [String] = []
        var finals: [Key: Int] = [:]
        /// Watermark sets received, and the keeper rank each went to.
        var sets: [(rank: Int, set: WatermarkSet)] = []
    }

    let state = Mutex(State())
    private let checking: Bool

    init(checking: Bool = true, holdAcks: Bool = false) {
        self.checking = checking
        state.withLock { $0.holdAcks = holdAcks }
    }

    func send(_ message: [UInt8], to keeperRank: Int) throws(ChronoLogError) {
        guard checking else {
            // Bench: read the fixed fields only (header 16 B; story, client, watermark, first, count);
            // idle watermark sets (type at byte 6) need no acknowledgement.
            if message.count > 7 && UInt16(message[6]) | UInt16(message[7]) << 8 == MessageType.watermarks.rawValue { return }
            let ack = message.withUnsafeBytes { raw in
                BatchAck(storyId: StoryID(rawValue: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                         clientId: ClientID(raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
                         firstIndex: raw.loadUnaligned(fromByteOffset: 40, as: UInt32.self),
                         count: raw.loadUnaligned(fromByteOffset: 44, as: UInt32.self))
            }
            state.withLock { $0.pendingAcks.append(ack) }
            return
        }
        let decoded = try ControlMessage.decode(message)
        if case .watermarks(let set) = decoded {
            // Like the keeper: raises registered clients' watermarks only; one must never go back.
            state.withLock { s in
                s.sets.append((keeperRank, set))
                for e in set.entries {
                    let key = Key(story: e.storyId.rawValue, client: set.contributor)
                    guard let promised = s.watermark[key], promised != .max else {
                        s.violations.append("watermark set for unregistered story \(e.storyId) of client \(set.contributor)")
                        continue
                    }
                    if e.watermark < promised { s.violations.append("set watermark \(e.watermark) went back from \(promised)") }
                    s.watermark[key] = max(promised, e.watermark)
                }
            }
            return
        }
        guard case .eventBatch(let batch) = decoded else {
            throw .invalidArgument("not an event batch")
        }
        state.withLock { s in
            let key = Key(story: batch.storyId.rawValue, client: batch.clientId.rawValue)
            let expected = s.nextIndex[key] ?? UInt64(batch.firstIndex)
            if s.finals[key, default: 0] > 0 && s.nextIndex[key] != nil && !batch.isEmpty && s.watermark[key] == .max {
                // A batch after a final watermark belongs to a re-acquire: the promise restarts.
                s.watermark[key] = 0
            }
            if UInt64(batch.firstIndex) != expected { s.violations.append("batch first index \(batch.firstIndex), expected \(expected)") }
            let promised = s.watermark[key] ?? 0
            var previous: UInt64 = 0
            for r in batch.records {
                if r.time < promised && promised != .max { s.violations.append("event \(r.index) at \(r.time) < watermark \(promised)") }
                if r.time < previous { s.violations.append("event \(r.index) time decreases") }
                previous = r.time
            }
            if let m = batch.maxTime, batch.watermark < m { s.violations.append("watermark \(batch.watermark) below its own events") }
            if batch.watermark < promised && promised != .max { s.violations.append("watermark went back") }
            s.watermark[key] = max(promised == .max ? 0 : promised, batch.watermark)
            if batch.watermark == .max { s.finals[key, default: 0] += 1 }
            s.nextIndex[key] = UInt64(batch.firstIndex) + UInt64(batch.count)
            s.batches.append(batch)
            s.ranks.append(keeperRank)
            s.pendingAcks.append(BatchAck(storyId: batch.storyId, clientId: batch.clientId, firstIndex: batch.firstIndex,
                                          count: UInt32(batch.count)))
        }
    }

    func pollAcks(into router: AckRouter) throws(ChronoLogError) -> Bool {
        let acks: [BatchAck] = state.withLock { s in
            if s.holdAcks {
                s.pollsWhileHeld += 1
                return []
            }
            defer { s.pendingAcks.removeAll(keepingCapacity: true) }
            return s.pendingAcks
        }
        for a in acks { router.deliver(a) }
        return !acks.isEmpty
    }

    func setHoldAcks(_ hold: Bool) { state.withLock { $0.holdAcks = hold } }

    var batches: [EventBatch] { state.withLock { $0.batches } }
    var sets: [(rank: Int, set: WatermarkSet)] { state.withLock { $0.sets } }
    var violations: [String] { state.withLock { $0.violations } }
    var events: [Event] { batches.flatMap(\.events) }
}

/// User and system CPU time of this process so far, in seconds.
private func processCPUSeconds() -> (user: Double, system: Double, faults: Int) {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6, usage.ru_minflt)
}

/// Waits (polling, 1 ms apart) until `condition` holds or `seconds` pass. - Returns: whether it held.
private func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while !condition() {
        if Date() > deadline { return false }
        usleep(1000)
    }
    return true
}

private func settings(batchEvents: Int = 1024, batchBytes: Int = 1 << 20, maxEventBytes: Int = 4096,
                      lingerMicroseconds: Int = 1000, maxPending: Int = 8, chunkMs: Int = 100,
                      stallMs: Int = 10_000) -> IngestSettings {
    var config = ChronoConfig()
    config.client.batchEvents = batchEvents
    config.client.batchBytes = batchBytes
    config.client.lingerMicroseconds = lingerMicroseconds
    config.client.maxPendingBatches = maxPending
    config.story.maxEventBytes = maxEventBytes
    config.story.chunkDurationMs = chunkMs
    var s = IngestSettings(config: config)
    s.stallLimit = .milliseconds(stallMs)
    return s
}

private func makeIngest(_ settings: IngestSettings, keeper: FakeKeeper, router: AckRouter = AckRouter(),
                        clock: any ChronoClock, story: UInt64 = 7, client: UInt64 = 3, firstIndex: UInt32 = 0) -> StoryIngest {
    let ingest = StoryIngest(chronicle: "C", story: "s\(story)", storyId: StoryID(rawValue: story), clientId: ClientID(client),
                             keeperRank: 1, firstIndex: firstIndex, settings: settings, clock: clock, transport: keeper,
                             router: router)
    router.add(ingest)
    return ingest
}

private func log(_ ingest: StoryIngest, _ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { (try? ingest.log($0)) ?? 0 }
}

private func countBatching(_ c: inout Checker) {
    let keeper = FakeKeeper(), clock = ManualClock(start: 1_000_000)
    let ingest = makeIngest(settings(batchEvents: 4), keeper: keeper, clock: clock)
    var times: [UInt64] = []
    for i in 0..<10 {
        times.append(log(ingest, [UInt8(i)]))
        clock.advance(by: 10)
    }
    c.expect("count: 10 events at 4 per batch → 2 batches before flush", keeper.batches.map(\.count) == [4, 4])
    c.expect("count: flush → 0", rc { try ingest.flush() } == 0)
    let events = keeper.events
    c.expect("count: flush ships the partial batch", keeper.batches.map(\.count) == [4, 4, 2])
    c.expect("count: indexes dense from 0", events.map(\.index) == (0..<10).map { UInt32($0) })
    c.expect("count: records in order", events.map { $0.record.first ?? 255 } == (0..<10).map { UInt8($0) })
    c.expect("count: logEvent returned each event's time", events.map(\.time) == times && !times.contains(0))
    c.expect("count: all acknowledged", ingest.inFlight == 0 && ingest.stats.eventsAcked == 10 && ingest.stats.batchesAcked == 3)
    c.expect("count: protocol kept", keeper.violations.isEmpty)
}

private func byteBatching(_ c: inout Checker) {
    let keeper = FakeKeeper(), clock = ManualClock(start: 5)
    let ingest = makeIngest(settings(batchBytes: 100), keeper: keeper, clock: clock)
    for _ in 0..<9 { _ = log(ingest, [UInt8](repeating: 9, count: 30)) }
    c.expect("bytes: a batch ships once it holds ≥ 100 payload bytes", keeper.batches.map(\.count) == [4, 4])
    c.expect("bytes: stats count bytes", ingest.stats.bytesLogged == 270 && ingest.stats.eventsLogged == 9)
}

private func linger(_ c: inout Checker) {
    let keeper = FakeKeeper(), clock = ManualClock(start: 1_000_000_000)
    let ingest = makeIngest(settings(lingerMicroseconds: 1000), keeper: keeper, clock: clock)
    _ = ingest.tick()  // registers with the keeper: watermark-only batch
    c.expect("linger: the first round sends a watermark-only batch", keeper.batches.map(\.count) == [0])
    _ = log(ingest, [1])
    clock.advance(by: 999_000)
    c.expect("linger: not due before the linger time", ingest.tick() == .nothing && keeper.batches.count == 1)
    clock.advance(by: 1_000)
    c.expect("linger: the flusher round ships it at the linger time", ingest.tick() == .shipped && keeper.batches.map(\.count) == [0, 1])
    _ = log(ingest, [2])
    clock.advance(by: 2_000_000)
    _ = log(ingest, [3])
    c.expect("linger: a writer ships a batch that lingered too long itself", keeper.batches.map(\.count) == [0, 1, 2])
    c.expect("linger: protocol kept", keeper.violations.isEmpty)
}

private func idleWatermarks(_ c: inout Checker) {
    let keeper = FakeKeeper(), clock = ManualClock(start: 1_000_000_000)
    let s = settings(lingerMicroseconds: 1000, chunkMs: 100)  // interval max(1 ms, 25 ms) = 25 ms
    let ingest = makeIngest(s, keeper: keeper, clock: clock)
    var scratch: [IngestFlusher.WatermarkDestination: [WatermarkSet.Entry]] = [:]
    c.expect("idle: watermark interval is max(linger, chunk/4)", s.watermarkIntervalNanoseconds == 25_000_000)
    c.expect("idle: chunk/4 is capped at 100 ms (a durable flush waits for the other writers' watermarks)",
             settings(lingerMicroseconds: 1000, chunkMs: 86_400_000).watermarkIntervalNanoseconds == 100_000_000)
    c.expect("idle: the first round registers the client by a watermark-only batch",
             ingest.tick() == .shipped && keeper.batches.map(\.count) == [0])
    clock.advance(by: 24_000_000)
    c.expect("idle: nothing inside the interval", ingest.tick() == .nothing)
    clock.advance(by: 1_000_000)
    c.expect("idle: after the interval the story's watermark is due, watermark = now",
             ingest.tick() == .idle(watermark: 1_025_000_000) && keeper.batches.count == 1)
    // The clock steps back: the promise still holds (the event gets the watermark's time).
    clock.set(to: 1_000_000_000)
    let t = log(ingest, [1])
    c.expect("idle: an event never precedes a watermark already promised", t == 1_025_000_000)
    _ = try? ingest.flush()

    // A round over many idle stories sends one watermark set per keeper, not a batch per story.
    let stories = (0..<50).map { i in
        StoryIngest(chronicle: "C", story: "m\(i)", storyId: StoryID(rawValue: 100 + UInt64(i)), clientId: ClientID(3),
                    keeperRank: 1 + i % 2, firstIndex: 0, settings: s, clock: clock, transport: keeper, router: AckRouter())
    }
    let first = IngestFlusher.round(stories, transport: keeper, sets: &scratch)
    c.expect("idle: the first round registers each story by a batch (50), no set", first.batches == 50 && first.sets == 0)
    let batchesBefore = keeper.batches.count, setsBefore = keeper.sets.count
    clock.advance(by: 30_000_000)
    let idle = IngestFlusher.round(stories, transport: keeper, sets: &scratch)
    let sets = keeper.sets.dropFirst(setsBefore)
    c.expect("idle: 50 idle stories on 2 keepers → 2 watermark sets of 25 entries, no batch",
             idle.batches == 0 && idle.sets == 2 && keeper.batches.count == batchesBefore
                && Set(sets.map(\.rank)) == [1, 2] && sets.allSatisfy { $0.set.entries.count == 25 && $0.set.contributor == 3 })
    c.expect("idle: each set goes to the keeper of its stories",
             sets.allSatisfy { r in r.set.entries.allSatisfy { Int($0.storyId.rawValue - 100) % 2 + 1 == r.rank } })
    c.expect("idle: scratch storage left empty", scratch.isEmpty)
    // Between full rounds only stories holding events are visited: idle ones send nothing then.
    clock.advance(by: 30_000_000)
    _ = log(stories[0], [7])
    c.expect("idle: a story holding events reports so", stories[0].holdsPendingEvents && !stories[1].holdsPendingEvents)
    clock.advance(by: 2_000_000)  // past the linger time
    let partial = IngestFlusher.round(stories, everyStory: false, transport: keeper, sets: &scratch)
    c.expect("idle: a partial round ships the lingering batch and sends no watermark set",
             partial.batches == 1 && partial.sets == 0 && !stories[0].holdsPendingEvents)
    let full = IngestFlusher.round(stories, everyStory: true, transport: keeper, sets: &scratch)
    c.expect("idle: the next full round sends the other 49 stories' watermarks in 2 sets",
             full.batches == 0 && full.sets == 2 && keeper.sets.suffix(2).map(\.set.entries.count).reduce(0, +) == 49)
    c.expect("idle: protocol kept", keeper.violations.isEmpty)

    // The flusher's snapshot of held stories is refreshed only when one was added or removed.
    let router = AckRouter()
    var list: [StoryIngest] = []
    let g1 = router.snapshot(into: &list, unlessAt: 0)
    router.add(stories[0])
    list = [stories[1], stories[2]]  // stale contents: kept while the generation is unchanged
    let g2 = router.snapshot(into: &list, unlessAt: g1)
    c.expect("snapshot: an add refreshes the list", g2 != g1 && list.count == 1 && list[0] === stories[0])
    list.append(stories[3])
    let g3 = router.snapshot(into: &list, unlessAt: g2)
    c.expect("snapshot: unchanged generation leaves the list as it is", g3 == g2 && list.count == 2)
    router.remove(stories[0])
    let g4 = router.snapshot(into: &list, unlessAt: g3)
    c.expect("snapshot: a remove refreshes the list", g4 != g3 && list.isEmpty)

    // A session holding 10 000 stories sends at most 50 000 idle watermarks a second: each
    // story's interval becomes 200 ms.
    c.expect("idle: 10 000 stories space each story's watermarks to 200 ms",
             ingest.idleWatermarkInterval(storiesHeld: 10_000) == 200_000_000
                && ingest.idleWatermarkInterval(storiesHeld: 1000) == 25_000_000)
    let spaced = makeIngest(s, keeper: keeper, clock: clock, story: 8)
    _ = spaced.tick(storiesHeld: 10_000)
    clock.advance(by: 150_000_000)
    c.expect("idle: no watermark after 150 ms with 10 000 stories held", spaced.tick(storiesHeld: 10_000) == .nothing)
    clock.advance(by: 50_000_000)
    if case .idle = spaced.tick(storiesHeld: 10_000) {
        c.expect("idle: a watermark after 200 ms with 10 000 stories held", true)
    } else {
        c.expect("idle: a watermark after 200 ms with 10 000 stories held", false)
    }
}

private func rejection(_ c: inout Checker) {
    let keeper = FakeKeeper(), clock = ManualClock(start: 1)
    let ingest = makeIngest(settings(maxEventBytes: 64), keeper: keeper, clock: clock)
    let tooBig = [UInt8](repeating: 0, count: 65)
    var rejected = false
    do { _ = try tooBig.withUnsafeBytes { (raw) throws(ChronoLogError) -> UInt64 in try ingest.log(raw) } } catch {
        if case ChronoLogError.eventRejected = error { rejected = true }
    }
    c.expect("reject: over-size → eventRejected (-2)", rejected)
    c.expect("reject: the exact maximum is accepted", log(ingest, [UInt8](repeating: 1, count: 64)) > 0)
    c.expect("reject: the empty record is accepted", log(ingest, []) > 0)
    _ = try? ingest.flush()
    c.expect("reject: counted, index not consumed",
             ingest.stats.eventsRejected == 1 && keeper.events.map(\.index) == [0, 1] && keeper.events.map(\.record.count) == [64, 0])
}

private func window(_ c: inout Checker) {
    let keeper = FakeKeeper(holdAcks: true), clock = ManualClock(start: 1)
    let ingest = makeIngest(settings(batchEvents: 1, maxPending: 2), keeper: keeper, clock: clock)
    let done = Atomic<Bool>(false)
    let writer = Thread {
        for i in 0..<3 { _ = log(ingest, [UInt8(i)]) }
        done.store(true, ordering: .releasing)
    }
    writer.start()
    // The writer fills the window (2 batches) then waits, polling for acks.
    let waiting = eventually { keeper.batches.count == 2 && keeper.state.withLock { $0.pollsWhileHeld } >= 3 }
    c.expect("window: 2 batches in flight, the writer waits for acks", waiting && !done.load(ordering: .acquiring))
    c.expect("window: nothing beyond the window was sent", keeper.batches.count == 2 && ingest.inFlight == 2)
    keeper.setHoldAcks(false)
    c.expect("window: acks open the window; the writer finishes", eventually { done.load(ordering: .acquiring) })
    _ = try? ingest.flush()
    c.expect("window: all 3 shipped, waits counted", keeper.batches.count == 3 && ingest.stats.windowWaits >= 1)
}

private func threads(_ c: inout Checker) {
    let keeper = FakeKeeper()
    let ingest = makeIngest(settings(batchEvents: 64, maxPending: 2), keeper: keeper, clock: SystemClock())
    let threads = 4, perThread = 5000
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        var record = [UInt8](repeating: 0, count: 5 + t * 40)
        for i in 0..<perThread {
            record[0] = UInt8(t)
            withUnsafeBytes(of: UInt32(i).littleEndian) { for k in 0..<4 { record[1 + k] = $0[k] } }
            _ = log(ingest, record)
        }
    }
    c.expect("threads: flush → 0", rc { try ingest.flush() } == 0)
    let events = keeper.events
    c.expect("threads: every event once, indexes dense", events.count == threads * perThread
             && events.enumerated().allSatisfy { UInt32($0.offset) == $0.element.index })
    var nextSeq = [UInt32](repeating: 0, count: threads)
    var ordered = true
    for e in events {
        let t = Int(e.record[0])
        let seq = e.record[1...4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        if seq != nextSeq[t] || e.record.count != 5 + t * 40 { ordered = false }
        nextSeq[t] = seq + 1
    }
    c.expect("threads: each thread's events intact and in its order", ordered && nextSeq.allSatisfy { $0 == UInt32(perThread) })
    c.expect("threads: times never decrease with the index", zip(events, events.dropFirst()).allSatisfy { $0.time <= $1.time })
    c.expect("threads: protocol kept", keeper.violations.isEmpty)
}

private func closing(_ c: inout Checker) {
    let keeper = FakeKeeper(), clock = ManualClock(start: 100)
    let router = AckRouter()
    let ingest = makeIngest(settings(batchEvents: 10), keeper: keeper, router: router, clock: clock)
    for i in 0..<3 { _ = log(ingest, [UInt8(i)]) }
    var next: UInt32 = 0
    c.expect("close → 0", rc { next = try ingest.close() } == 0)
    let b = keeper.batches
    c.expect("close: pending events shipped, then a final watermark-only batch (UInt64.max)",
             b.count == 2 && b[0].count == 3 && b[1].isEmpty && b[1].watermark == .max && b[1].firstIndex == 3)
    c.expect("close: every batch acknowledged", ingest.inFlight == 0)
    c.expect("close: returns the next index", next == 3)
    c.expect("close: log afterwards → -5", log(ingest, [9]) == 0 && rc { _ = try [9].withUnsafeBytes { try ingest.log($0) } } == -5)
    c.expect("close: flush afterwards → -5", rc { try ingest.flush() } == -5)
    c.expect("close: idempotent", rc { try ingest.close() } == 0 && keeper.batches.count == 2)
    c.expect("close: no longer routed", router.isEmpty)
    let again = makeIngest(settings(batchEvents: 10), keeper: keeper, router: router, clock: clock, firstIndex: next)
    _ = log(again, [7])
    _ = try? again.flush()
    c.expect("re-acquire: indexes continue", keeper.batches.last?.firstIndex == 3 && keeper.batches.last?.count == 1)
    c.expect("close: protocol kept", keeper.violations.isEmpty)
}

private func stall(_ c: inout Checker) {
    let keeper = FakeKeeper(holdAcks: true), clock = ManualClock(start: 1)
    let ingest = makeIngest(settings(batchEvents: 1, stallMs: 200), keeper: keeper, clock: clock)
    _ = log(ingest, [1])
    let start = Date()
    var code: Int32 = 0
    code = rc { try ingest.flush() }
    let waited = Date().timeIntervalSince(start)
    c.expect("stall: a keeper that never acknowledges → -8 after the stall limit (\(waited) s)", code == -8 && waited >= 0.2)
}

private func routing(_ c: inout Checker) {
    let keeper = FakeKeeper(holdAcks: true)
    let router = AckRouter()
    let clock = SystemClock()
    let a1 = makeIngest(settings(batchEvents: 2, maxPending: 64), keeper: keeper, router: router, clock: clock, story: 1, client: 1)
    let b1 = makeIngest(settings(batchEvents: 3, maxPending: 64), keeper: keeper, router: router, clock: clock, story: 2, client: 1)
    let a2 = makeIngest(settings(batchEvents: 5, maxPending: 64), keeper: keeper, router: router, clock: clock, story: 1, client: 2)
    for i in 0..<30 { for h in [a1, b1, a2] { _ = log(h, [UInt8(i)]) } }
    keeper.setHoldAcks(false)
    for h in [a1, b1, a2] { _ = try? h.flush() }
    c.expect("routing: each handle got exactly its own acks",
             a1.stats.batchesAcked == 15 && b1.stats.batchesAcked == 10 && a2.stats.batchesAcked == 6
                 && [a1, b1, a2].allSatisfy { $0.stats.eventsAcked == 30 && $0.stats.acksOutOfOrder == 0 })
    c.expect("routing: an ack for no handle is counted stray",
             !router.deliver(BatchAck(storyId: StoryID(rawValue: 99), clientId: ClientID(1), firstIndex: 0, count: 1))
                 && router.strayAcks == 1)
}

private func flusherThread(_ c: inout Checker) {
    // Through the public API of the flusher (start/stop), with the real clock.
    let keeper = FakeKeeper()
    let router = AckRouter()
    let ingest = makeIngest(settings(batchEvents: 1000, lingerMicroseconds: 2000), keeper: keeper, router: router,
                            clock: SystemClock())
    let flusher = IngestFlusher(router: router, transport: keeper, intervalNanoseconds: 2_000_000)
    flusher.start()
    _ = log(ingest, [1, 2, 3])
    c.expect("flusher: ships a lingering batch and collects its ack",
             eventually { keeper.batches.contains { $0.count == 1 } && ingest.inFlight == 0 })
    c.expect("flusher: stop joins the thread", rc { flusher.stop() } == 0)
    let sent = keeper.batches.count
    c.expect("flusher: nothing sent after stop", !eventually(0.05) { keeper.batches.count != sent })
}
