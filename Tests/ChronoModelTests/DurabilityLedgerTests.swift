import Testing
@testable import ChronoModel

@Suite struct DurabilityLedgerTests {
    let story = StoryID(rawValue: 5)

    func request(_ client: UInt64, _ sequence: UInt64) -> DurableRequest {
        DurableRequest(storyId: story, clientId: ClientID(rawValue: client), sequence: sequence)
    }

    /// Records of `client` with indices `indices`.
    func records(_ client: UInt64, _ indices: Range<UInt32>) -> [EventRecord] {
        indices.map { EventRecord(time: UInt64($0), clientId: client, index: $0, length: 0, offset: 0) }
    }

    /// Settles a piece holding `pieces` (records of one or more clients).
    func settle(_ ledger: inout DurabilityLedger, _ pieces: [EventRecord], durable: Bool = true) -> [DurabilityLedger.Answer] {
        ledger.settled(DurabilityLedger.eventsByClient(pieces[...]), records: pieces[...], story: story, durable: durable)
    }

    @Test func aFlushWaitsUntilEveryAcceptedEventOfItsClientIsDurable() {
        var ledger = DurabilityLedger()
        ledger.received(10, story: story, client: 1, nextIndex: 10)
        ledger.received(4, story: story, client: 2, nextIndex: 4)
        #expect(ledger.request(request(1, 7), from: 3) == nil)
        // Another client's events settle nothing for client 1.
        #expect(settle(&ledger, records(2, 0..<4)).isEmpty)
        #expect(settle(&ledger, records(1, 0..<6)).isEmpty)
        let answers = settle(&ledger, records(1, 6..<10))
        #expect(answers.count == 1 && answers[0].rank == 3)
        #expect(answers[0].reply == DurableReply(storyId: story, clientId: ClientID(rawValue: 1), sequence: 7,
                                                 durableEvents: 10, failedEvents: 0, rc: .success))
        #expect(ledger.pendingRequests == 0)
        // Events accepted after a request do not hold it back; a settled client is answered at once.
        #expect(ledger.request(request(2, 8), from: 4)?.durableEvents == 4)
    }

    @Test func laterEventsDurableFirstDoNotAnswerAFlushWhoseEarlierEventsAreStillOnTheirWay() {
        // A writer whose clock lags: its events 0..<5 were late and travel in a revision of their
        // range, archived after the range holding its later events 5..<10 (found by the simulator).
        var ledger = DurabilityLedger()
        ledger.received(10, story: story, client: 1, nextIndex: 10)
        #expect(ledger.request(request(1, 1), from: 3) == nil)
        // Accepted after the flush: as many events as it waits for, but none of them its own.
        ledger.received(10, story: story, client: 1, nextIndex: 20)
        #expect(settle(&ledger, records(1, 10..<20)).isEmpty, "answered with 10 events settled, none of them before the flush")
        #expect(settle(&ledger, records(1, 5..<10)).isEmpty)
        let answers = settle(&ledger, records(1, 0..<5) + records(2, 0..<3))
        #expect(answers.count == 1 && answers[0].reply.rc == .success)
        #expect(ledger.pendingRequests == 0)
    }

    @Test func aFailedPieceFailsTheFlushAndAKeeperThatEndsAnswersEveryWait() {
        var ledger = DurabilityLedger()
        ledger.received(3, story: story, client: 1, nextIndex: 3)
        #expect(ledger.request(request(1, 1), from: 2) == nil)
        let failed = settle(&ledger, records(1, 0..<3), durable: false)
        #expect(failed.first?.reply.rc == .unknown && failed.first?.reply.failedEvents == 3)
        ledger.received(2, story: story, client: 9, nextIndex: 2)
        #expect(ledger.request(request(9, 2), from: 6) == nil)
        let closed = ledger.closeAll()
        #expect(closed.count == 1 && closed[0].reply.rc == .unknown && closed[0].rank == 6)
        #expect(ledger.pendingRequests == 0)
    }

    @Test func eventsAreCountedPerClientWithFewOrManyWriters() {
        for writers in [1, 3, 16, 17, 40] {
            var records: [EventRecord] = []
            var expected: [UInt64: UInt64] = [:]
            var rng = SplitMix(seed: UInt64(writers))
            for i in 0..<2000 {
                let client = UInt64.random(in: 0..<UInt64(writers), using: &rng) &* 1_000_003
                records.append(EventRecord(time: UInt64(i), clientId: client, index: 0, length: 0, offset: 0))
                expected[client, default: 0] += 1
            }
            let counted = DurabilityLedger.eventsByClient(records[...])
            #expect(Dictionary(uniqueKeysWithValues: counted.map { ($0.client, $0.events) }) == expected)
            #expect(counted.count == expected.count)
        }
    }
}
