import ChronoModel
import Testing

/// "Last N" from the keepers' answers: what they hold with certainty, and when that is the answer.
@Suite("Keepers' last-N answers")
struct KeeperLastAnswersTests {
    let story = StoryID(rawValue: 7)

    func piece(_ times: [UInt64], client: UInt64, last: Bool = true, completeBefore: UInt64, coveredFrom: UInt64,
               recording: Bool = true) throws -> ReplayPiece {
        let events = times.enumerated().map { Event(time: $1, clientId: ClientID(client), index: UInt32($0), record: [UInt8($0)]) }
        let chunk = try StoryChunk(storyId: story, range: TimeRange(start: 0, end: 1_000), events: events)
        return ReplayPiece(queryId: 1, rc: .success, pieceNumber: 0, isLast: last, chunk: chunk, completeBefore: completeBefore,
                           recording: recording, coveredFrom: coveredFrom)
    }

    func request(_ n: UInt32) -> ReplayRequest {
        ReplayRequest(queryId: 1, clientId: ClientID(1), chronicle: "c", story: "s", range: TimeRange(start: 0, end: .max),
                      timeoutMilliseconds: 1_000, lastCount: n)
    }

    @Test("two keepers: the answer is the last N complete events from the latest covered time on, else nil")
    func twoKeepers() throws {
        var answers = KeeperLastAnswers()
        answers.add(try piece([100, 200, 300, 400], client: 1, completeBefore: 350, coveredFrom: 100))
        answers.add(try piece([150, 250, 320], client: 2, completeBefore: 500, coveredFrom: 150))
        // Complete before 350 (the earlier keeper's), covered from 150 (the later cover).
        #expect(answers.completeBefore == 350 && answers.coveredFrom == 150 && answers.recording)
        #expect(try answers.answer(for: request(3))?.records.map(\.time) == [250, 300, 320])
        // [150, 350) holds 5 events: the 6th may be archived only.
        #expect(try answers.answer(for: request(5))?.records.map(\.time) == [150, 200, 250, 300, 320])
        #expect(try answers.answer(for: request(6)) == nil)
    }

    @Test("a story no longer recorded counts every held event; a keeper that cannot say covers nothing")
    func notRecorded() throws {
        var stopped = KeeperLastAnswers()
        stopped.add(try piece([100, 200, 300], client: 1, completeBefore: 150, coveredFrom: 100, recording: false))
        #expect(try stopped.answer(for: request(3))?.count == 3)
        var unknown = KeeperLastAnswers()
        unknown.add(try piece([100, 200], client: 1, completeBefore: 500, coveredFrom: .max))
        #expect(try unknown.answer(for: request(1)) == nil)
    }
}
