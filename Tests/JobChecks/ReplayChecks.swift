import ArgumentParser
import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation
import MPI
import Synchronization

/// Replay checked against an in-memory model of what was logged.
///
/// Every client logs to its own story and to a shared one, with pauses so events spread over
/// several chunks and archive rounds, and flushes. The clients then exchange what they logged
/// (times and indexes; payloads are a function of story, client and index), so every rank holds
/// the exact model, and replay random ranges of every story from several threads at once —
/// while each rank's writer thread keeps logging to a live story — comparing each answer with
/// the model event by event (time, client, index, bytes). Events are at that point partly
/// archived and partly still in keeper memory (the summary's keeper `replays.events` counts the
/// latter). Then: a just-logged event is visible at once; `follow` sees exactly the live story's
/// events; error codes; and, after every story was released, the archive alone answers the same.
struct ReplayChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay")
    @OptionGroup var options: JobChecks.Options
    @Option(help: "Events each client logs to each story.")
    var events = 300
    @Option(help: "Random ranges each reader thread replays.")
    var queries = 40
    @Option(help: "Reader threads per client rank.")
    var threads = 3
    @Option(help: "Only check that replaying a just-logged story fails with this code (e.g. -12 with --query-delay-ms …, -10 with --set deployment.playersPerNode=0).")
    var expectCode: Int32?
    @Option(help: "Only one half of a two-job check: `write` logs 10 events per client to story kept-RANK and ends; `read` (a later job in the same directory) replays them from the archive. Or `long-write` then `slow-reader` (a later job): rank 0 logs a large story; then replays it from the archive slowly (a pause per piece) while the other ranks keep logging.")
    var stage: String?

    static let chronicle = "replay-✓"

    static func payload(story: String, client: UInt64, index: UInt32) -> [UInt8] {
        let size = [0, 5, 64, 300, 4096, 1][Int(index) % 6]
        let s = story.utf8.reduce(UInt64(0)) { $0 &+ UInt64($1) }
        return (0..<size).map { j in UInt8(truncatingIfNeeded: client &* 131 &+ UInt64(index) &* 17 &+ UInt64(j) &+ s) }
    }

    /// What one story holds: (time, client, index), sorted in event order.
    struct Model {
        var events: [String: [(time: UInt64, client: UInt64, index: UInt32)]] = [:]

        func expected(_ story: String, _ range: TimeRange) -> [(time: UInt64, client: UInt64, index: UInt32)] {
            (events[story] ?? []).filter { range.contains($0.time) }
        }
    }

    /// `--stage read-tails`, after `write` and a catalog edit: story kept-0's writer is recorded with
    /// 12 events (2 never archived), kept-1's as never released, kept-2 untouched. The whole story
    /// replays partial and says why, a range ending at the writer's last archived event replays
    /// complete (what is missing lies after it), one reaching past it partial; kept-2 is complete.
    static func readTails(_ client: ChronoLogClient, rank: Int, _ c: inout Checker) throws {
        let kept = "kept-\(rank)"
        func outcome(to end: UInt64) throws -> (count: Int, partial: String?) {
            var count = 0
            let o = try client.replayStory(chronicle, kept, from: 0, to: end) { (chunk: StoryChunk) throws(ChronoLogError) in count += chunk.count }
            print("TAILS rank \(rank) to \(end == .max ? "end" : "\(end)"): \(count) events, \(o.partial ?? "complete")")
            return (count, o.partial)
        }
        let events = try client.replayStory(chronicle, kept, from: 0, to: .max)
        c.expect("\(kept): its 10 archived events replay (\(events.count))", events.count == 10)
        let whole = try outcome(to: .max)
        guard rank < 2, let last = events.last else {
            c.expect("\(kept) (catalog untouched) replays complete: \(whole.partial ?? "complete")", whole.partial == nil)
            try liveStory(client, rank: rank, &c)
            return
        }
        let reason = rank == 0 ? "tail missing: indexes 10..<12 of its 12 events never archived"
                               : "never released the story: its tail is unknown"
        c.expect("\(kept) whole: partial, \(reason): \(whole.partial ?? "complete")",
                 whole.count == 10 && whole.partial?.contains("client \(last.clientId.rawValue) \(reason)") == true)
        let before = try outcome(to: last.time)
        c.expect("\(kept) up to its last archived event: complete: \(before.partial ?? "complete")",
                 before.count == 9 && before.partial == nil)
        let past = try outcome(to: last.time + 1)
        c.expect("\(kept) past its last archived event: partial: \(past.partial ?? "complete")",
                 past.count == 10 && past.partial?.contains(reason) == true)
    }

    /// A writer of this job is never "tail unknown": its story replays complete while it holds it
    /// (its events in keepers' memory) and after it released it.
    static func liveStory(_ client: ChronoLogClient, rank: Int, _ c: inout Checker) throws {
        let live = "live-\(rank)"
        let h = try client.acquireStory(chronicle, live)
        for i in 0..<5 { _ = try h.log("l\(i)") }
        try h.flush()
        for held in [true, false] {
            if !held { try client.releaseStory(chronicle, live) }
            var count = 0
            let o = try client.replayStory(chronicle, live, from: 0, to: .max) { (chunk: StoryChunk) throws(ChronoLogError) in count += chunk.count }
            print("TAILS rank \(rank) \(live) \(held ? "held" : "released"): \(count) events, \(o.partial ?? "complete")")
            c.expect("\(live) \(held ? "held" : "released") by this job's writer replays complete (\(count)): \(o.partial ?? "complete")",
                     count == 5 && o.partial == nil)
        }
    }

    /// Compares an answer with the model. - Returns: a description of the first difference.
    static func difference(_ got: [Event], _ want: [(time: UInt64, client: UInt64, index: UInt32)], story: String) -> String? {
        guard got.count == want.count else { return "\(got.count) events, expected \(want.count)" }
        for (g, w) in zip(got, want) {
            guard g.time == w.time, g.clientId.rawValue == w.client, g.index == w.index else {
                return "event (\(g.time), \(g.clientId.rawValue), \(g.index)), expected (\(w.time), \(w.client), \(w.index))"
            }
            guard g.record == payload(story: story, client: w.client, index: w.index) else {
                return "bytes of event (\(w.time), \(w.client), \(w.index)) differ"
            }
        }
        return nil
    }

    func run() throws {
        let events = self.events, queries = self.queries, threads = self.threads
        let expectCode = try self.expectCode.map { raw in
            guard let rc = ReturnCode(rawValue: raw) else { throw ValidationError("--expect-code \(raw) is not a ChronoLog code") }
            return rc
        }
        let stage = self.stage
        guard [nil, "write", "read", "read-damaged", "read-tails", "long-write", "slow-reader"].contains(stage) else {
            throw ValidationError("--stage is write, read, read-damaged, read-tails, long-write or slow-reader")
        }
        let code = try options.job(minimumClients: 1).run { session, _ in
            guard let peers = session.peers else { throw CheckFailure("no client communicator") }
            var c = Checker()
            let client = ChronoLogClient(session: session, mode: .writerReader)
            try client.connect()
            guard let id = client.clientId else { throw CheckFailure("no client id") }
            if stage == "read" {
                // A new job: the story is only in the archive (its chronicle is known from the catalog).
                let kept = "kept-\(peers.rank)"
                let got = try client.replayStory(Self.chronicle, kept, from: 0, to: .max)
                c.expect("a story archived by an earlier job replays from the archive (\(got.count) events)",
                         got.map(\.record) == (0..<10).map { Array("e\($0)".utf8) } && got.map(\.index) == Array(0..<10))
                var code: ReturnCode = .success
                do { _ = try client.replayStory(Self.chronicle, "never-logged", from: 0, to: .max) } catch { code = (error as? ChronoLogError)?.returnCode ?? .unknown }
                c.expect("a story neither the job nor the archive knows gives −3", code == .notExist)
                try client.disconnect()
                return try c.finish()
            }
            if stage == "read-damaged" {
                // The first index row of each story was damaged between the jobs: the rest comes
                // back, in order, and the answer says it is partial (−18 at the C and Python boundary).
                let kept = "kept-\(peers.rank)"
                var got: [Event] = []
                let outcome = try client.replayStory(Self.chronicle, kept, from: 0, to: .max) { (chunk: StoryChunk) throws(ChronoLogError) in
                    for i in 0..<chunk.count { got.append(chunk.event(at: i)) }
                }
                let all = (0..<10).map { Array("e\($0)".utf8) }
                let records = got.map(\.record)
                print("PARTIAL rank \(peers.rank): \(got.count) events, \(outcome.partial ?? "complete")")
                c.expect("the answer is partial and says why (\(outcome.partial ?? "complete"))",
                         outcome.partial?.contains("damaged index row") == true && !outcome.isComplete)
                c.expect("fewer events than logged, the rest intact and in order (\(got.count))",
                         records.count < all.count && records == all.suffix(records.count))
                try client.disconnect()
                return try c.finish()
            }
            if stage == "read-tails" {
                try Self.readTails(client, rank: peers.rank, &c)
                try client.disconnect()
                return try c.finish()
            }
            if peers.rank == 0 {
                if stage == "slow-reader" {
                    // The earlier job's chronicle is in the archive's catalog.
                    c.expect("the earlier job's chronicle is known: create → -6", rc { try client.createChronicle(Self.chronicle) } == -6)
                } else {
                    try client.createChronicle(Self.chronicle)
                }
            }
            try peers.barrier()
            if stage == "write" {
                let kept = "kept-\(peers.rank)"
                let h = try client.acquireStory(Self.chronicle, kept)
                // Two archive rounds, so a damaged first row leaves the second readable.
                for i in 0..<5 { _ = try h.log("e\(i)") }
                _ = try h.flush(durable: true)
                for i in 5..<10 { _ = try h.log("e\(i)") }
                try client.releaseStory(Self.chronicle, kept)
                try client.disconnect()
                return try c.finish()
            }
            if stage == "long-write" || stage == "slow-reader" {
                try Self.longStory(client, peers: peers, events: events, read: stage == "slow-reader", checker: &c)
                try client.disconnect()
                return try c.finish()
            }
            if let expectCode {
                let h = try client.acquireStory(Self.chronicle, "slow-\(peers.rank)")
                _ = try h.log("x")
                try h.flush()
                var code: ReturnCode = .success
                do { _ = try client.replayStory(Self.chronicle, "slow-\(peers.rank)", from: 0, to: .max, timeoutMs: 200) }
                catch { code = (error as? ChronoLogError)?.returnCode ?? .unknown }
                c.expect("the replay fails with \(expectCode) (got \(code))", code == expectCode)
                // An empty range is answered at once, whatever the player does.
                c.expect("an empty range gives no events at once",
                         (try? client.replayStory(Self.chronicle, "slow-\(peers.rank)", from: 10, to: 10, timeoutMs: 200))?.isEmpty == true)
                try client.releaseStory(Self.chronicle, "slow-\(peers.rank)")
                try client.disconnect()
                return try c.finish()
            }

            // 1. Log to an own story and a shared one, spread over time.
            let own = "own-\(peers.rank)", shared = "shared ストーリー"
            let stories = [own, shared]
            var handles: [String: StoryHandle] = [:]
            for s in stories { handles[s] = try client.acquireStory(Self.chronicle, s) }
            var mine: [UInt64] = []  // story slot (0 own, 1 shared), time, index
            for i in 0..<events {
                for (slot, s) in stories.enumerated() {
                    let t = try handles[s]!.log(Self.payload(story: s, client: id.rawValue, index: UInt32(i)))
                    mine += [UInt64(slot), t, UInt64(i)]
                }
                if i % 20 == 19 { usleep(15_000) }
            }
            for s in stories { try handles[s]!.flush() }

            // 2. Everybody's log, so every rank knows exactly what each story holds.
            let gathered = try peers.allgatherv(mine.withUnsafeBytes { Array($0) })
            let ids = try peers.allgather(id.rawValue)
            var model = Model()
            for (rank, bytes) in gathered.enumerated() {
                let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
                for k in stride(from: 0, to: values.count, by: 3) {
                    let story = values[k] == 0 ? "own-\(rank)" : shared
                    model.events[story, default: []].append((values[k + 1], ids[rank], UInt32(values[k + 2])))
                }
            }
            for s in model.events.keys {
                model.events[s]!.sort { ($0.time, $0.client, $0.index) < ($1.time, $1.client, $1.index) }
            }
            let allStories = model.events.keys.sorted()
            let first = model.events.values.compactMap { $0.first?.time }.min() ?? 0
            let last = model.events.values.compactMap { $0.last?.time }.max() ?? 0

            // 3. A writer thread keeps logging to a live story while reader threads replay.
            let live = try client.acquireStory(Self.chronicle, "live-\(peers.rank)")
            let stopWriting = Atomic<Bool>(false)
            let liveLogged = Atomic<Int>(0)
            let writer = Thread {
                var i = 0
                while !stopWriting.load(ordering: .relaxed) && i < 3000 {
                    if (try? live.log(Self.payload(story: "live", client: id.rawValue, index: UInt32(i)))) != nil { i += 1 }
                    if i % 10 == 0 { usleep(2_000) }  // a steady writer, not a flood
                }
                liveLogged.store(i, ordering: .relaxed)
            }
            writer.start()
            // Follow the live story from the start until it is released (step 6).
            let followed = Collected(client.follow(Self.chronicle, "live-\(peers.rank)"))
            let failures = Mutex<[String]>([])
            let answered = Atomic<Int>(0)
            let readersDone = Atomic<Int>(0)
            let m = model
            for t in 0..<threads {
                let thread = Thread {
                    var rng = SystemRandomNumberGenerator()
                    for q in 0..<queries {
                        let story = allStories[Int.random(in: 0..<allStories.count, using: &rng)]
                        // Whole span, open-ended, empty, or random sub-ranges (some inside one chunk).
                        let range: TimeRange
                        switch q % 5 {
                        case 0: range = TimeRange(start: first, end: last + 1)
                        case 1: range = TimeRange(start: 0, end: .max)
                        default:
                            let a = UInt64.random(in: first...last, using: &rng)
                            let widths: [UInt64] = [1_000_000, 50_000_000, last - first + 1]
                            let width = widths[q % 3]
                            let end = a &+ UInt64.random(in: 0...width, using: &rng)
                            range = TimeRange(start: a, end: end)
                        }
                        do {
                            let got = try client.replayStory(Self.chronicle, story, from: range.start, to: range.end)
                            if let d = Self.difference(got, m.expected(story, range), story: story) {
                                failures.withLock { $0.append("thread \(t) query \(q) \(story) \(range): \(d)") }
                            }
                            answered.add(1, ordering: .relaxed)
                        } catch {
                            failures.withLock { $0.append("thread \(t) query \(q) \(story) \(range): \(error)") }
                        }
                        // "Last N": a few (from keeper memory), or more than the story holds (the archive too).
                        let count = [1, 7, 100, events * 3][q % 4]
                        if let d = Self.lastDifference(client, story, count: count, model: m) {
                            failures.withLock { $0.append("thread \(t) last \(count) of \(story): \(d)") }
                        }
                        // The live story's last events, while it is written (the keeper holds them).
                        if let d = Self.liveLastDifference(client, "live-\(peers.rank)", writer: id.rawValue, count: 5) {
                            failures.withLock { $0.append("thread \(t) last 5 of the live story: \(d)") }
                        }
                    }
                    readersDone.add(1, ordering: .relaxed)
                }
                thread.start()
            }
            while readersDone.load(ordering: .relaxed) < threads { usleep(5_000) }
            let problems = failures.withLock { $0 }
            for p in problems.prefix(5) { print("REPLAY MISMATCH rank \(peers.rank): \(p)") }
            c.expect("\(threads * queries) concurrent replays and as many \"last N\" queries while writing match the model exactly (\(problems.count) differ)",
                     problems.isEmpty && answered.load(ordering: .relaxed) == threads * queries)

            // 4. A just-logged event is visible at once (from keeper memory).
            stopWriting.store(true, ordering: .relaxed)
            while !writer.isFinished { usleep(1_000) }
            let liveCount = liveLogged.load(ordering: .relaxed)
            let t0 = try live.log(Self.payload(story: "live", client: id.rawValue, index: UInt32(liveCount)))
            try live.flush()
            let seen = try client.replayStory(Self.chronicle, "live-\(peers.rank)", from: t0, to: t0 + 1)
            c.expect("a flushed event is visible to the next replay",
                     seen.contains { $0.time == t0 && $0.clientId == id && $0.index == UInt32(liveCount) })
            // Once complete past it, it is the last of the story's last 3.
            var lastThree: [Event] = []
            let settle = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < settle {
                lastThree = []
                let outcome = try client.replayLast(Self.chronicle, "live-\(peers.rank)", count: 3) { (chunk: StoryChunk) throws(ChronoLogError) in
                    for i in 0..<chunk.count { lastThree.append(chunk.event(at: i)) }
                }
                if outcome.completeBefore > t0 { break }
                usleep(2_000)
            }
            c.expect("the last 3 of the live story are its last 3 events (\(lastThree.map(\.index)))",
                     lastThree.map(\.index) == (liveCount - 2...liveCount).map { UInt32($0) } && lastThree.last?.time == t0
                        && lastThree.allSatisfy { $0.record == Self.payload(story: "live", client: id.rawValue, index: $0.index) })

            // 5. Errors.
            func code(_ body: () throws -> Void) -> ReturnCode {
                do { try body(); return .success } catch { return (error as? ChronoLogError)?.returnCode ?? .unknown }
            }
            let writerOnly = ChronoLogClient(session: session, mode: .writer)
            try writerOnly.connect()
            c.expect("a writer-only client gets −11",
                     code { _ = try writerOnly.replayStory(Self.chronicle, own, from: 0, to: .max) } == .notReaderMode)
            c.expect("a writer-only client cannot prepare replays (−11)", code { try writerOnly.prepareReplay() } == .notReaderMode)
            c.expect("a reader prepares replays (again: nothing to do)", code { try client.prepareReplay() } == .success)
            try writerOnly.disconnect()
            c.expect("an unknown story gives −3", code { _ = try client.replayStory(Self.chronicle, "no-such-story", from: 0, to: .max) } == .notExist)
            c.expect("an unknown chronicle gives −3", code { _ = try client.replayStory("no-such-chronicle", own, from: 0, to: .max) } == .notExist)
            c.expect("a bad name gives −2", code { _ = try client.replayStory(Self.chronicle, "a/b", from: 0, to: .max) } == .invalidArgument)
            c.expect("an empty range gives no events", (try? client.replayStory(Self.chronicle, own, from: last, to: last))?.isEmpty == true)
            c.expect("a range before every event gives no events", (try? client.replayStory(Self.chronicle, own, from: 0, to: first))?.isEmpty == true)

            // The asynchronous form streams the same answer, piece by piece.
            let streamed = Collected(client.replay(Self.chronicle, own, from: first, to: last + 1))
            let streamEnded = streamed.wait(seconds: 60)
            c.expect("replay as an async sequence yields exactly the model's events (\(streamed.error ?? "no error"))",
                     streamEnded && streamed.error == nil
                        && Self.difference(streamed.events, model.expected(own, TimeRange(start: first, end: last + 1)), story: own) == nil)

            // 6. After release (nothing left in keeper memory once durable) the archive alone answers.
            for s in stories { try client.releaseStory(Self.chronicle, s) }
            try client.releaseStory(Self.chronicle, "live-\(peers.rank)")
            let followEnded = followed.wait(seconds: 60)
            let seenByFollow = followed.events
            let expectedFollow = (0...liveCount).map { UInt32($0) }
            c.expect("follow ended once the live story was released (\(followed.error ?? "no error"))",
                     followEnded && followed.error == nil)
            c.expect("follow yielded the live story's \(liveCount + 1) events exactly once, in order (got \(seenByFollow.count))",
                     seenByFollow.map(\.index) == expectedFollow
                        && zip(seenByFollow, seenByFollow.dropFirst()).allSatisfy { $0.time <= $1.time }
                        && seenByFollow.allSatisfy { $0.record == Self.payload(story: "live", client: id.rawValue, index: $0.index) })
            try peers.barrier()
            for s in allStories {
                let got = try client.replayStory(Self.chronicle, s, from: 0, to: .max)
                c.expect("after release, \(s) replays exactly", Self.difference(got, model.expected(s, TimeRange(start: 0, end: .max)), story: s) == nil)
                for count in [1, events / 2, events * 3] {
                    let d = Self.lastDifference(client, s, count: count, model: model)
                    c.expect("after release, the last \(count) of \(s) are exactly the model's (\(d ?? "same"))", d == nil)
                }
            }
            try peers.barrier()
            try client.disconnect()
            return try c.finish()
        }
        throw ExitCode(code)
    }
}

