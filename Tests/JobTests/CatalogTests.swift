import ChronoModel
import Foundation
import Testing
import TestSupport

/// The archive catalog without MPI: what each change records.
@Suite("Archive catalog model")
struct ArchiveCatalogModelTests {
    @Test("acquire, release, destroy and create again: writers, counts, hidden events, JSON round trip")
    func changes() throws {
        var c = ArchiveCatalog()
        c.createChronicle("C", attributes: ["owner": "alice"], flags: 0)
        c.acquire(chronicle: "C", story: "s", attributes: ["k": "v"], by: ClientID(7))
        #expect(c.story(chronicle: "C", story: "s")?.writers == [CatalogWriter(client: 7, count: nil)])
        c.release(chronicle: "C", story: "s", by: ClientID(7), count: 12)
        c.acquire(chronicle: "C", story: "s", attributes: [:], by: ClientID(3))
        #expect(c.story(chronicle: "C", story: "s")?.writers == [CatalogWriter(client: 3, count: nil), CatalogWriter(client: 7, count: 12)])
        c.destroyStory(chronicle: "C", story: "s")
        #expect(c.isDestroyed(chronicle: "C", story: "s"))
        let gone = try #require(c.story(chronicle: "C", story: "s"))
        #expect(gone.writers.isEmpty && gone.hides(client: 7, index: 11) && !gone.hides(client: 7, index: 12))
        #expect(gone.hides(client: 3, index: 1_000_000) && !gone.hides(client: 4, index: 0))
        c.acquire(chronicle: "C", story: "s", attributes: ["new": "1"], by: ClientID(7))
        let again = try #require(c.story(chronicle: "C", story: "s"))
        #expect(!again.destroyed && again.attributes == ["new": "1"] && again.firstVisibleIndex(client: 7) == 12)
        c.destroyChronicle("C")
        #expect(c.isDestroyed(chronicle: "C", story: "s") && c.chronicles["C"]?.destroyed == true)
        #expect(try ArchiveCatalog(json: c.json()) == c)
        // Stories without events are forgotten when destroyed, and so is a chronicle left empty
        // (a metadata benchmark's thousands of empty stories do not grow the catalog).
        c.createChronicle("Empty", attributes: [:], flags: 0)
        c.acquire(chronicle: "Empty", story: "e", attributes: [:], by: ClientID(8))
        c.release(chronicle: "Empty", story: "e", by: ClientID(8), count: 0)
        c.destroyStory(chronicle: "Empty", story: "e")
        #expect(c.chronicles["Empty"]?.stories.isEmpty == true && !c.isDestroyed(chronicle: "Empty", story: "e"))
        c.destroyChronicle("Empty")
        #expect(c.chronicles["Empty"] == nil)
    }

    @Test("damaged or foreign catalogs are refused with a reason")
    func damaged() {
        for bad in ["", "{", "[]", #"{"version": 2, "next_client_id": 1, "chronicles": {}}"#,
                    #"{"version": 1, "next_client_id": 0, "chronicles": {}}"#, #"{"version": 1, "chronicles": {}}"#] {
            #expect(throws: ArchiveCatalog.FormatError.self, "\(bad)") { _ = try ArchiveCatalog(json: Data(bad.utf8)) }
        }
    }
}

/// The archive is the catalog, in whole jobs (`job-checks catalog first|second`) and with `chronolog`.
@Suite("The archive is the catalog", .serialized)
struct CatalogTests {
    let checks = MPIJob.executable("job-checks")
    let chronolog = MPIJob.executable("chronolog")

    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    private func tool(_ args: [String], in dir: URL) throws -> JobResult {
        try MPIJob.runCommand([chronolog] + args, timeout: 60, workingDirectory: dir)
    }

