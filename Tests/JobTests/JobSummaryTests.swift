import ChronoDeployment
import ChronoModel
import ChronoRuntime
import Foundation
import Testing

/// The end-of-job summary made from typed counters, without MPI: what every rank sends (as data),
/// how the visor combines it, and the text and JSON users read (unchanged in format).
@Suite struct JobSummaryTests {
    static let ranks: [RankCounters] = [
        RankCounters(role: .visor, counters: [.clientsConnects: 2]),
        RankCounters(role: .keeper, counters: [.eventsReceived: 6, .memoryPeakBytes: 900, .eventsLate: 1]),
        RankCounters(role: .keeper, counters: [.eventsReceived: 4, .memoryPeakBytes: 300, .eventsRefusedForged: 2]),
        RankCounters(role: .grapher, counters: [.eventsArchived: 7]),
        RankCounters(role: .client, counters: [.eventsLogged: 6, .eventsRejected: 1]),
        RankCounters(role: .client, counters: [.eventsLogged: 4, .eventsRefusedUnauthorized: 1]),
    ]

    @Test("a rank's counters travel as data: every counter and its aggregation survive the trip")
    func contributionRoundTrip() throws {
        let own = RankCounters(role: .client, counters: [.eventsLogged: 3, Counter("app.peak.max", .max): 8, Counter("app.things"): 1])
        let bytes = try JSONEncoder().encode(own)
        #expect(try JSONDecoder().decode(RankCounters.self, from: bytes) == own)
    }

    @Test("sums add over ranks, maxima keep the largest; lost is logged minus archived, rejected and refused-as-unauthorized")
    func combinedPerRole() {
        let s = JobSummary(Self.ranks)
        #expect(s.ranks[.keeper] == 2 && s.ranks[.client] == 2 && s.ranks[.player] == nil)
        #expect(s.byRole[.keeper] == [.eventsReceived: 10, .memoryPeakBytes: 900, .eventsLate: 1, .eventsRefusedForged: 2])
        #expect(s.eventTotals == EventTotals(logged: 10, received: 10, archived: 7, late: 1, rejected: 1, refused: 2, lost: 1))
        #expect(s.lostEvents == 1)
    }

    @Test("the printed summary keeps its format")
    func rendered() {
        #expect(JobSummary(Self.ranks).rendered(exitStatus: 1) == """
            chronolog-job summary:
              events: logged=10 received=10 archived=7 late=1 rejected=1 refused=2 lost=1
              visor (1 rank): clients.connects=2
              keeper (2 ranks): events.late=1 events.received=10 events.refused.forged=2 memory.peak.bytes.max=900
              grapher (1 rank): events.archived=7
              client (2 ranks): events.logged=10 events.refused.unauthorized=1 events.rejected=1
              exit status: 1
            """)
    }

    @Test("--summary-json keeps its document: counters by name per role")
    func json() throws {
        let data = try JobSummary(Self.ranks).json(exitStatus: 0)
        let document = try JSONDecoder().decode(JobSummaryDocument.self, from: data)
        #expect(document.roles["keeper"] == .init(ranks: 2, counters: ["events.late": 1, "events.received": 10,
                                                                        "events.refused.forged": 2, "memory.peak.bytes.max": 900]))
        #expect(document.events.lost == 1 && document.exitStatus == 0 && document.signal == nil)
    }
}
