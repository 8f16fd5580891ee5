import Testing
@testable import ChronoModel

@Suite struct DurabilityLedgerTests {
    let story = StoryID(rawValue: 5)

    func request(_ client: UInt64, _ sequence: UInt64) -> DurableRequest {
        DurableRequest(storyId: story, clientId: ClientID(rawValue: client), sequence: sequence)
    }

    @Test func aFlushWaitsUntilEveryAcceptedEventOfItsClientIsDurable() {
        var ledger = DurabilityLedger()
        ledger.received(10, story: story, client: 1)
        ledger.received(4, story: story, client: 2)
        #expect(ledger.request(request(1, 7), from: 3) == nil)
        // Another client's events settle nothing for client 1.
        #expect(ledger.settled([(2, 4)], story: story, durable: true).isEmpty)
        #expect(ledger.settled([(1, 6)], story: story, durable: true).isEmpty)
        let answers = ledger.settled([(1, 4), (2, 0)], story: story, durable: true)
        #expect(answers.count == 1 && answers[0].rank == 3)
        #expect(answers[0].reply == DurableReply(storyId: story, clientId: ClientID(rawValue: 1), sequence: 7,
                                                 durableEvents: 10, failedEvents: 0, rc: .success))
        #expect(ledger.pendingRequests == 0)
        // Events accepted after a request do not hold it back; a settled client is answered at once.
        #expect(ledger.request(request(2, 8), from: 4)?.durableEvents == 4)
    }

    @Test func aFailedPieceFailsTheFlushAndAKeeperThatEndsAnswersEveryWait() {
        var ledger = DurabilityLedger()
        ledger.received(3, story: story, client: 1)
        #expect(ledger.request(request(1, 1), from: 2) == nil)
        let failed = ledger.settled([(1, 3)], story: story, durable: false)
        #expect(failed.first?.reply.rc == .unknown && failed.first?.reply.failedEvents == 3)
        ledger.received(2, story: story, client: 9)
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