    private func storyNames(_ ls: JobResult) throws -> [String] {
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [String: Any], "\(ls)")
        return (doc["chronicles"] as? [[String: Any]] ?? []).flatMap { $0["stories"] as? [[String: Any]] ?? [] }
            .map { "\($0["chronicle"]!)/\($0["name"]!)" }.sorted()
    }

    @Test("""
        a second job over the same directory knows the first job's chronicles, stories and attributes (-6, -9, \
        ShowChronicles, append); destroyed stories are hidden and start fresh; verify says complete, or partial and why
        """)
    func secondJob() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try MPIJob.run([(6, [checks, "catalog", "first", "--events", "40"])], timeout: 180, workingDirectory: dir)
        try #require(first.exitCode == 0 && first.lines(startingWith: "FAIL").isEmpty, "\(first)")
        #expect(first.lines(startingWith: "CHECK replay destroyed Gone/g → -3").count == 1, "\(first)")
        let ls = try tool(["ls", "--json"], in: dir)
        let listed = try storyNames(ls)
        #expect(ls.exitCode == 0 && listed == ["Cat/s"], "destroyed stories listed: \(ls)")
        let all = try tool(["ls", "--all"], in: dir)
        #expect(all.stdout.contains("story \"g\" (destroyed)") && all.stdout.contains("story \"t\" (destroyed)"), "\(all)")
        let gone = try tool(["replay", "chronolog-archive", "Gone", "g"], in: dir)
        #expect(gone.exitCode == 1 && gone.stdout.isEmpty, "a destroyed story replayed: \(gone)")

        let second = try MPIJob.run([(6, [checks, "catalog", "second", "--events", "40"])], timeout: 180, workingDirectory: dir)
        #expect(second.exitCode == 0 && second.lines(startingWith: "FAIL").isEmpty, "\(second)")
        #expect(second.lines(startingWith: "CHECK bob acquires in Cat (owner writes) → -9").count == 1, "\(second)")
        let cat = try tool(["replay", "chronolog-archive", "Cat", "s", "--format", "jsonl"], in: dir)
        let catLines = cat.stdout.split(separator: "\n")
        #expect(catLines.count == 80 && catLines.filter { $0.contains("first-") }.count == 40, "\(cat)")
        let fresh = try tool(["replay", "chronolog-archive", "Gone", "g"], in: dir)
        let freshLines = fresh.stdout.split(separator: "\n")
        #expect(fresh.exitCode == 0 && freshLines.count == 20 && freshLines.allSatisfy { $0.contains("new-") }, "\(fresh)")
        let verify = try tool(["verify"], in: dir)
        #expect(verify.exitCode == 0 && verify.stdout.contains("stories: complete 2, partial 0"), "\(verify)")
        #expect(verify.stdout.contains("story \"Cat\"/\"s\": complete"), "\(verify)")

        // The catalog says more events than the archive holds: the story is partial, and why.
        let catalogURL = dir.appendingPathComponent("chronolog-archive/\(ArchiveCatalog.fileName)")
        var catalog = try ArchiveCatalog(json: Data(contentsOf: catalogURL))
        #expect(catalog.chronicles["Cat"]?.attributes == ["owner": "alice", "access.write": "owner", "color": "blue"])
        let writers = try #require(catalog.chronicles["Cat"]?.stories["s"]?.writers)
        #expect(writers.count == 2 && writers.allSatisfy { $0.count == 40 }, "\(writers)")
        catalog.release(chronicle: "Cat", story: "s", by: ClientID(writers[1].client), count: 45)
        catalog.acquire(chronicle: "Gone", story: "g", attributes: [:], by: ClientID(999))
        try catalog.json().write(to: catalogURL)
        let partial = try tool(["verify"], in: dir)
        #expect(partial.exitCode == 1, "\(partial)")
        #expect(partial.stdout.contains("client \(writers[1].client) tail missing: archived 40 of 45 events"), "\(partial)")
        #expect(partial.stdout.contains("client 999 never released the story: its tail is unknown"), "\(partial)")
        #expect(partial.stdout.contains("stories: complete 0, partial 2"), "\(partial)")
        // A whole-story replay says so too, on standard error.
        let short = try tool(["replay", "chronolog-archive", "Cat", "s", "--format", "jsonl"], in: dir)
        #expect(short.exitCode == 0 && short.stdout.split(separator: "\n").count == 80, "\(short)")
        #expect(short.stderr.contains("\"Cat\"/\"s\": partial") && short.stderr.contains("client \(writers[1].client) tail missing: archived 40 of 45 events"),
                "\(short)")
        let unknown = try tool(["replay", "chronolog-archive", "Gone", "g"], in: dir)
        #expect(unknown.exitCode == 0 && unknown.stderr.contains("client 999 never released the story: its tail is unknown"), "\(unknown)")
        // A range says so when it reaches past the writer's last archived event, not when it ends before.
        let range = try tool(["replay", "chronolog-archive", "Cat", "s", "--from", "1"], in: dir)
        #expect(range.exitCode == 0 && range.stderr.contains("client \(writers[1].client) tail missing: indexes 40..<45 of its 45 events never archived"),
                "\(range)")
        let early = try tool(["replay", "chronolog-archive", "Cat", "s", "--to", "1"], in: dir)
        #expect(early.exitCode == 0 && early.stdout.isEmpty && !early.stderr.contains("partial"), "\(early)")

        // A damaged catalog: chronolog names it rather than showing destroyed stories.
        try Data("{ not json".utf8).write(to: catalogURL)
        let damaged = try tool(["ls"], in: dir)
        #expect(damaged.exitCode == 1 && damaged.stderr.contains(ArchiveCatalog.fileName), "\(damaged)")
        // A directory where the catalog belongs: said so (it was Foundation's "error 256").
        try FileManager.default.removeItem(at: catalogURL)
        try FileManager.default.createDirectory(at: catalogURL, withIntermediateDirectories: false)
        let directory = try tool(["ls"], in: dir)
        #expect(directory.exitCode == 1 && directory.stderr.contains("is a directory, not the catalog file"), "\(directory)")
    }

    @Test("a damaged catalog stops the job at start-up with exit 2 and a message naming it; chronolog names it too")
    func damagedCatalog() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = dir.appendingPathComponent("chronolog-archive")
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        let file = archive.appendingPathComponent(ArchiveCatalog.fileName)
        try Data(#"{"version": 1, "next_client_id": 5, "chronicles": {"C": {"attributes": {}, "fl"#.utf8).write(to: file)
        let job = try MPIJob.run([(6, [MPIJob.executable("chronolog-job"), "--events", "10"])], timeout: 120, workingDirectory: dir)
        #expect(job.exitCode == 2, "\(job)")
        #expect(job.stderr.contains("archive catalog chronolog-archive/\(ArchiveCatalog.fileName)"), "\(job)")
        #expect(try Data(contentsOf: file).count < 100, "the damaged catalog was replaced")
    }
}
