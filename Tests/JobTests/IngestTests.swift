import ChronoModel
import Testing
import TestSupport

/// Client event ingest: `job-checks ingest unit` (the client buffer against an in-process keeper,
/// no MPI) and whole jobs in which clients log, flush, release and disconnect while the keeper
/// counts what it received.
@Suite("Client event ingest", .serialized)
struct IngestTests {
    let checks = MPIJob.executable("job-checks")

    @Test("batching by count and bytes, linger, idle watermarks, rejection, window, threads, close, stall, ack routing, flusher")
    func unitScenarios() throws {
        let r = try MPIJob.runCommand([checks, "ingest", "unit"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "CHECKS passed=").first.map { !$0.hasPrefix("CHECKS passed=0") } == true, "\(r)")
    }

    @Test("every event two clients log (threads, stories, sizes up to the maximum) reaches the keeper exactly once")
    func flow() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "ingest", "flow"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "CHECKS passed=").count == 2, "\(r)")
        let client = r.counters(role: "client"), keeper = r.counters(role: "keeper")
        // 2 clients × (2 threads × 2000 events × 3 stories + 2 text events + 2 "last words"
        // + 1 after re-acquire + 1 flushed by disconnect).
        #expect(client[.eventsLogged] == 2 * (2 * 2000 * 3 + 6), "\(r)")
        #expect(keeper[.eventsReceived] == client[.eventsLogged], "\(r)")
        #expect(keeper[.bytesReceived] == client[.bytesLogged], "\(r)")
        #expect(keeper[.batchesReceived] == client[.batchesSent], "\(r)")
        #expect(client[.eventsRejected] == 4, "\(r)")
        #expect(client[.eventsAcked] == client[.eventsLogged], "\(r)")
        // Storage goes back to the pools as the only copy (else it cannot be reused, issue 17):
        // the keeper's grown ranges and shipped chunks, the grapher's pieces and written rounds.
        let grapher = r.counters(role: "grapher")
        #expect(keeper[.storageShared] == 0 && grapher[.storageShared] == 0, "\(r)")
        #expect(keeper[.storageReused, default: 0] > 0 && grapher[.storageReused, default: 0] > 0, "\(r)")
    }

    @Test("a small batch, a long linger and many keepers: flush and release still ship everything")
    func twoKeepersSmallBatches() throws {
        let r = try MPIJob.run(ranks: 7, [checks, "ingest", "flow", "--events", "300", "--threads", "3",
                                          "--set", "deployment.keepersPerNode=2", "--set", "client.batchEvents=7",
                                          "--set", "client.lingerMicroseconds=500000", "--set", "client.maxPendingBatches=1"],
                               timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        let client = r.counters(role: "client"), keeper = r.counters(role: "keeper")
        #expect(client[.eventsLogged] == 2 * (3 * 300 * 3 + 6), "\(r)")
        #expect(keeper[.eventsReceived] == client[.eventsLogged], "\(r)")
    }

    @Test("stories released and acquired again while the grapher sleeps in its rounds (keepers' reports overtake the visor's notices): every event archived once")
    func restartOvertakesFinished() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "ingest", "restart", "--set", "grapher.archiveIntervalMs=1",
                                          "--archive-delay-ms", "150"],
                               timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        let client = r.counters(role: "client"), keeper = r.counters(role: "keeper"), grapher = r.counters(role: "grapher")
        #expect(client[.eventsLogged] == 2 * 4 * 50, "\(r)")
        #expect(grapher[.eventsArchived] == client[.eventsLogged], "\(r)")
        #expect((keeper[.eventsFailed] ?? 0) == 0 && (grapher[.chunksUnknownStory] ?? 0) == 0, "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
    }

    @Test("a slow keeper (acks delayed) slows its writers to its pace; nothing is lost")
    func backPressure() throws {
        let r = try MPIJob.run(ranks: 6, [checks, "ingest", "back-pressure", "--ack-delay-microseconds", "2000",
                                          "--set", "client.maxPendingBatches=2", "--set", "client.batchEvents=64"],
                               timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        #expect(r.lines(startingWith: "PACE ").count == 2, "\(r)")
        let client = r.counters(role: "client"), keeper = r.counters(role: "keeper")
        #expect(client[.eventsLogged] == 2 * 40 * 64, "\(r)")
        #expect(keeper[.eventsReceived] == client[.eventsLogged], "\(r)")
        #expect((client[.ingestWindowWaits] ?? 0) > 0, "\(r)")
    }
}
