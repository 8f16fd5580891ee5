import ArgumentParser
@_spi(IngestTesting) import ChronoClient
import ChronoModel
import Foundation
import MPI
import Synchronization

/// "Last N" straight from the keepers (`last-direct`), with two clients: alice (client rank 0)
/// owns chronicle Direct (`access.read` owner) and logs to its story s; bob (client rank 1) may not
/// read it. Alice's first query asks the visor for the route, the next ones go to the keepers alone
/// and equal what she logged; bob is refused −9 through the API and by the keepers when he sends
/// them a query himself, in his name or in alice's; after alice released and acquired s again, her
/// cached route is stale: the keepers refuse it, the player answers, and the next route works.
/// Alice's events are archived meanwhile: the keepers keep each story's latest durable piece.
/// Last, bob records story Open/kept; once alice read it directly, disconnected and connected
/// again, the keepers refuse a query in her old client's name from her rank: the visor withdrew
/// her grants when she disconnected.
struct LastDirectChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "last-direct")
    @OptionGroup var options: JobChecks.Options

    func run() throws {
        let code = try options.job(minimumClients: 2).run { session, _ in
            guard let peers = session.peers, peers.size >= 2 else { throw CheckFailure("needs two client ranks") }
            var c = Checker()
            let client = ChronoLogClient(session: session, mode: .writerReader, user: peers.rank == 0 ? "alice" : "bob")
            try client.connect()
            let alice = ClientID(UInt64(try peers.allgather(Int64(client.clientId?.rawValue ?? 0))[0]))
            if peers.rank == 0 { try Self.aliceReads(client, &c) }
            try peers.barrier()
            if peers.rank == 1 { Self.bobTries(client, alice: alice, &c) }
            try peers.barrier()
            if peers.rank == 0 {
                try Self.aliceReacquires(client, &c)
                try Self.aliceFollowsWriter(client, &c)
            }
            try Self.grantEndsAtDisconnect(client, peers: peers, &c)
            try client.disconnect()
            return try c.finish()
        }
        throw ExitCode(code)
    }

    static func record(_ i: Int) -> [UInt8] { Array("direct-\(i)".utf8) }

    /// Acquires `chronicle`/`story`, waits 0.1 s (a keeper's memory covers a story from when it
    /// started recording it), logs `events` records (``record(_:)``) and flushes durably.
    /// - Returns: the last event's time.
    static func logDurably(_ client: ChronoLogClient, _ chronicle: String, _ story: String, events: Int) throws -> UInt64 {
        let h = try client.acquireStory(chronicle, story)
        usleep(100_000)
        var last: UInt64 = 0
        for i in 0..<events { last = try h.log(record(i)) }
        _ = try h.flush(durable: true)
        return last
    }

    /// Whether a replay through the player says every event of the story up to `time` is complete
    /// within 20 s.
    static func completePast(_ client: ChronoLogClient, _ chronicle: String, _ story: String, _ time: UInt64) throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let outcome = try client.replayStory(chronicle, story, from: 0, to: .max) { (_: StoryChunk) throws(ChronoLogError) in }
            if outcome.completeBefore > time { return true }
            usleep(2_000)
        }
        return false
    }

    /// The last `count` events once every event up to `time` is complete (nil after 20 s).
    static func lastOnceComplete(_ client: ChronoLogClient, count: Int, past time: UInt64) throws -> [Event]? {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            var got: [Event] = []
            let outcome = try client.replayLast("Direct", "s", count: count) { (chunk: StoryChunk) throws(ChronoLogError) in
                for i in 0..<chunk.count { got.append(chunk.event(at: i)) }
            }
            if outcome.completeBefore > time { return got }
            usleep(2_000)
        }
        return nil
    }

    static func exactly(_ got: [Event]?, _ indexes: Range<Int>) -> Bool {
        guard let got else { return false }
        return got.map { Int($0.index) } == Array(indexes) && got.allSatisfy { $0.record == record(Int($0.index)) }
    }

    static func delta(_ before: Counters, _ after: Counters, _ counter: Counter) -> UInt64 {
        (after[counter] ?? 0) - (before[counter] ?? 0)
    }

    static func aliceReads(_ client: ChronoLogClient, _ c: inout Checker) throws {
        try client.createChronicle("Direct", attributes: ["access.read": "owner"])
        let h = try client.acquireStory("Direct", "s")
        // A keeper's memory covers a story from when it started recording it (its clock); events
        // logged within the client's clock-offset error after that are read through the player.
        usleep(100_000)
        var last: UInt64 = 0
        for i in 0..<300 { last = try h.log(record(i)) }
        _ = try h.flush(durable: true)  // archived: the keepers answer from the piece they keep
        c.expect("alice's last 10 once complete are her events 290…299", exactly(try lastOnceComplete(client, count: 10, past: last), 290..<300))
        let session = client.session
        c.expect("alice asked the visor for the route once", session.replayCounters[.replayRoutes] == 1)
        let before = session.replayCounters
        var same = 0
        for _ in 0..<20 where exactly(try client.replayLast("Direct", "s", count: 10), 290..<300) { same += 1 }
        let after = session.replayCounters
        c.expect("20 more last-10 queries equal what alice logged (\(same))", same == 20)
        c.expect("…all answered by the keepers directly, without the visor or the player (\(after))",
                 delta(before, after, .replayLastDirect) == 20 && delta(before, after, .replayLastPlayer) == 0
                    && delta(before, after, .replayRoutes) == 0)
    }

    static func bobTries(_ client: ChronoLogClient, alice: ClientID, _ c: inout Checker) {
        let keepers = client.session.layout.plan.ranks(of: .keeper).map { Int32($0) }
        c.expect("bob's last 5 of Direct/s (read owner only) → -9", rc { _ = try client.replayLast("Direct", "s", count: 5) } == -9)
        c.expect("bob's last 5 sent to the keepers himself → -9",
                 rc { _ = try client.replayLastUnrouted("Direct", "s", count: 5, keepers: keepers) } == -9)
        c.expect("bob's last 5 sent to the keepers in alice's name → -9",
                 rc { _ = try client.replayLastUnrouted("Direct", "s", count: 5, keepers: keepers, as: alice) } == -9)
    }

    /// While a thread logs to story w (about 2000 events/s), alice's last 10 of it are 10 consecutive
    /// complete events, nearly all answered by the keepers directly (their events not complete yet
    /// must not push complete ones out of their answers).
    static func aliceFollowsWriter(_ client: ChronoLogClient, _ c: inout Checker) throws {
        let h = try client.acquireStory("Direct", "w")
        let stop = Atomic<Bool>(false)
        let writer = Thread {
            var i = 0
            while !stop.load(ordering: .relaxed) {
                if h.logEvent(record(i)) != 0 { i += 1 }
                usleep(500)
            }
        }
        writer.start()
        usleep(300_000)
        let before = client.session.replayCounters
        var good = 0
        for _ in 0..<50 {
            var got: [Event] = []
            let outcome = try client.replayLast("Direct", "w", count: 10) { (chunk: StoryChunk) throws(ChronoLogError) in
                for i in 0..<chunk.count { got.append(chunk.event(at: i)) }
            }
            let indexes = got.map { Int($0.index) }
            if got.count == 10, indexes == Array(indexes[0]..<indexes[0] + 10),
               got.allSatisfy({ $0.time < outcome.completeBefore && $0.record == record(Int($0.index)) }) {
                good += 1
            }
            usleep(2_000)
        }
        stop.store(true, ordering: .relaxed)
        while !writer.isFinished { usleep(1_000) }
        try client.releaseStory("Direct", "w")
        let after = client.session.replayCounters
        c.expect("50 last-10 queries of a story being written: 10 consecutive complete events each (\(good))", good == 50)
        c.expect("…at least 40 answered by the keepers directly (\(delta(before, after, .replayLastDirect)))",
                 delta(before, after, .replayLastDirect) >= 40)
    }

    /// Bob (client rank 1) keeps Open/kept recorded; alice reads it directly, disconnects and
    /// connects again: a query from her rank in her old name is refused −9 (her grant went with her
    /// connection), and one in her new name goes through the visor as any first query.
    static func grantEndsAtDisconnect(_ client: ChronoLogClient, peers: Communicator, _ c: inout Checker) throws {
        if peers.rank == 1 {
            try client.createChronicle("Open")
            let h = try client.acquireStory("Open", "kept")
            usleep(100_000)
            for i in 0..<20 { _ = try h.log(record(i)) }
            _ = try h.flush(durable: true)
        }
        try peers.barrier()
        if peers.rank == 0 {
            let keepers = client.session.layout.plan.ranks(of: .keeper).map { Int32($0) }
            let old = client.clientId
            var direct = false
            for _ in 0..<200 where !direct {
                let before = client.session.replayCounters[.replayLastDirect] ?? 0
                _ = try client.replayLast("Open", "kept", count: 5)
                direct = (client.session.replayCounters[.replayLastDirect] ?? 0) > before
                if !direct { usleep(10_000) }
            }
            c.expect("alice's last 5 of Open/kept answered by the keepers directly", direct)
            c.expect("…and in her name by the keepers themselves",
                     rc { _ = try client.replayLastUnrouted("Open", "kept", count: 5, keepers: keepers, as: old) } == 0)
            try client.disconnect()
            try client.connect()
            c.expect("after alice disconnected and connected again, a query in her old name from her rank → -9",
                     rc { _ = try client.replayLastUnrouted("Open", "kept", count: 5, keepers: keepers, as: old) } == -9)
        }
        try peers.barrier()
        if peers.rank == 1 { try client.releaseStory("Open", "kept") }
    }

    static func aliceReacquires(_ client: ChronoLogClient, _ c: inout Checker) throws {
        try client.releaseStory("Direct", "s")
        let h = try client.acquireStory("Direct", "s")
        usleep(100_000)
        var last: UInt64 = 0
        for i in 300..<303 { last = try h.log(record(i)) }
        try h.flush()
        let session = client.session
        let before = session.replayCounters
        c.expect("after a new recording, alice's last 3 are her events 300…302",
                 exactly(try lastOnceComplete(client, count: 3, past: last), 300..<303))
        // The cached route is stale (the keepers refuse it: counted in their summary): the player answers.
        c.expect("the stale route fell back to the player (\(session.replayCounters))",
                 delta(before, session.replayCounters, .replayLastPlayer) >= 1)
        let direct = session.replayCounters[.replayLastDirect] ?? 0
        let again = try client.replayLast("Direct", "s", count: 3)
        c.expect("the route asked again goes to the keepers directly (\(again.map(\.index)), \(session.replayCounters))",
                 exactly(again, 300..<303) && session.replayCounters[.replayLastDirect] == direct + 1
                    && delta(before, session.replayCounters, .replayRoutes) == 1)
        try client.releaseStory("Direct", "s")
    }
}
