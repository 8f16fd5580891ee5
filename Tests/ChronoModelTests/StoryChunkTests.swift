import PropertyBased
import Testing
@testable import ChronoModel

@Suite struct StoryChunkTests {
    let story = StoryID(rawValue: 42)
    let range = TimeRange(start: 0, end: 100)

    @Test func initSortsDeduplicatesAndLaysOutPayloadInOrder() throws {
        let e1 = Event(time: 5, clientId: ClientID(2), index: 0, text: "b")
        let e2 = Event(time: 5, clientId: ClientID(1), index: 0, text: "aa")
        let e3 = Event(time: 1, clientId: ClientID(9), index: 3, text: "")
        let chunk = try StoryChunk(storyId: story, range: range, events: [e1, e2, e3, e1])
        #expect(chunk.events == [e3, e2, e1])
        #expect(chunk.payload == Array("aab".utf8))
        #expect(chunk.records.map(\.offset) == [0, 0, 2])
        #expect(chunk.recordBytes(at: 1) == ArraySlice("aa".utf8))
        #expect(chunk.event(at: 0).record.isEmpty)  // empty records are stored like any other
    }

    @Test func eventsOutsideTheRangeAreRefused() {
        #expect(throws: ChronoLogError.self) {
            _ = try StoryChunk(storyId: story, range: range, events: [Event(time: 100, clientId: ClientID(1), index: 0, record: [])])
        }
        #expect(throws: ChronoLogError.self) {
            _ = try StoryChunk(storyId: story, range: TimeRange(start: 5, end: 5), events: [])
        }
    }

    @Test func validatingInitRejectsNonCanonicalTables() throws {
        let good = try StoryChunk(storyId: story, range: range, events: [
            Event(time: 1, clientId: ClientID(1), index: 0, text: "ab"), Event(time: 2, clientId: ClientID(1), index: 1, text: "c"),
        ])
        #expect(try StoryChunk(validatingStoryId: story, range: range, revision: 0, records: good.records, payload: good.payload) == good)
        var swapped = good.records
        swapped.swapAt(0, 1)
        var badOffset = good.records
        badOffset[1].offset = 1
        var outside = good.records
        outside[1].time = 100
        let cases: [([EventRecord], [UInt8])] = [
            (swapped, good.payload), (badOffset, good.payload), (outside, good.payload),
            (good.records, good.payload + [0]), ([good.records[0], good.records[0]], [1, 2, 1, 2]),
        ]
        for (records, payload) in cases {
            #expect(throws: ChronoLogError.self) {
                _ = try StoryChunk(validatingStoryId: story, range: range, revision: 0, records: records, payload: payload)
            }
        }
    }

    @Test func positionsAndSlices() throws {
        let events = (0..<50).map { Event(time: UInt64($0 * 2), clientId: ClientID(1), index: UInt32($0), text: "e\($0)") }
        let chunk = try StoryChunk(storyId: story, range: range, events: events)
        #expect(chunk.positions(in: TimeRange(start: 10, end: 20)) == 5..<10)
        #expect(chunk.positions(in: TimeRange(start: 11, end: 11)).isEmpty)
        let slice = chunk.slice(TimeRange(start: 10, end: 20))
        #expect(slice.range == TimeRange(start: 10, end: 20))
        #expect(slice.events == Array(events[5..<10]))
        #expect(try StoryChunk(validatingStoryId: story, range: slice.range, revision: 0, records: slice.records, payload: slice.payload) == slice)
        #expect(chunk.slice(TimeRange(start: 200, end: 300)).isEmpty)
    }

    @Test func lastEventsAreACanonicalChunkOfTheTail() throws {
        let events = (0..<50).map { Event(time: UInt64($0 * 2), clientId: ClientID(1), index: UInt32($0), text: "e\($0)") }
        let chunk = try StoryChunk(storyId: story, range: range, events: events)
        let last = chunk.last(7)
        #expect(last.events == Array(events[43...]))
        #expect(last.range == TimeRange(start: 86, end: range.end))
        #expect(try StoryChunk(validatingStoryId: story, range: last.range, revision: 0, records: last.records, payload: last.payload) == last)
        #expect(chunk.last(50) == chunk && chunk.last(500) == chunk)
        #expect(chunk.last(0).isEmpty && chunk.last(-1).isEmpty)
    }

    @Test func piecesFitTheLimitAndMergeBackToTheChunk() async throws {
        await propertyCheck(count: 300, input: Gens.chunk) { chunk in
            let limit = StoryChunk.headerByteCount + 3 * (EventRecord.byteSize + 40)
            let pieces = chunk.pieces(maxEncodedBytes: limit)
            #expect(pieces.allSatisfy { $0.encodedByteCount <= limit || $0.count == 1 })
            #expect(pieces.allSatisfy { $0.range == chunk.range && $0.revision == chunk.revision })
            #expect(pieces.reduce(0) { $0 + $1.count } == chunk.count)
            var rebuilt = StoryChunk.empty(storyId: chunk.storyId, range: chunk.range, revision: chunk.revision)
            for p in pieces {
                #expect(try StoryChunk.decode(p.encode()) == p)
                rebuilt = try rebuilt.merged(with: p)
            }
            #expect(rebuilt == chunk)
        }
    }

    @Test func piecesEncodedInPlaceEqualTheBuiltPieces() async throws {
        await propertyCheck(count: 300, input: Gens.chunk) { chunk in
            let limit = StoryChunk.headerByteCount + 3 * (EventRecord.byteSize + 40)
            var built = chunk.pieces(maxEncodedBytes: limit)
            if chunk.isEmpty { built = [chunk] }
            var buffer = [UInt8](repeating: 0xEE, count: max(limit, chunk.encodedByteCount) + 16)
            var first = 0
            var k = 0
            repeat {
                let end = chunk.encodedByteCount <= limit ? chunk.count : chunk.pieceEnd(from: first, maxEncodedBytes: limit)
                for i in buffer.indices { buffer[i] = 0xEE }
                let n = try buffer.withUnsafeMutableBytes { raw in try chunk.encode(first..<end, into: raw) }
                #expect(n == chunk.encodedByteCount(of: first..<end))
                #expect(Array(buffer[0..<n]) == built[k].encode())
                #expect(buffer[n] == 0xEE)  // nothing written past the encoding
                first = end
                k += 1
            } while first < chunk.count
            #expect(k == built.count)
            let whole = try buffer.withUnsafeMutableBytes { raw in try chunk.encode(into: raw) }
            #expect(Array(buffer[0..<whole]) == chunk.encode())
        }
    }

    /// A grapher reads a piece as it lies in the keeper's sealed chunk: the header it writes
    /// itself, the piece's slice of the record table (offsets counting from the chunk's payload)
    /// and of the payload, side by side; rebasing the offsets then gives exactly the piece's encoding.
    @Test func pieceReadFromTheChunksRecordTableAndPayloadEqualsItsEncoding() async throws {
        await propertyCheck(count: 300, input: Gens.chunk) { chunk in
            guard chunk.count >= 2 else { return }
            let table = StoryChunk.wireRecordTable(chunk.records)
            #expect(table.count == chunk.count * EventRecord.byteSize)
            for positions in [0..<chunk.count, 1..<chunk.count, (chunk.count / 2)..<chunk.count, 1..<(chunk.count / 2 + 1)] {
                let first = chunk.records[positions.lowerBound], last = chunk.records[positions.upperBound - 1]
                let base = Int(first.offset), payloadBytes = Int(last.offset) + Int(last.length) - base
                var bytes = [UInt8](repeating: 0, count: StoryChunk.headerByteCount)
                bytes.withUnsafeMutableBytes { raw in
                    StoryChunk.storeHeader(into: raw, storyId: chunk.storyId, range: chunk.range, revision: chunk.revision,
                                           eventCount: positions.count, payloadBytes: payloadBytes)
                }
                bytes += table[(positions.lowerBound * EventRecord.byteSize)..<(positions.upperBound * EventRecord.byteSize)]
                bytes += chunk.payload[base..<(base + payloadBytes)]
                bytes.withUnsafeMutableBytes { raw in StoryChunk.rebaseRecordOffsets(in: raw, count: positions.count, by: UInt64(base)) }
                var expected = [UInt8](repeating: 0, count: chunk.encodedByteCount(of: positions))
                _ = try expected.withUnsafeMutableBytes { raw in try chunk.encode(positions, into: raw) }
                #expect(bytes == expected)
                if base > 0 {
                    // Rebased by more than the piece's first offset: the offsets wrap and the decoder refuses the piece.
                    var wrong = bytes
                    wrong.withUnsafeMutableBytes { raw in StoryChunk.rebaseRecordOffsets(in: raw, count: positions.count, by: 1) }
                    #expect(throws: ChronoLogError.self) { try StoryChunk.decode(wrong) }
                }
            }
        }
    }

    @Test func encodingIntoTooSmallMemoryThrowsAndWritesNothing() throws {
        let chunk = try StoryChunk(storyId: story, range: range, events: [Event(time: 1, clientId: ClientID(1), index: 0, text: "abc")])
        var buffer = [UInt8](repeating: 7, count: chunk.encodedByteCount - 1)
        #expect(throws: ChronoLogError.self) { try buffer.withUnsafeMutableBytes { raw in try chunk.encode(into: raw) } }
        #expect(throws: ChronoLogError.self) { try buffer.withUnsafeMutableBytes { raw in try chunk.encode(0..<2, into: raw) } }
        #expect(buffer.allSatisfy { $0 == 7 })
    }

    @Test func mergingConsecutiveChunksConcatenatesLikeThePairwiseMerge() async throws {
        await propertyCheck(count: 300, input: Gens.chunk, Gens.chunk) { a, b in
            // Cut the union of both into three consecutive pieces by position; their merge must be
            // the union, whether or not they interleave (then the pairwise merge runs).
            let all = try a.merged(with: b)
            let n = all.count
            let parts = [all.slice(TimeRange(start: 0, end: all.records.first.map { $0.time + 1 } ?? 1)),
                         all.slice(TimeRange(start: all.records.first.map { $0.time + 1 } ?? 1, end: UInt64.max))]
            let joined = try StoryChunk.merge(parts.filter { !$0.range.isEmpty })
            #expect(joined?.events == all.events)
            #expect(joined?.count == n)
            let concatenated = try StoryChunk.concatenated([a, b])
            if let last = a.records.last, let first = b.records.first, !EventRecord.precedes(last, first) {
                #expect(concatenated == nil)
            } else {
                #expect(concatenated == all)
            }
            #expect(try StoryChunk.merge([a, b]) == all)
            #expect(try StoryChunk.merge([b, a]) == all)
        }
    }

    @Test func mergeIsCommutative() async throws {
        await propertyCheck(count: 500, input: Gens.chunk, Gens.chunk) { a, b in
            let ab = try a.merged(with: b)
            let ba = try b.merged(with: a)
            #expect(ab == ba)
        }
    }

    @Test func mergeIsAssociative() async throws {
        await propertyCheck(count: 500, input: Gens.chunk, Gens.chunk, Gens.chunk) { a, b, c in
            let left = try a.merged(with: b).merged(with: c)
            let right = try a.merged(with: b.merged(with: c))
            #expect(left == right)
        }
    }

    @Test func mergeIsIdempotent() async throws {
        await propertyCheck(count: 500, input: Gens.chunk, Gens.chunk) { a, b in
            #expect(try a.merged(with: a) == a)
            let ab = try a.merged(with: b)
            #expect(try ab.merged(with: b) == ab)  // the same chunk delivered twice adds nothing
        }
    }

    @Test func mergeEqualsBuildingFromTheUnion() async throws {
        await propertyCheck(count: 500, input: Gens.chunk, Gens.chunk) { a, b in
            let merged = try a.merged(with: b)
            let rebuilt = try StoryChunk(storyId: a.storyId, range: a.range, events: a.events + b.events)
            #expect(merged == rebuilt)
            #expect(Set(merged.events.map(\.key)) == Set(a.events.map(\.key)).union(b.events.map(\.key)))
            // The result is canonical.
            #expect(try StoryChunk(validatingStoryId: merged.storyId, range: merged.range, revision: merged.revision,
                                   records: merged.records, payload: merged.payload) == merged)
        }
    }

    @Test func mergeIntoReusedStorageEqualsMerge() async throws {
        var scratch = StoryChunk.empty(storyId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: 1))
        await propertyCheck(count: 300, input: Gens.chunk, Gens.chunk) { a, b in
            try scratch.assignMerge(of: a, and: b)
            let expected = try a.merged(with: b)
            #expect(scratch == expected)
            // Merging a chunk into its own storage, aliasing an input, is still correct.
            try scratch.assignMerge(of: scratch, and: a)
            let again = try expected.merged(with: a)
            #expect(scratch == again)
        }
        #expect(throws: ChronoLogError.self) {
            try scratch.assignMerge(of: .empty(storyId: StoryID(rawValue: 1), range: range), and: .empty(storyId: StoryID(rawValue: 2), range: range))
        }
    }

    @Test func conflictingCopiesResolveTheSameWayInEitherOrder() throws {
        let x = try StoryChunk(storyId: story, range: range, events: [Event(time: 1, clientId: ClientID(1), index: 0, text: "zz")])
        let y = try StoryChunk(storyId: story, range: range, events: [Event(time: 1, clientId: ClientID(1), index: 0, text: "a")])
        #expect(try x.merged(with: y).events.map(\.recordText) == ["a"])
        #expect(try y.merged(with: x).events.map(\.recordText) == ["a"])
    }

    @Test func mergeCoversRangesAndRevisions() throws {
        let a = StoryChunk.empty(storyId: story, range: TimeRange(start: 0, end: 10), revision: 0)
        let b = StoryChunk.empty(storyId: story, range: TimeRange(start: 10, end: 20), revision: 2)
        let m = try a.merged(with: b)
        #expect(m.range == TimeRange(start: 0, end: 20))
        #expect(m.revision == 2)
        #expect(throws: ChronoLogError.self) {
            _ = try a.merged(with: StoryChunk.empty(storyId: StoryID(rawValue: 7), range: range))
        }
    }

    @Test func mergeManyMatchesPairwise() throws {
        var rng = SplitMix(seed: 7)
        let chunks = (0..<7).map { _ in Random.chunk(&rng) }
        let all = try StoryChunk.merge(chunks)
        var folded = chunks[0]
        for c in chunks.dropFirst() { folded = try folded.merged(with: c) }
        #expect(all == folded)
        #expect(try StoryChunk.merge([]) == nil)
    }

    @Test func largeMergeKeepsEveryEvent() throws {
        // Interleaved times from two keepers, with a shared overlap (retransmissions).
        let a = try StoryChunk(storyId: story, range: TimeRange(start: 0, end: 1_000_000), events: (0..<5000).map {
            Event(time: UInt64($0 * 2), clientId: ClientID(1), index: UInt32($0), text: "a\($0)")
        })
        let b = try StoryChunk(storyId: story, range: TimeRange(start: 0, end: 1_000_000), events: (0..<5000).map {
            Event(time: UInt64($0 * 2 + 1), clientId: ClientID(2), index: UInt32($0), text: "b\($0)")
        } + a.events.prefix(100))
        let m = try a.merged(with: b)
        #expect(m.count == 10_000)
        #expect(zip(m.records, m.records.dropFirst()).allSatisfy { EventRecord.precedes($0, $1) })
        #expect(m.event(at: 1).recordText == "b0")
    }
}
