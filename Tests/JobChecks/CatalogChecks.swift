import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation

/// The archive is the catalog: two jobs over the same `archive.directory`. `first` creates
/// chronicles and stories with attributes, logs, destroys one story and one chronicle; `second`
/// (a later job over the same directory) finds them: `CreateChronicle` of a known one is −6, the
/// stored access rules apply, a known story is appended to, a destroyed one replays −3 and
/// starts fresh when acquired again. Client rank 0 is alice (writer + reader), rank 1 is bob.
struct CatalogChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Chronicles and stories known across jobs over one archive directory.",
        subcommands: [First.self, Second.self])

    /// The first job: Cat (owner alice, only she writes; attribute color=blue) with story s
    /// (`events` events), Gone/g (`events` events, then destroyed), chronicle Temp (destroyed).
    struct First: ParsableCommand {
        @OptionGroup var options: JobChecks.Options
        @Option(help: "Events logged per story.") var events = 40

        func run() throws {
            let events = self.events
            let code = try options.job(minimumClients: 2).run { session, _ in
                guard session.peers?.rank == 0 else { return [:] }
                var c = Checker()
                let client = ChronoLogClient(session: session, mode: .writerReader, user: "alice")
                try client.connect()
                c.expect("create Cat → 0", rc {
                    try client.createChronicle("Cat", attributes: ["access.write": "owner", "color": "blue"])
                } == 0)
                c.expect("create Gone → 0", rc { try client.createChronicle("Gone") } == 0)
                c.expect("create Temp → 0", rc { try client.createChronicle("Temp") } == 0)
                try CatalogChecks.log(client, "Cat", "s", prefix: "first", events: events, &c)
                try CatalogChecks.log(client, "Gone", "g", prefix: "old", events: events, &c)
                try CatalogChecks.log(client, "Temp", "t", prefix: "temp", events: 3, &c)
                c.expect("destroy Gone/g → 0", rc { try client.destroyStory("Gone", "g") } == 0)
                c.expect("replay destroyed Gone/g → -3", rc { _ = try client.replayStory("Gone", "g", from: 0, to: .max) } == -3)
                c.expect("destroy Temp → 0", rc { try client.destroyChronicle("Temp") } == 0)
                try client.disconnect()
                return try c.finish()
            }
            throw ExitCode(code)
        }
    }

    /// The second job over the same directory.
    struct Second: ParsableCommand {
        @OptionGroup var options: JobChecks.Options
        @Option(help: "Events logged per story.") var events = 40

        func run() throws {
            let events = self.events
            let code = try options.job(minimumClients: 2).run { session, _ in
                guard let peers = session.peers, peers.rank <= 1 else { return [:] }
                var c = Checker()
                let user = peers.rank == 0 ? "alice" : "bob"
                let client = ChronoLogClient(session: session, mode: .writerReader, user: user)
                try client.connect()
                if peers.rank == 1 {
                    c.expect("bob acquires in Cat (owner writes) → -9", rc { _ = try client.acquireStory("Cat", "s") } == -9)
                    c.expect("bob creates Cat → -6", rc { try client.createChronicle("Cat") } == -6)
                } else {
                    try alice(client, events: events, &c)
                }
                try client.disconnect()
                return try c.finish()
            }
            throw ExitCode(code)
        }

        private func alice(_ client: ChronoLogClient, events: Int, _ c: inout Checker) throws {
            c.expect("create Cat again → -6", rc { try client.createChronicle("Cat") } == -6)
            let names = (try? client.showChronicles()) ?? []
            c.expect("show chronicles lists Cat and Gone, not Temp: \(names)", names == ["Cat", "Gone"])
            c.expect("show stories of Cat lists s", (try? client.showStories("Cat")) == ["s"])
            c.expect("show stories of Gone is empty", (try? client.showStories("Gone")) == [])
            c.expect("replay destroyed Gone/g → -3", rc { _ = try client.replayStory("Gone", "g", from: 0, to: .max) } == -3)
            c.expect("create Temp (destroyed) again → 0", rc { try client.createChronicle("Temp") } == 0)
            var before: [Event] = []
            c.expect("replay Cat/s → 0", rc { before = try client.replayStory("Cat", "s", from: 0, to: .max) } == 0)
            c.expect("Cat/s holds the first job's \(events) events (\(before.count))", before.count == events)
            try CatalogChecks.log(client, "Cat", "s", prefix: "second", events: events, &c)
            var after: [Event] = []
            c.expect("replay Cat/s → 0", rc { after = try client.replayStory("Cat", "s", from: 0, to: .max) } == 0)
            c.expect("Cat/s holds both jobs' events (\(after.count))", after.count == 2 * events)
            try CatalogChecks.log(client, "Gone", "g", prefix: "new", events: events / 2, &c)
            var fresh: [Event] = []
            c.expect("replay Gone/g created again → 0", rc { fresh = try client.replayStory("Gone", "g", from: 0, to: .max) } == 0)
            let texts = fresh.map { String(decoding: $0.record, as: UTF8.self) }
            c.expect("Gone/g replays only its new \(events / 2) events (\(texts.count))",
                     texts.count == events / 2 && texts.allSatisfy { $0.hasPrefix("new-") })
        }
    }

    /// Acquires `chronicle`/`story`, logs `events` events, flushes durably and releases.
    static func log(_ client: ChronoLogClient, _ chronicle: String, _ story: String, prefix: String, events: Int,
                    _ c: inout Checker) throws {
        var handle: StoryHandle?
        c.expect("acquire \(chronicle)/\(story) → 0", rc { handle = try client.acquireStory(chronicle, story, attributes: ["kind": prefix]) } == 0)
        guard let h = handle else { return }
        var logged = 0
        for i in 0..<events where h.logEvent("\(prefix)-\(i)") != 0 { logged += 1 }
        c.expect("\(chronicle)/\(story): \(events) events logged", logged == events)
        c.expect("\(chronicle)/\(story): durable flush → 0", rc { _ = try h.flush(durable: true) } == 0)
        c.expect("release \(chronicle)/\(story) → 0", rc { try client.releaseStory(chronicle, story) } == 0)
    }
}
