import ArgumentParser
@_spi(IngestTesting) import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation
import MPI

/// Writers are who they say: `forgery` has a client rank send batches, watermarks and a visor
/// order in another client's name, or for a story it does not hold, over the job's real MPI
/// control channel (the forging code lives here only); `access` checks chronicle owners and
/// `access.write` / `access.read` through the Swift client API.
struct AuthChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Forged batches and chronicle access, as whole jobs.",
        subcommands: [Forgery.self, Access.self])

    /// Client rank 0 (the victim) holds story Auth/victim and logs `events` events in two halves;
    /// between them client rank 1 (the forger), which holds nothing, sends `forged` events in the
    /// victim's name, `forged` events under its own id, watermarks for the victim's story in both
    /// names, a stop-recording order for it, and a keeper's watermark to the grapher. Prints
    /// `VICTIM <client id>`.
    struct Forgery: ParsableCommand {
        @OptionGroup var options: JobChecks.Options
        @Option(help: "Events the victim logs.") var events = 50
        @Option(help: "Events each forged batch carries.") var forged = 20

        func run() throws {
            let events = self.events, forged = self.forged
            let code = try options.job(minimumClients: 2).run { session, _ in
                guard let peers = session.peers, peers.size >= 2 else { throw CheckFailure("needs two client ranks") }
                var c = Checker()
                let client = ChronoLogClient(session: session)
                try client.connect()
                if peers.rank == 0 { try client.createChronicle("Auth") }
                try peers.barrier()
                var handle: StoryHandle?
                var shared: (id: Int64, keeper: Int64) = (0, -1)
                if peers.rank == 0 {
                    _ = try client.acquireStory("Auth", "common")
                    let h = try client.acquireStory("Auth", "victim")
                    for i in 0..<events / 2 { c.expect("victim logs \(i)", h.logEvent("honest-\(i)") != 0) }
                    try h.flush()
                    handle = h
                    shared = (Int64(client.clientId?.rawValue ?? 0), Int64(h.keeperRank))
                    print("VICTIM \(shared.id)")
                }
                let victim = ClientID(UInt64(try peers.allgather(shared.id)[0]))
                let keeper = Int(try peers.allgather(shared.keeper)[0])
                if peers.rank == 1 {
                    try forge(session, as: victim, own: client.clientId ?? .none, keeper: keeper, events: forged, &c)
                    try formerHolder(client, keeper: keeper, &c)
                }
                try peers.barrier()
                if let h = handle {
                    for i in events / 2..<events { c.expect("victim logs \(i) after the forgery", h.logEvent("honest-\(i)") != 0) }
                    c.expect("victim flushes → 0", rc { try h.flush() } == 0)
                    c.expect("victim releases → 0", rc { try client.releaseStory("Auth", "victim") } == 0)
                    c.expect("victim releases common → 0", rc { try client.releaseStory("Auth", "common") } == 0)
                }
                try client.disconnect()
                var counters = try c.finish()
                counters.merge(session.ingestCounters) { $1 }
                return counters
            }
            throw ExitCode(code)
        }

        /// The forger holds Auth/common with the victim, logs one event, releases it, then sends a
        /// watermark for it: the keeper must refuse it (the visor told it the forger let go).
        private func formerHolder(_ client: ChronoLogClient, keeper: Int, _ c: inout Checker) throws {
            let h = try client.acquireStory("Auth", "common")
            c.expect("forger logs to common while holding it", h.logEvent("common-0") != 0)
            c.expect("forger releases common → 0", rc { try client.releaseStory("Auth", "common") } == 0)
            // An acquire is answered once the keeper acknowledged its start, which the visor sent
            // after the release's holder notice: the keeper has handled that notice by now.
            _ = try client.acquireStory("Auth", "sync")
            let id = StoryID(chronicle: try ChronicleName("Auth"), story: try StoryName("common"))
            let set = WatermarkSet(contributor: client.clientId?.rawValue ?? 0, entries: [.init(storyId: id, watermark: UInt64.max - 1)])
            try client.session.post(ControlMessage.watermarks(set).encode(), to: keeper, tag: .events)
            try client.releaseStory("Auth", "sync")
        }

        /// The forger's part: each attempt over the real control channel, through a transport of
        /// this session that no client of it uses (this rank holds no story, so no flusher thread
        /// receives the keeper's answers before the forged buffers do).
        private func forge(_ session: ChronoSession, as victim: ClientID, own: ClientID, keeper: Int, events: Int,
                           _ c: inout Checker) throws {
            let transport = session.makeIngestTransport()
            let storyId = StoryID(chronicle: try ChronicleName("Auth"), story: try StoryName("victim"))
            func buffer(_ id: ClientID) -> StoryIngest {
                let router = AckRouter()
                let ingest = StoryIngest(chronicle: "Auth", story: "victim", storyId: storyId, clientId: id, keeperRank: keeper,
                                         firstIndex: 0, settings: IngestSettings(config: session.config), clock: SystemClock(),
                                         transport: transport, router: router)
                router.add(ingest)
                return ingest
            }
            for (id, label) in [(victim, "forged"), (own, "unheld")] {
                let ingest = buffer(id)
                var logged = 0
                for i in 0..<events {
                    let record = Array("\(label)-\(i)".utf8)
                    if (try? record.withUnsafeBytes { try ingest.log($0) }) != nil { logged += 1 }
                }
                c.expect("\(label): \(events) events buffered", logged == events)
                c.expect("\(label) batch → -9 (not authorized)", rc { try ingest.flush() } == -9)
                c.expect("\(label): the keeper reported every event refused", ingest.stats.eventsUnauthorized == UInt64(events))
                c.expect("\(label): logging after the refusal → -9", rc {
                    _ = try Array("late".utf8).withUnsafeBytes { try ingest.log($0) }
                } == -9)
            }
            for id in [victim, own] {
                let set = WatermarkSet(contributor: id.rawValue, entries: [.init(storyId: storyId, watermark: UInt64.max - 1)])
                try transport.send(ControlMessage.watermarks(set).encode(), to: keeper)
            }
            let stop = RecordingNotice(storyId: storyId, chronicle: "Auth", story: "victim", groupId: 0)
            try session.post(ControlMessage.stopRecording(stop).encode(), to: keeper, tag: .service)
            // A replay query straight to the keeper, as if from the player (bypassing the visor's check).
            let query = ReplayRequest(queryId: 1, clientId: own, chronicle: "Auth", story: "victim",
                                      range: TimeRange(start: 0, end: .max), timeoutMilliseconds: 1000,
                                      clientRank: Int32(session.layout.worldRank), keeperRanks: [Int32(keeper)], storyKnown: true)
            try session.post(ControlMessage.replayRequest(query).encode(), to: keeper, tag: .replay)
            // A keeper's watermark for the story, sent to the grapher by a rank that is no keeper.
            if let grapher = session.layout.plan.ranks(of: .grapher).first {
                let set = WatermarkSet(contributor: UInt64(keeper), entries: [.init(storyId: storyId, watermark: UInt64.max - 1)])
                try session.post(ControlMessage.watermarks(set).encode(), to: grapher, tag: .bulk)
            }
            // The channel delivers in order: once a fresh buffer's registration batch (refused too)
            // is answered, the keeper has handled everything above.
            c.expect("a registration for a story not held → -9", rc { try buffer(own).announce() } == -9)
        }
    }

    /// Chronicle access through the Swift API, with two clients named alice (client rank 0) and
    /// bob (client rank 1): owner-only writing and reading refused with −9, `all` allowed, the
    /// owner defaulting to the creator, bad access values −2.
    struct Access: ParsableCommand {
        @OptionGroup var options: JobChecks.Options

        func run() throws {
            let code = try options.job(minimumClients: 2).run { session, _ in
                guard let peers = session.peers, peers.size >= 2 else { throw CheckFailure("needs two client ranks") }
                var c = Checker()
                let me = peers.rank == 0 ? "alice" : peers.rank == 1 ? "bob" : "other-\(peers.rank)"
                let client = ChronoLogClient(session: session, mode: .writerReader, user: me)
                try client.connect()
                if peers.rank == 0 { try Self.alicePrepares(client, &c) }
                if peers.rank == 1 { try Self.bobPrepares(client, &c) }
                try peers.barrier()
                if peers.rank == 1 { Self.bobTries(client, &c) }
                try peers.barrier()
                if peers.rank == 0 { Self.aliceTries(client, &c) }
                try peers.barrier()
                try client.disconnect()
                return try c.finish()
            }
            throw ExitCode(code)
        }

        static func logTen(_ client: ChronoLogClient, _ chronicle: String, _ story: String, _ c: inout Checker) throws {
            let h = try client.acquireStory(chronicle, story)
            for i in 0..<10 { _ = h.logEvent("\(chronicle)-\(i)") }
            c.expect("\(chronicle)/\(story): flush → 0", rc { try h.flush() } == 0)
            try client.releaseStory(chronicle, story)
        }

        static func alicePrepares(_ client: ChronoLogClient, _ c: inout Checker) throws {
            let ownerOnly = ["access.write": "owner", "access.read": "owner"]
            c.expect("create Private (owner only) → 0", rc { try client.createChronicle("Private", attributes: ownerOnly) } == 0)
            c.expect("create Notes (owner writes, all read) → 0", rc {
                try client.createChronicle("Notes", attributes: ["owner": "alice", "access.write": "owner"])
            } == 0)
            c.expect("create Open (defaults) → 0", rc { try client.createChronicle("Open") } == 0)
            c.expect("access.write=everyone → -2", rc { try client.createChronicle("Bad", attributes: ["access.write": "everyone"]) } == -2)
            c.expect("access.read=Owner → -2", rc { try client.createChronicle("Bad", attributes: ["access.read": "Owner"]) } == -2)
            c.expect("empty owner → -2", rc { try client.createChronicle("Bad", attributes: ["owner": ""]) } == -2)
            try logTen(client, "Private", "a", &c)
            try logTen(client, "Notes", "n", &c)
        }

        static func bobPrepares(_ client: ChronoLogClient, _ c: inout Checker) throws {
            // No owner given: bob, the creator, owns it.
            c.expect("create BobsOwn (read owner only) → 0", rc { try client.createChronicle("BobsOwn", attributes: ["access.read": "owner"]) } == 0)
            try logTen(client, "BobsOwn", "b", &c)
        }

        static func bobTries(_ client: ChronoLogClient, _ c: inout Checker) {
            c.expect("bob acquires in Private → -9", rc { _ = try client.acquireStory("Private", "b") } == -9)
            c.expect("bob acquires alice's story in Private → -9", rc { _ = try client.acquireStory("Private", "a") } == -9)
            c.expect("bob replays Private/a → -9", rc { _ = try client.replayStory("Private", "a", from: 0, to: .max) } == -9)
            c.expect("bob destroys Private/a → -9", rc { try client.destroyStory("Private", "a") } == -9)
            c.expect("bob destroys Private → -9", rc { try client.destroyChronicle("Private") } == -9)
            c.expect("bob acquires in Notes → -9", rc { _ = try client.acquireStory("Notes", "n") } == -9)
            c.expect("bob destroys Notes/n → -9", rc { try client.destroyStory("Notes", "n") } == -9)
            var notes: [Event] = []
            c.expect("bob replays Notes/n (all read) → 0", rc { notes = try client.replayStory("Notes", "n", from: 0, to: .max) } == 0)
            c.expect("bob reads Notes/n's 10 events", notes.count == 10)
            c.expect("bob acquires in Open → 0", rc { _ = try client.acquireStory("Open", "x") } == 0)
            c.expect("bob releases Open/x → 0", rc { try client.releaseStory("Open", "x") } == 0)
            c.expect("bob still lists every chronicle", (try? client.showChronicles()) == ["BobsOwn", "Notes", "Open", "Private"])
            c.expect("bob replays his BobsOwn/b → 0", rc { _ = try client.replayStory("BobsOwn", "b", from: 0, to: .max) } == 0)
        }

        static func aliceTries(_ client: ChronoLogClient, _ c: inout Checker) {
            var mine: [Event] = []
            c.expect("alice replays Private/a → 0", rc { mine = try client.replayStory("Private", "a", from: 0, to: .max) } == 0)
            c.expect("alice reads Private/a's 10 events", mine.count == 10)
            c.expect("alice replays BobsOwn/b (bob owns it by default) → -9", rc {
                _ = try client.replayStory("BobsOwn", "b", from: 0, to: .max)
            } == -9)
            c.expect("alice acquires BobsOwn/b (all write) → 0", rc { _ = try client.acquireStory("BobsOwn", "b") } == 0)
            c.expect("alice releases BobsOwn/b → 0", rc { try client.releaseStory("BobsOwn", "b") } == 0)
            c.expect("alice acquires Private/a again → 0", rc { _ = try client.acquireStory("Private", "a") } == 0)
            c.expect("alice releases Private/a → 0", rc { try client.releaseStory("Private", "a") } == 0)
            c.expect("alice destroys Private/a → 0", rc { try client.destroyStory("Private", "a") } == 0)
            c.expect("alice destroys Private → 0", rc { try client.destroyChronicle("Private") } == 0)
        }
    }
}
