import ChronoModel
import ChronoRoles
import Foundation
import Testing
import TestSupport

/// Chronicle access rules, without MPI.
@Suite("Chronicle access")
struct ChronicleAccessTests {
    @Test("owner, access.write and access.read: defaults all, owner-only refuses others with -9, bad values -2")
    func rules() throws {
        let open = try ChronicleAccess(attributes: [:])
        #expect(open.allows(.write, user: "anyone") && open.allows(.read, user: "anyone"))
        let notes = try ChronicleAccess(attributes: ["owner": "alice", "access.write": "owner"])
        #expect(notes.allows(.write, user: "alice") && !notes.allows(.write, user: "bob") && notes.allows(.read, user: "bob"))
        #expect(throws: ChronoLogError.self) { try notes.authorize(.write, user: "bob", chronicle: "Notes") }
        do {
            try notes.authorize(.write, user: "bob", chronicle: "Notes")
        } catch {
            #expect(error.returnCode == .notAuthorized && error.description.contains("bob"), "\(error)")
        }
        for bad: [String: String] in [["access.write": "everyone"], ["access.read": "Owner"], ["owner": ""]] {
            #expect(throws: ChronoLogError.self) { _ = try ChronicleAccess(attributes: bad) }
        }
    }

    @Test("the creator owns a chronicle unless it names an owner; a missing chronicle is not checked")
    func directory() throws {
        var d = ChronicleDirectory()
        try d.createChronicle("mine", attributes: ["access.read": "owner"], flags: 0, creator: "bob")
        try d.createChronicle("theirs", attributes: ["owner": "alice", "access.write": "owner"], flags: 0, creator: "bob")
        #expect(d.chronicles.values.first { $0.name.value == "mine" }?.attributes["owner"] == "bob")
        try d.authorize(.read, chronicle: "mine", user: "bob")
        #expect(throws: ChronoLogError.self) { try d.authorize(.read, chronicle: "mine", user: "alice") }
        #expect(throws: ChronoLogError.self) { try d.authorize(.write, chronicle: "theirs", user: "bob") }
        try d.authorize(.write, chronicle: "mine", user: "alice")
        try d.authorize(.write, chronicle: "missing", user: "anyone")
        #expect(throws: ChronoLogError.self) {
            try d.createChronicle("bad", attributes: ["access.write": "nobody"], flags: 0, creator: "bob")
        }
        #expect(d.chronicles.count == 2)
    }

    @Test("a client connects under a name of 1 to 256 bytes without NUL")
    func clientNames() throws {
        var c = ClientRegistry()
        let a = try c.connect(ConnectRequest(hostName: "h", pid: 1, rank: 4, user: "alice", mode: .writer), fromRank: 4)
        #expect(c.user(of: a) == "alice")
        for bad in ["", "a\0b", String(repeating: "x", count: 257)] {
            #expect(throws: ChronoLogError.self) {
                _ = try c.connect(ConnectRequest(hostName: "h", pid: 1, rank: 4, user: bad, mode: .writer), fromRank: 4)
            }
        }
    }
}

/// Writers are who they say, in running jobs (`job-checks auth …`).
@Suite("Forged batches and chronicle access in a running job", .serialized)
struct AuthorizationTests {
    let checks = MPIJob.executable("job-checks")

    @Test("""
        batches in another client's name or for a story not held are refused with -9, counted, and never archived; \
        forged watermarks, visor orders and grapher traffic are refused
        """)
    func forgedBatches() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run([(6, [checks, "auth", "forgery", "--events", "50", "--forged", "20"])], timeout: 180,
                               workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "CHECK forged batch → -9").count == 1, "\(r)")
        #expect(r.lines(startingWith: "CHECK unheld batch → -9").count == 1, "\(r)")
        let keeper = r.counters(role: "keeper")
        #expect(keeper[.eventsRefusedForged] == 20 && keeper[.eventsRefusedUnauthorized] == 20, "\(keeper)")
        #expect((keeper[.batchesForged] ?? 0) >= 1 && (keeper[.batchesUnauthorized] ?? 0) >= 2, "\(keeper)")
        #expect(keeper[.watermarksRefused] == 3 && keeper[.ordersRefused] == 1 && keeper[.replaysRefused] == 1, "\(keeper)")
        #expect(keeper[.eventsReceived] == 51, "\(keeper)")
        #expect(r.counters(role: "grapher")[.bulkRefused] == 1, "\(r)")
        // The forger's events were logged by no client (its one event in Auth/common was, while it
        // held that story): the summary shows them refused, nothing lost.
        #expect(r.stdout.contains("logged=51 received=51 archived=51 ") && r.stdout.contains(" refused=40 lost=0"), "\(r)")
        #expect(r.stdout.contains(" late=0 "), "a forged watermark moved the victim's: \(r)")
        // The archive holds the victim's 50 events and nothing forged.
        let victim = r.lines(startingWith: "VICTIM ").first.flatMap { UInt64($0.dropFirst("VICTIM ".count)) }
        let replay = try MPIJob.runCommand([MPIJob.executable("chronolog"), "replay", "chronolog-archive", "Auth", "victim",
                                            "--format", "jsonl"], timeout: 60, workingDirectory: dir)
        #expect(replay.exitCode == 0, "\(replay)")
        let rows = replay.stdout.split(separator: "\n")
        #expect(rows.count == 50, "\(replay)")
        #expect(rows.allSatisfy { $0.contains("\"honest-") && $0.contains("\"client_id\":\(victim ?? 0),") }, "\(replay)")
        let verify = try MPIJob.runCommand([MPIJob.executable("chronolog"), "verify"], timeout: 60, workingDirectory: dir)
        #expect(verify.exitCode == 0, "\(verify)")
    }

    @Test("owner-only writing, reading and destroying are refused with -9 through the Swift API and counted by the visor")
    func chronicleAccess() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "auth", "access"], timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "CHECKS passed=").count == 2, "\(r)")
        let visor = r.counters(role: "visor")
        #expect(visor[.unauthorizedAcquire] == 3 && visor[.unauthorizedReplay] == 2 && visor[.unauthorizedDestroy] == 3,
                "\(visor)")
    }
}