extension ReplayChecks {
    /// Runs a "last N" query and compares it with the model's last `count` events (of those before
    /// the answer's `completeBefore` while the story is recorded). - Returns: the first difference.
    static func lastDifference(_ client: ChronoLogClient, _ story: String, count: Int, model: Model) -> String? {
        var got: [Event] = []
        do {
            let outcome = try client.replayLast(chronicle, story, count: count) { (chunk: StoryChunk) throws(ChronoLogError) in
                for i in 0..<chunk.count { got.append(chunk.event(at: i)) }
            }
            let upTo = outcome.isRecording ? outcome.completeBefore : .max
            return difference(got, Array(model.expected(story, TimeRange(start: 0, end: upTo)).suffix(count)), story: story)
        } catch {
            return "\(error)"
        }
    }

    /// Checks a "last N" answer of a story one writer keeps logging to (indexes 0, 1, …, in time
    /// order): consecutive indexes, the right bytes, `count` of them once the story holds as many,
    /// all before the answer's `completeBefore`. - Returns: the first problem.
    static func liveLastDifference(_ client: ChronoLogClient, _ story: String, writer: UInt64, count: Int) -> String? {
        var got: [Event] = []
        do {
            let outcome = try client.replayLast(chronicle, story, count: count) { (chunk: StoryChunk) throws(ChronoLogError) in
                for i in 0..<chunk.count { got.append(chunk.event(at: i)) }
            }
            guard let last = got.last else { return nil }  // nothing complete yet
            let indexes = got.map { Int($0.index) }
            guard indexes == Array((indexes[0]..<indexes[0] + got.count)) else { return "indexes \(indexes) are not consecutive" }
            guard got.count == min(count, Int(last.index) + 1) else { return "\(got.count) events, expected \(min(count, Int(last.index) + 1))" }
            guard last.time < outcome.completeBefore || !outcome.isRecording else { return "event at \(last.time) is not complete (\(outcome.completeBefore))" }
            guard got.allSatisfy({ $0.clientId.rawValue == writer && $0.record == payload(story: "live", client: writer, index: $0.index) }) else {
                return "wrong bytes or writer"
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// `long-write` (`read` false): rank 0 logs `events` events of 4 KiB to one story and releases
    /// it; the job's end archives it. `slow-reader` (a later job, `read` true): rank 0 replays that
    /// story, now only in the archive, with a 40 ms pause per piece (a slow consumer: the replay
    /// spans many archive intervals, the player holding its lease between reads), checking every
    /// event; meanwhile the other ranks log and flush to stories of their own, so archive rounds
    /// keep falling due and the grapher must recall the player's lease to run them.
    static func longStory(_ client: ChronoLogClient, peers: Communicator, events: Int, read: Bool, checker c: inout Checker) throws {
        let story = "long"
        let record = { (i: Int) in [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 4096) }
        guard read else {
            if peers.rank == 0 {
                let h = try client.acquireStory(chronicle, story)
                for i in 0..<events { _ = try h.log(record(i)) }
                try client.releaseStory(chronicle, story)
            }
            return
        }
        if peers.rank == 0 {
            var seen = 0, pieces = 0, wrong = 0
            let started = ContinuousClock.now
            do {
                try client.replayStory(chronicle, story, from: 0, to: .max) { (chunk: StoryChunk) throws(ChronoLogError) in
                    for k in 0..<chunk.count where !chunk.recordBytes(at: k).elementsEqual(record(Int(chunk.records[k].index))) { wrong += 1 }
                    seen += chunk.count
                    pieces += 1
                    usleep(40_000)
                }
            } catch {
                c.expect("the slow replay failed: \(error)", false)  // the others still get their barrier
            }
            let took = ContinuousClock.now - started
            print("SLOW-READER pieces=\(pieces) events=\(seen) took=\(took)")
            c.expect("the slow replay gave all \(events) events with their bytes (\(seen), \(wrong) wrong)", seen == events && wrong == 0)
            c.expect("the slow replay spanned several archive intervals (\(took))", took > .milliseconds(500))
        }
        let done = try peers.ibarrier()
        var i = 0
        if peers.rank != 0 {
            let mine = try client.acquireStory(chronicle, "busy-\(peers.rank)")
            while try done.test() == nil {
                _ = try mine.log("busy \(i)")
                i += 1
                if i % 20 == 0 {
                    try mine.flush()
                    usleep(10_000)
                }
            }
            try client.releaseStory(chronicle, "busy-\(peers.rank)")
        } else {
            _ = try done.wait()
        }
    }
}

/// The events of an asynchronous replay or follow, collected by a detached task.
final class Collected: Sendable {
    private let collected = Mutex<(events: [Event], error: String?)>(([], nil))
    private let done = Atomic<Bool>(false)

    init(_ sequence: ReplayEvents) {
        Task.detached { [self] in await consume(sequence) }
    }

    private func consume(_ sequence: ReplayEvents) async {
        do {
            for try await e in sequence { collected.withLock { $0.events.append(e) } }
        } catch {
            collected.withLock { $0.error = "\(error)" }
        }
        done.store(true, ordering: .releasing)
    }

    /// Waits until the sequence ended, at most `seconds`. - Returns: whether it ended.
    func wait(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !done.load(ordering: .acquiring) && Date() < deadline { usleep(2_000) }
        return done.load(ordering: .acquiring)
    }

    /// The events so far.
    var events: [Event] { collected.withLock { $0.events } }
    /// Why the sequence failed, if it did.
    var error: String? { collected.withLock { $0.error } }
}
