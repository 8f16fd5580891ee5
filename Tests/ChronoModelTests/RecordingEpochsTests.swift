import Testing
@testable import ChronoModel

/// The grapher's view of one keeper across restarts of a story, whatever order the visor's start
/// notices and the keeper's "finished" reports arrive in.
@Suite struct RecordingEpochsTests {
    let story = StoryID(rawValue: 11)
    let keeper: UInt64 = 3

    enum Message: Equatable {
        case start(UInt64)       // from the visor
        case finished(UInt64)    // from the keeper
    }

    /// Every merge of two ordered sequences (each keeps its own order, as one sender's messages do).
    func interleavings(_ a: [Message], _ b: [Message]) -> [[Message]] {
        if a.isEmpty { return [b] }
        if b.isEmpty { return [a] }
        return interleavings(Array(a.dropFirst()), b).map { [a[0]] + $0 } + interleavings(a, Array(b.dropFirst())).map { [b[0]] + $0 }
    }

    /// The grapher's bookkeeping for the story, as GrapherRole does it: the current recording and
    /// whether the keeper is a registered contributor.
    func replay(_ messages: [Message]) -> (registered: Bool, current: UInt64?) {
        var epochs = RecordingEpochs()
        var current: UInt64?
        var registered = false
        for m in messages {
            switch m {
            case .start(let t):
                current = t
                if epochs.registers(keeper: keeper, story: story, ticket: t) { registered = true }
            case .finished(let t):
                if epochs.finished(keeper: keeper, story: story, recording: t, current: current) == .current { registered = false }
            }
        }
        return (registered, current)
    }

    @Test("a late 'finished' of recording 1 never unregisters the keeper from recording 2, in any order")
    func restartOvertakesFinished() {
        // Recording 2 is still going on at the keeper: it must stay registered.
        for order in interleavings([.start(1), .start(2)], [.finished(1)]) {
            let r = replay(order)
            #expect(r.registered && r.current == 2, "\(order)")
        }
    }

    @Test("both recordings finished: the keeper ends unregistered, in any order")
    func bothFinished() {
        for order in interleavings([.start(1), .start(2)], [.finished(1), .finished(2)]) {
            // The keeper reports recording 2 finished only after it saw start 2, and the grapher
            // answers the acquire behind start 2 only after handling it; only the report of the
            // empty recording can come first.
            let r = replay(order)
            #expect(!r.registered, "\(order)")
        }
    }

    @Test("three restarts, the keeper finishing the first two: registered for the third")
    func threeRecordings() {
        for order in interleavings([.start(5), .start(9), .start(12)], [.finished(5), .finished(9)]) {
            let r = replay(order)
            #expect(r.registered && r.current == 12, "\(order)")
        }
    }

    @Test("verdicts: current, stale, ahead; ticket 0 (no recordings) always applies to a recorded story")
    func verdicts() {
        var e = RecordingEpochs()
        let current = e.finished(keeper: keeper, story: story, recording: 4, current: 4)
        let stale = e.finished(keeper: keeper, story: story, recording: 3, current: 4)
        let ahead = e.finished(keeper: keeper, story: story, recording: 7, current: 4)
        #expect(current == .current && stale == .stale && ahead == .ahead)
        #expect(e.aheadCount == 1)
        let startOfReported = e.registers(keeper: keeper, story: story, ticket: 7)
        #expect(!startOfReported && e.aheadCount == 0)
        let next = e.registers(keeper: keeper, story: story, ticket: 8)
        let unticketed = e.finished(keeper: keeper, story: story, recording: 0, current: 8)
        let unticketedStart = e.registers(keeper: keeper, story: story, ticket: 0)
        #expect(next && unticketed == .current && unticketedStart)
        // Another keeper's report ahead does not excuse this one.
        let otherAhead = e.finished(keeper: keeper + 1, story: story, recording: 9, current: nil)
        let mine = e.registers(keeper: keeper, story: story, ticket: 9)
        let other = e.registers(keeper: keeper + 1, story: story, ticket: 9)
        #expect(otherAhead == .ahead && mine && !other)
    }

}
