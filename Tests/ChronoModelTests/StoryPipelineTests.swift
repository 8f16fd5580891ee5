import PropertyBased
import Testing
@testable import ChronoModel

@Suite struct StoryPipelineTests {
    let story = StoryID(rawValue: 3)

    func batch(_ client: UInt64, first: UInt32, times: [UInt64], watermark: UInt64) throws -> EventBatch {
        try EventBatch(storyId: story, clientId: ClientID(client), watermark: watermark, events: times.enumerated().map {
            Event(time: $0.element, clientId: ClientID(client), index: first + UInt32($0.offset), text: "c\(client)i\(first + UInt32($0.offset))")
        })
    }

    /// The chunks of two writers' events (writers 1 and 2), inserted at once, then cut after every
    /// third distinct time once both watermarks passed it (durable flushes), then drained.
    func sealedWithCuts(_ first: [Event], _ second: [Event], chunkDuration: UInt64, pool: ChunkStoragePool?,
                        maxChunkBytes: Int) -> [StoryChunk] {
        var p = StoryPipeline(storyId: story, chunkDuration: chunkDuration, pool: pool)
        p.maxChunkBytes = maxChunkBytes
        p.addContributor(1)
        p.addContributor(2)
        p.insert(first, from: 1)
        p.insert(second, from: 2)
        var out: [StoryChunk] = []
        let times = Set((first + second).map(\.time)).sorted()
        for cut in stride(from: 0, to: times.count, by: 3).map({ times[$0] + 1 }) {
            p.advanceWatermark(of: 1, to: cut)
            p.advanceWatermark(of: 2, to: cut)
            out += p.sealReady(cuttingAt: cut)
        }
        return out + p.drain()
    }

    @Test func sealsOnlyWhenEveryWatermarkHasPassed() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100)
        p.insert(try batch(1, first: 0, times: [10, 150], watermark: 150))
        p.insert(try batch(2, first: 0, times: [20], watermark: 90))
        #expect(p.sealReady().isEmpty)  // client 2 has not passed 100
        #expect(p.sealedFrontier == 0)
        p.insert(try batch(2, first: 1, times: [120], watermark: 230))
        let sealed = p.sealReady()
        #expect(sealed.map(\.range) == [TimeRange(start: 0, end: 100)])
        #expect(sealed[0].events.map(\.time) == [10, 20])
        #expect(p.sealedFrontier == 100)
        // Client 1 at 150 holds [100, 200) back; removing it releases it.
        p.removeContributor(1)
        let next = p.sealReady()
        #expect(next.map(\.range) == [TimeRange(start: 100, end: 200)])
        #expect(next[0].events.map(\.time) == [120, 150])
        #expect(p.stats.chunksSealed == 2 && p.stats.eventsAccepted == 4)
    }

    @Test func raiseWatermarkMovesOnlyRegisteredContributorsAndNeverDown() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100)
        p.insert(try batch(1, first: 0, times: [10], watermark: 50))
        p.insert(try batch(2, first: 0, times: [20], watermark: 60))
        let raised = p.raiseWatermark(of: 1, to: 250)
        let stranger = p.raiseWatermark(of: 9, to: 1000)  // never registers (a set that crossed a release)
        let lower = p.raiseWatermark(of: 2, to: 40)  // registered, but the watermark stays
        #expect(raised && !stranger && lower)
        #expect(p.contributors[9] == nil && p.contributors[1] == 250 && p.contributors[2] == 60)
        let held = p.sealReady()
        #expect(held.isEmpty)  // client 2 at 60 still holds [0, 100)
        p.removeContributor(2)
        let removed = p.raiseWatermark(of: 2, to: 500)
        #expect(!removed)
        #expect(p.hasOpenBuffers)
        let sealed = p.sealReady()  // client 1 at 250 alone: [0, 100) seals (nothing in [100, 200))
        #expect(sealed.map(\.range) == [TimeRange(start: 0, end: 100)])
        #expect(!p.hasOpenBuffers)
    }

    @Test func registeredButSilentContributorHoldsSealing() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 10)
        p.addContributor(7)
        p.insert(try batch(1, first: 0, times: [1, 2], watermark: 50))
        #expect(p.sealReady().isEmpty)
        p.advanceWatermark(of: 7, to: 10)
        #expect(p.sealReady().count == 1)
        p.advanceWatermark(of: 7, to: 3)  // watermarks never go down
        #expect(p.contributors[7] == 10)
    }

    @Test func lateEventsGoToRevisionsAndAreCounted() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100, latePolicy: .revise)
        p.insert(try batch(1, first: 0, times: [10], watermark: 100))
        #expect(p.sealReady().count == 1)
        let report = p.insert(try batch(2, first: 0, times: [50, 60, 120], watermark: 130))
        #expect(report.late == 2 && report.accepted == 1 && report.rejected.isEmpty)
        let revisions = p.sealReady()
        #expect(revisions.map(\.revision) == [1])
        #expect(revisions[0].range == TimeRange(start: 0, end: 100))
        #expect(revisions[0].events.map(\.time) == [50, 60])
        p.insert(try batch(2, first: 3, times: [70], watermark: 130))
        #expect(p.sealReady().map(\.revision) == [2])
        #expect(p.stats.lateEvents == 3 && p.stats.revisionsSealed == 2)
        // Nothing was lost: every inserted event is in exactly one chunk (the pending one is drained).
        #expect(p.drain().flatMap(\.events).map(\.time) == [120])
    }

    @Test func rejectPolicyReportsEveryRefusal() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100, latePolicy: .reject)
        p.insert(try batch(1, first: 0, times: [10], watermark: 100))
        _ = p.sealReady()
        let report = p.insert(try batch(2, first: 0, times: [50, 150], watermark: 150))
        #expect(report.accepted == 1)
        #expect(report.rejected == [InsertReport.Rejection(key: EventKey(time: 50, clientId: ClientID(2), index: 0),
                                                           reason: .lateUnderRejectPolicy(sealedUpTo: 100))])
        #expect(report.error?.returnCode == .invalidArgument)
        #expect(p.stats.rejectedLateEvents == 1)
    }

    @Test func invalidEventsAreRejectedAndReported() {
        var p = StoryPipeline(storyId: story, chunkDuration: 100, maxEventBytes: 4)
        let report = p.insert([Event(time: .max, clientId: ClientID(1), index: 0, record: []),
                               Event(time: 1, clientId: ClientID(1), index: 1, record: [1, 2, 3, 4, 5])], from: 1)
        #expect(report.rejected.map(\.reason) == [.invalidTime, .tooLarge(bytes: 5)])
        #expect(p.stats.rejectedInvalidEvents == 2)
        #expect(p.bufferedEventCount == 0)
    }

    @Test func duplicatesAreDroppedAndGapsCounted() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100)
        let b = try batch(1, first: 0, times: [1, 2], watermark: 5)
        p.insert(b)
        p.insert(b)  // retransmission
        p.insert(try batch(1, first: 5, times: [3], watermark: 200))  // indexes 2…4 missing
        let sealed = p.sealReady()
        #expect(sealed.count == 1 && sealed[0].count == 3)
        #expect(p.stats.duplicatesDropped == 2)
        #expect(p.stats.indexGaps == 3)
    }

    @Test("index gaps are counted per client across ranges, however the clients' records interleave")
    func gapsOfInterleavedClients() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100)
        // Range [0, 100): client 1 indexes 0, 1, 4 (2 and 3 missing), client 2 indexes 0, 2 (1 missing),
        // interleaved in time; range [100, 200): client 2 index 3, client 1 index 5, client 2 index 7 (4…6 missing).
        p.addContributor(1)
        p.addContributor(2)
        p.insert(try batch(1, first: 0, times: [10, 30], watermark: 40))
        p.insert(try batch(2, first: 0, times: [20], watermark: 40))
        p.insert(try batch(1, first: 4, times: [50], watermark: 300))
        p.insert(try batch(2, first: 2, times: [40, 110], watermark: 120))
        p.insert(try batch(1, first: 5, times: [130], watermark: 300))
        p.insert(try batch(2, first: 7, times: [150], watermark: 300))
        let sealed = p.sealReady()
        #expect(sealed.map(\.count) == [5, 3])
        #expect(sealed.first?.records.map(\.clientId) == [1, 2, 1, 2, 1], "the first range interleaves the clients")
        #expect(p.stats.indexGaps == 2 + 1 + 3)
        // A later range of client 1 alone continues from its highest index (5): 6 and 7 are missing.
        p.insert(try batch(1, first: 8, times: [310], watermark: 500))
        p.insert(try batch(2, first: 8, times: [320], watermark: 500))
        _ = p.sealReady()
        #expect(p.stats.indexGaps == 6 + 2)
    }

    @Test func grapherMergesKeepersPartialChunks() throws {
        var rng = SplitMix(seed: 11)
        let a = Random.chunk(&rng, maxEvents: 40)
        let b = Random.chunk(&rng, maxEvents: 40)
        var g = StoryPipeline(storyId: StoryID(rawValue: 42), chunkDuration: 100)
        g.addContributor(1)
        g.addContributor(2)
        g.insert(a, from: 1, watermark: 100)
        #expect(g.sealReady().isEmpty)
        g.insert(b, from: 2, watermark: 100)
        g.insert(a, from: 1, watermark: 100)  // delivered twice: adds nothing
        let sealed = g.sealReady()
        let expected = try a.merged(with: b)
        if expected.isEmpty {
            #expect(sealed.isEmpty)
        } else {
            #expect(sealed == [expected])
        }
    }

    @Test func chunksAdoptedOrCopiedSealToTheSameEvents() async throws {
        // A chunk inside one open range is taken as that range's buffer; one spanning ranges, a late
        // one or one joining a range that already has data is copied in. Either way the sealed
        // chunks hold exactly the inserted events, and recycled storage never shows old events.
        await propertyCheck(count: 300, input: Gens.chunk, Gens.chunk) { a, b in
            let pool = ChunkStoragePool(capacityLimit: 1 << 20)
            var g = StoryPipeline(storyId: StoryID(rawValue: 42), chunkDuration: 10, pool: pool)
            g.addContributor(1)
            let first = g.insert(a, from: 1, watermark: 10)
            #expect(first.accepted == a.count && first.late == 0)
            let sealedFirst = g.sealReady()
            #expect(sealedFirst.flatMap(\.events) == a.events.filter { $0.time < 10 })
            for var c in sealedFirst {
                pool.give(&c)
                #expect(c.isEmpty)
            }
            let second = g.insert(b, from: 1, watermark: 200)
            #expect(second.accepted + second.late == b.count)
            let rest = g.sealReady()
            let expected = try (a.slice(TimeRange(start: 10, end: 100))).merged(with: b)
            let revisions = rest.filter { $0.revision > 0 }.flatMap(\.events)
            #expect(revisions == b.events.filter { $0.time < 10 })
            let fresh = try StoryChunk.merge(rest.filter { $0.revision == 0 })
            #expect((fresh?.events ?? []) == expected.events.filter { $0.time >= 10 })
        }
    }

    @Test func aRangeShippedInPiecesSealsItsFirstPartBelowTheKeepersWatermark() throws {
        // Grapher side: keeper 1 ships range [0, 100) in pieces, each with a watermark at its next
        // unshipped event; keeper 2 has passed the range. The part below keeper 1's watermark seals
        // as [frontier, watermark), the rest of the range stays open, and the whole range's events
        // come out once, in order, in chunks whose ranges follow each other.
        var g = StoryPipeline(storyId: story, chunkDuration: 100)
        g.addContributor(1)
        g.addContributor(2)
        g.advanceWatermark(of: 2, to: 100)
        g.insert([Event(time: 35, clientId: ClientID(9), index: 0, text: "k2")], from: 2)
        g.insert(try StoryChunk(storyId: story, range: TimeRange(start: 0, end: 100), revision: 0, events: [10, 20, 30].map {
            Event(time: $0, clientId: ClientID(5), index: UInt32($0), text: "p\($0)")
        }), from: 1, watermark: 40)
        #expect(g.sealReady().isEmpty)  // keeper 1 has not passed the range
        let first = g.sealReady(splittingExcept: 0)
        #expect(first.map(\.range) == [TimeRange(start: 0, end: 40)])
        #expect(first.flatMap(\.events).map(\.time) == [10, 20, 30, 35])
        #expect(g.sealedFrontier == 40 && g.stats.rangesSplit == 1)
        // An event below the new frontier is late (a revision), as for any sealed time.
        #expect(g.insert([Event(time: 39, clientId: ClientID(9), index: 1, text: "late")], from: 2).late == 1)
        g.insert(try StoryChunk(storyId: story, range: TimeRange(start: 0, end: 100), revision: 0, events: [40, 70].map {
            Event(time: $0, clientId: ClientID(5), index: UInt32($0), text: "p\($0)")
        }), from: 1, watermark: 80)
        // A clock (contributor 0) below the keepers: its watermark is the lowest and never cuts a
        // range, so only the revision leaves; once the clock has passed, keeper 1's watermark cuts.
        g.advanceWatermark(of: 0, to: 60)
        #expect(g.sealReady(splittingExcept: 0).map(\.revision) == [1])
        #expect(g.sealedFrontier == 40)
        g.advanceWatermark(of: 0, to: 1000)
        let second = g.sealReady(splittingExcept: 0)
        #expect(second.map(\.range) == [TimeRange(start: 40, end: 80)])
        #expect(second.flatMap(\.events).map(\.time) == [40, 70])
        g.insert([Event(time: 90, clientId: ClientID(5), index: 90, text: "p90")], from: 1)
        g.advanceWatermark(of: 1, to: 100)
        let rest = g.sealReady(splittingExcept: 0)
        #expect(rest.map(\.range) == [TimeRange(start: 80, end: 100)])
        #expect(rest.flatMap(\.events).map(\.time) == [90])
        #expect(g.sealedFrontier == 100 && g.stats.chunksSealed == 3 && g.stats.rangesSplit == 2)
        // With no writer left, the clock alone seals whole ranges only.
        var c = StoryPipeline(storyId: story, chunkDuration: 100)
        c.insert([Event(time: 120, clientId: ClientID(5), index: 0, text: "p120")], from: 1)
        c.removeContributor(1)
        c.advanceWatermark(of: 0, to: 150)
        #expect(c.sealReady(splittingExcept: 0).isEmpty && c.sealedFrontier == 100 && c.bufferedEventCount == 1)
    }

    @Test func splittingAnywhereKeepsEveryEventOnceInOrder() async throws {
        // Pieces of random chunks arrive with watermarks at their next event, and the pipeline is
        // sealed (split) after each: the sealed chunks hold every event once, in order, with
        // ranges that follow each other and contain their events.
        await propertyCheck(count: 200, input: Gens.chunk, Gens.chunk) { a, b in
            var g = StoryPipeline(storyId: StoryID(rawValue: 42), chunkDuration: 10)
            g.addContributor(1)
            let all = try a.merged(with: b)
            let pieces = all.pieces(maxEncodedBytes: 200)
            var sealed: [StoryChunk] = []
            for (n, piece) in pieces.enumerated() {
                let next = n + 1 < pieces.count ? pieces[n + 1].records.first?.time ?? 0 : UInt64.max - 1
                let r = g.insert(piece, from: 1, watermark: next)
                #expect(r.late == 0 && r.rejected.isEmpty)
                sealed += g.sealReady(splittingExcept: 0)
            }
            sealed += g.drain()
            #expect(sealed.flatMap(\.events) == all.events)
            for (x, y) in zip(sealed, sealed.dropFirst()) { #expect(x.range.end <= y.range.start) }
            for c in sealed { #expect(c.events.allSatisfy { c.range.contains($0.time) }) }
        }
    }

    @Test func resultDoesNotDependOnArrivalOrder() async throws {
        await propertyCheck(count: 300, input: Gens.events, Gens.events) { first, second in
            func run(_ batches: [[Event]]) -> [StoryChunk] {
                var p = StoryPipeline(storyId: story, chunkDuration: 4)
                for (n, events) in batches.enumerated() { p.insert(events, from: UInt64(n)) }
                return p.drain()
            }
            #expect(run([first, second]) == run([second, first]))
            let all = run([first, second]).flatMap(\.events).map(\.key)
            #expect(Set(all) == Set((first + second).map(\.key)))
            #expect(all == all.sorted())
        }
    }

    @Test("with a pool, sealing and cutting ranges that interleave two writers gives the same chunks as without one")
    func pooledSealingMatchesUnpooled() async throws {
        // Ranges holding both writers' events are sorted at the seal (the table in place, the
        // payload copied once into pooled storage, the old payload given back) and cut short in
        // place at a durable cut: the chunks must not depend on it.
        await propertyCheck(count: 300, input: Gens.events, Gens.events) { first, second in
            func run(pool: ChunkStoragePool?) -> [StoryChunk] {
                sealedWithCuts(first, second, chunkDuration: 3, pool: pool, maxChunkBytes: Int.max)
            }
            let pool = ChunkStoragePool(capacityLimit: 1 << 20)
            let plain = run(pool: nil)
            #expect(run(pool: pool) == plain)
            #expect(run(pool: pool) == plain)  // again, from the storage the first run gave back
            // The model: every key once, in key order, with the bytes that sort first among its copies.
            var model: [Event] = []
            for e in (first + second).sorted(by: { $0.key != $1.key ? $0.key < $1.key : $0.record.lexicographicallyPrecedes($1.record) })
            where model.last?.key != e.key {
                model.append(e)
            }
            #expect(plain.flatMap(\.events) == model)
            for c in plain { #expect(c.events.allSatisfy { c.range.contains($0.time) }) }
        }
    }

    @Test(arguments: [UInt64(3), 8])
    func sealedRangesLeaveInPiecesOfTheBound(chunkDuration: UInt64) async throws {
        // A keeper bounds its chunks (`maxChunkBytes`, its transfer slot): a range holding more
        // leaves as consecutive chunks of its parts, each within the bound unless one time's events
        // alone exceed it, never two chunks sharing a time; together the same events as one chunk.
        await propertyCheck(count: 300, input: Gens.events, Gens.events) { first, second in
            let bound = StoryChunk.headerByteCount + 40 * (1 + (first.count + second.count) % 4)
            func run(pool: ChunkStoragePool?, maxChunkBytes: Int) -> [StoryChunk] {
                sealedWithCuts(first, second, chunkDuration: chunkDuration, pool: pool, maxChunkBytes: maxChunkBytes)
            }
            let whole = run(pool: nil, maxChunkBytes: Int.max)
            let pieces = run(pool: nil, maxChunkBytes: bound)
            let pool = ChunkStoragePool(capacityLimit: 1 << 20)
            #expect(run(pool: pool, maxChunkBytes: bound) == pieces)
            #expect(run(pool: pool, maxChunkBytes: bound) == pieces)  // from storage given back
            #expect(pieces.flatMap(\.events) == whole.flatMap(\.events))
            var next = 0
            for w in whole {
                // The pieces of `w` tile its range in order.
                var at = w.range.start
                while next < pieces.count, pieces[next].range.start >= w.range.start, pieces[next].range.end <= w.range.end {
                    let c = pieces[next]
                    #expect(c.range.start == at && c.revision == 0)
                    #expect(throws: Never.self) {
                        try StoryChunk(validatingStoryId: story, range: c.range, revision: 0, records: c.records, payload: c.payload)
                    }
                    if c.encodedByteCount > bound { #expect(Set(c.records.map(\.time)).count == 1) }
                    at = c.range.end
                    next += 1
                    if at == w.range.end { break }
                }
                #expect(at == w.range.end)
            }
            #expect(next == pieces.count)
        }
    }

    @Test(arguments: [3, 1000] as [UInt64])
    func chunksTakenOneAfterAnotherSealToTheSameEvents(chunkDuration: UInt64) async throws {
        // A grapher takes a keeper's chunks (pooled storage each): the first of a range is adopted,
        // the later ones kept as they are. Sealed — with cuts, some chunks arriving after a seal
        // (revisions) — they hold the same events as the same events copied in; each sealed chunk
        // is valid. With a second contributor's chunk among them (odd cases) ranges are merged.
        await propertyCheck(count: 300, input: Gens.events, Gens.events) { first, second in
            // Client 1's events in order, dense indexes; chunks of 1–3 distinct times each, so
            // that every chunk's events come strictly after the previous chunk's.
            let ones = first.sorted { $0.time < $1.time }.enumerated().map {
                Event(time: $0.element.time, clientId: ClientID(1), index: UInt32($0.offset), record: $0.element.record)
            }
            var groups: [[Event]] = []
            for e in ones {
                if let last = groups.last?.last, last.time == e.time || Set(groups[groups.count - 1].map(\.time)).count < 1 + Int(e.time % 3) {
                    groups[groups.count - 1].append(e)
                } else {
                    groups.append([e])
                }
            }
            let twos = second.enumerated().map {
                Event(time: $0.element.time, clientId: ClientID(2), index: UInt32($0.offset), record: $0.element.record)
            }
            let mixed = second.count % 2 == 1
            // The same steps for both pipelines: chunks (or their events) in order, the second
            // writer's among them; with `late`, a seal at 5 after the first half, so that later
            // chunks below 5 become revisions.
            func steps(late: Bool, insert: (inout StoryPipeline, [Event], UInt64) -> Void, pool: ChunkStoragePool?) -> [StoryChunk] {
                var p = StoryPipeline(storyId: story, chunkDuration: chunkDuration, pool: pool)
                p.minSharedBytes = 0
                p.addContributor(1)
                p.addContributor(2)
                var out: [StoryChunk] = []
                for (k, g) in groups.enumerated() {
                    insert(&p, g, 1)
                    if mixed && k == groups.count / 2 && !twos.isEmpty { insert(&p, twos, 2) }
                    if late && k == groups.count / 2 {
                        p.advanceWatermark(of: 1, to: 2)
                        p.advanceWatermark(of: 2, to: 2)
                        out += p.sealReady(cuttingAt: 2)
                        out += p.sealBelow(5)
                    }
                }
                if mixed && groups.isEmpty && !twos.isEmpty { insert(&p, twos, 2) }
                return out + p.drain()
            }
            func sorted(_ chunks: [StoryChunk]) -> [Event] {
                chunks.flatMap(\.events).sorted { ($0.time, $0.clientId.rawValue, $0.index) < ($1.time, $1.clientId.rawValue, $1.index) }
            }
            for late in [false, true] {
                let expected = sorted(steps(late: late, insert: { p, events, from in p.insert(events, from: from) }, pool: nil))
                #expect(expected.count == ones.count + (mixed ? twos.count : 0))
                for pool in [nil, ChunkStoragePool(capacityLimit: 1 << 20)] as [ChunkStoragePool?] {
                    let sealed = steps(late: late, insert: { p, events, from in
                        var c = try! StoryChunk(storyId: story, range: TimeRange(start: 0, end: 8), events: events)
                        p.insert(taking: &c, from: from)
                    }, pool: pool)
                    #expect(sorted(sealed) == expected)
                    for c in sealed {
                        #expect(throws: Never.self) {
                            try StoryChunk(validatingStoryId: story, range: c.range, revision: c.revision, records: c.records, payload: c.payload)
                        }
                    }
                }
            }
        }
    }

    @Test func aRangesChunksLeaveAsTheyCame() throws {
        // One keeper's chunks of a range, one after another (as a keeper seals a busy range into
        // slot-sized chunks): sealed, each leaves as it came, its payload the storage it arrived
        // in — no copy into one buffer, no growth — and the chunks tile the range.
        let pool = ChunkStoragePool(capacityLimit: 16 << 20)
        var p = StoryPipeline(storyId: story, chunkDuration: 1000, pool: pool)
        func piece(_ times: Range<UInt64>) throws -> StoryChunk {
            try StoryChunk(storyId: story, range: TimeRange(start: 0, end: 1000), events: times.map {
                Event(time: $0, clientId: ClientID(1), index: UInt32($0), record: [UInt8](repeating: UInt8($0 & 0xff), count: 512))
            })
        }
        var addresses: [UInt] = []
        for times in [0..<100, 100..<250, 250..<300] as [Range<UInt64>] {
            var c = try piece(times)
            addresses.append(c.payload.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) })
            p.insert(taking: &c, from: 1)
            #expect(c.isEmpty)
        }
        #expect(p.bufferedEventCount == 300)
        p.advanceWatermark(of: 1, to: 1000)
        let sealed = p.sealReady()
        #expect(sealed.map(\.range) == [TimeRange(start: 0, end: 100), TimeRange(start: 100, end: 250), TimeRange(start: 250, end: 1000)])
        #expect(sealed.map { $0.payload.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } } == addresses)
        #expect(sealed.flatMap(\.events) == (try piece(0..<300)).events)
        // A later event of another writer among them: merged into one chunk as before.
        var q = StoryPipeline(storyId: story, chunkDuration: 1000, pool: pool)
        for times in [0..<100, 100..<250] as [Range<UInt64>] {
            var c = try piece(times)
            q.insert(taking: &c, from: 1)
        }
        q.insert([Event(time: 50, clientId: ClientID(2), index: 0, record: [9])], from: 2)
        q.advanceWatermark(of: 1, to: 1000)
        q.advanceWatermark(of: 2, to: 1000)
        let merged = q.sealReady()
        #expect(merged.count == 1 && merged[0].count == 251)
        // Chunks arriving once their range is sealed: one revision holds them all (it is never
        // cut; a revision that kept only its first array lost the others' events).
        var r = StoryPipeline(storyId: story, chunkDuration: 1000, pool: pool)
        var c = try piece(0..<100)
        r.insert(taking: &c, from: 1)
        r.advanceWatermark(of: 1, to: 1000)
        #expect(r.sealReady().map(\.count) == [100])
        for times in [100..<150, 150..<230, 230..<300] as [Range<UInt64>] {
            var late = try piece(times)
            #expect(r.insert(taking: &late, from: 1).late == times.count)
        }
        let revisions = r.drain()
        #expect(revisions.map(\.revision) == [1] && revisions.map(\.range) == [TimeRange(start: 0, end: 1000)])
        #expect(revisions.first?.events == (try piece(100..<300)).events)
    }

    @Test func receivedBatchesKeptAsTheyCameSealLikeCopiedEvents() async throws {
        // A keeper's ranges keep each received batch's message and point into it; the seal copies
        // the bytes once. Batches decoded from their messages, straddling ranges, some arriving
        // after a seal (revisions), with cuts and a chunk bound, seal to the same chunks as the
        // same events copied in one by one, pooled or not.
        await propertyCheck(count: 300, input: Gens.events, Gens.events) { first, second in
            // Each client's events with dense indexes, in batches of 1–4 events.
            func batches(_ events: [Event], client: UInt64) -> [(events: [Event], message: [UInt8])] {
                let mine = events.enumerated().map { Event(time: $0.element.time, clientId: ClientID(client), index: UInt32($0.offset), record: $0.element.record) }
                var out: [(events: [Event], message: [UInt8])] = []
                var at = 0
                while at < mine.count {
                    let n = min(mine.count - at, 1 + (at + mine.count) % 4)
                    let part = Array(mine[at..<(at + n)])
                    let b = try! EventBatch(storyId: story, clientId: ClientID(client), watermark: 0, events: part)
                    out.append((part, ControlMessage.eventBatch(b).encode()))
                    at += n
                }
                return out
            }
            // The two writers' batches alternate, the longer list's tail after.
            let ones = batches(first, client: 1), twos = batches(second, client: 2)
            var sent: [(events: [Event], message: [UInt8])] = []
            for k in 0..<max(ones.count, twos.count) {
                if k < ones.count { sent.append(ones[k]) }
                if k < twos.count { sent.append(twos[k]) }
            }
            let bound = (first.count + second.count) % 2 == 0 ? Int.max : StoryChunk.headerByteCount + 120
            func run(received: Bool, pool: ChunkStoragePool?) -> [StoryChunk] {
                var p = StoryPipeline(storyId: story, chunkDuration: 3, pool: pool)
                p.maxChunkBytes = bound
                p.minSharedBytes = received && first.count % 3 == 0 ? 0 : 200  // kept, or copied if small
                p.addContributor(1)
                p.addContributor(2)
                var out: [StoryChunk] = []
                for (k, b) in sent.enumerated() {
                    if received, case .eventBatch(let batch)? = try? ControlMessage.decode(b.message) {
                        p.insert(batch)
                    } else {
                        p.insert(b.events, from: b.events[0].clientId.rawValue)
                    }
                    if k % 3 == 2 {  // a cut, then a whole seal: later batches bring late events
                        let cut = b.events[0].time + 1
                        p.advanceWatermark(of: 1, to: cut)
                        p.advanceWatermark(of: 2, to: cut)
                        out += p.sealReady(cuttingAt: cut)
                    }
                }
                return out + p.drain()
            }
            let copied = run(received: false, pool: nil)
            #expect(run(received: true, pool: nil) == copied)
            let pool = ChunkStoragePool(capacityLimit: 1 << 20)
            #expect(run(received: true, pool: pool) == copied)
            #expect(run(received: true, pool: pool) == copied)
            // Every event once (each writer's keys are distinct; late ones come as revisions).
            #expect(copied.reduce(0) { $0 + $1.count } == first.count + second.count)
        }
    }

    @Test func unsealedEventsAreVisibleForReplay() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100)
        p.minSharedBytes = 0
        p.insert(try batch(1, first: 0, times: [10, 110, 210], watermark: 0))
        let fresh = p.unsealedEvents(in: TimeRange(start: 100, end: 300))
        #expect(fresh?.events.map(\.time) == [110, 210])
        #expect(p.unsealedEvents(in: TimeRange(start: 5, end: 5)) == nil)
        #expect(p.bufferedEventCount == 3)
        // The batch stays as it came, its own record table too.
        #expect(p.bufferedBytes == 3 * 32 + 3 * 32 + "c1i0c1i1c1i2".utf8.count)
        // Copied in: events given as values, or a batch smaller than `minSharedBytes`.
        var copied = StoryPipeline(storyId: story, chunkDuration: 100)
        copied.insert(try batch(1, first: 0, times: [10, 110, 210], watermark: 0).events, from: 1)
        #expect(copied.bufferedBytes == 3 * 32 + "c1i0c1i1c1i2".utf8.count)
        var small = StoryPipeline(storyId: story, chunkDuration: 100)
        small.insert(try batch(1, first: 0, times: [10, 110, 210], watermark: 0))
        #expect(small.bufferedBytes == 3 * 32 + "c1i0c1i1c1i2".utf8.count)
        #expect(small.unsealedEvents(in: TimeRange(start: 100, end: 300)) == fresh)
    }

    @Test func drainSealsEverythingAndLaterEventsAreLate() throws {
        var p = StoryPipeline(storyId: story, chunkDuration: 100)
        p.insert(try batch(1, first: 0, times: [10, 310], watermark: 0))
        let all = p.drain()
        #expect(all.map(\.range.start) == [0, 300])
        #expect(p.sealedFrontier == 400)
        let r = p.insert(try batch(1, first: 2, times: [320], watermark: 0))
        #expect(r.late == 1)
        #expect(p.drain().map(\.revision) == [1])
    }

    @Test func sealingBelowAnAnsweredFrontierMakesANewcomersOlderEventsLate() throws {
        // Client 1's watermark (150) was answered complete to a reader; [100, 200) is still open.
        // Client 2 joins, its clock behind: sealBelow(150) seals [0, 100) whole and [100, 150) as
        // the first part of its range, so client 2's event at 140 is late, its event at 160 is not.
        var p = StoryPipeline(storyId: story, chunkDuration: 100)
        p.insert(try batch(1, first: 0, times: [10, 120, 150], watermark: 150))
        #expect(p.sealReady().map(\.range) == [TimeRange(start: 0, end: 100)])
        #expect(p.sealBelow(100).isEmpty)  // not past the sealed frontier: nothing
        let sealed = p.sealBelow(150)
        #expect(sealed.map(\.range) == [TimeRange(start: 100, end: 150)])
        #expect(sealed.flatMap(\.events).map(\.time) == [120])
        #expect(p.sealedFrontier == 150 && p.bufferedEventCount == 1)
        p.addContributor(2)
        let r = p.insert(try batch(2, first: 0, times: [140, 160], watermark: 160))
        #expect(r.late == 1 && r.accepted == 1)
        p.insert(try batch(1, first: 3, times: [], watermark: 250))
        p.insert(try batch(2, first: 2, times: [], watermark: 250))
        let rest = p.sealReady()
        // The late event leaves as a revision of its range, the rest as the range's second part.
        #expect(rest.map(\.range) == [TimeRange(start: 100, end: 200), TimeRange(start: 150, end: 200)])
        #expect(rest.map(\.revision) == [1, 0])
        #expect(rest.flatMap(\.events).map(\.time) == [140, 150, 160])
    }

    @Test func rangeMathAtTheEdges() {
        let p = StoryPipeline(storyId: story, chunkDuration: 1000)
        #expect(p.range(of: 0) == TimeRange(start: 0, end: 1000))
        #expect(p.range(of: 1999) == TimeRange(start: 1000, end: 2000))
        #expect(p.range(of: UInt64.max - 1).end == UInt64.max)
        #expect(StoryPipeline(storyId: story, config: ChronoConfig()).chunkDuration == 50_000_000)
    }

    @Test func withNoWriterLeftTheClockSealsWhatLiesBehindItsMargin() throws {
        // A day-long range: a grapher whose keepers all reported their last watermark (removed)
        // holds the events with only the clock (0) left. sealReady keeps the range open until the
        // clock leaves it; sealBehind cuts it `margin` behind the clock, so the events leave now
        // (their keepers' chunks are acknowledged) and a restart's later events are not late.
        let day: UInt64 = 86_400_000_000_000, t0 = 20_000 * day
        var g = StoryPipeline(storyId: story, chunkDuration: day)
        g.addContributor(0)
        g.addContributor(1)
        #expect(g.sealBehind(clock: 0, margin: 10).isEmpty)  // a writer is registered: nothing
        g.insert([10, 20, 30].map { Event(time: t0 + $0, clientId: ClientID(5), index: UInt32($0), text: "e\($0)") }, from: 1)
        g.removeContributor(1)
        g.advanceWatermark(of: 0, to: t0 + 35)
        #expect(g.sealReady(splittingExcept: 0).isEmpty && g.bufferedEventCount == 3)
        let first = g.sealBehind(clock: 0, margin: 10)  // cut at t0+25
        #expect(first.map(\.range) == [TimeRange(start: t0, end: t0 + 25)])
        #expect(first.flatMap(\.events).map(\.time) == [t0 + 10, t0 + 20])
        g.advanceWatermark(of: 0, to: t0 + 50)
        let second = g.sealBehind(clock: 0, margin: 10)
        #expect(second.map(\.range) == [TimeRange(start: t0 + 25, end: t0 + 40)])
        #expect(second.flatMap(\.events).map(\.time) == [t0 + 30])
        #expect(g.sealedFrontier == t0 + 40 && g.bufferedEventCount == 0 && g.stats.rangesSplit == 0)
        // A restart: its events after the cut are not late and wait for the range as usual.
        g.addContributor(1)
        #expect(g.insert([Event(time: t0 + 45, clientId: ClientID(5), index: 45, text: "again")], from: 1).late == 0)
        g.advanceWatermark(of: 0, to: t0 + 1000)
        #expect(g.sealBehind(clock: 0, margin: 10).isEmpty && g.bufferedEventCount == 1)
        // Earlier ranges still open when the writers left seal whole.
        var h = StoryPipeline(storyId: story, chunkDuration: 100)
        h.insert([Event(time: 120, clientId: ClientID(5), index: 0, text: "a"),
                  Event(time: 250, clientId: ClientID(5), index: 1, text: "b")], from: 1)
        h.removeContributor(1)
        h.advanceWatermark(of: 0, to: 270)
        let both = h.sealBehind(clock: 0, margin: 10)
        #expect(both.map(\.range) == [TimeRange(start: 100, end: 200), TimeRange(start: 200, end: 260)])
    }

    @Test func withNoWriterLateEventsLeaveAtOnceEvenInsideTheMargin() throws {
        // A keeper calls sealBehind instead of sealReady while its story has no writer: a revision
        // (late events of a range already sealed) must not wait for the clock to leave the margin.
        var g = StoryPipeline(storyId: story, chunkDuration: 100)
        g.insert([Event(time: 150, clientId: ClientID(5), index: 0, text: "a")], from: 1)
        g.advanceWatermark(of: 1, to: 300)
        #expect(g.sealReady().map(\.range) == [TimeRange(start: 100, end: 200)] && g.sealedFrontier == 300)
        #expect(g.insert([Event(time: 160, clientId: ClientID(6), index: 0, text: "late")], from: 2).late == 1)
        g.removeContributor(1)
        g.removeContributor(2)
        g.advanceWatermark(of: 0, to: 305)  // 305 - 10 is below the frontier: nothing new to cut
        let revisions = g.sealBehind(clock: 0, margin: 10)
        #expect(revisions.map(\.range) == [TimeRange(start: 100, end: 200)] && revisions.map(\.revision) == [1])
        #expect(g.sealedFrontier == 300 && g.bufferedEventCount == 0)
    }

    @Test func aDurableCutSealsTheRangeHoldingItOnceEveryWatermarkPassedIt() {
        // A keeper answering a durable flush cuts the open range at the writer's watermark + 1
        // instead of waiting for the range to end; not before every contributor (the clock too) is past it.
        var p = StoryPipeline(storyId: StoryID(rawValue: 3), chunkDuration: 1000)
        p.addContributor(0)  // the clock
        p.insert((0..<10).map { Event(time: 500 + UInt64($0), clientId: ClientID(1), index: UInt32($0), record: [1]) }, from: 1)
        p.advanceWatermark(of: 1, to: 509)
        p.advanceWatermark(of: 0, to: 505)
        #expect(p.sealReady(cuttingAt: 510).isEmpty, "the clock has not passed the cut yet")
        p.advanceWatermark(of: 1, to: 512)
        p.advanceWatermark(of: 0, to: 510)
        let cut = p.sealReady(cuttingAt: 510)
        #expect(cut.count == 1 && cut.first?.count == 10 && p.sealedFrontier == 510, "\(cut)")
        #expect(p.stats.rangesSplit == 1)
        // The rest of the range stays open; an event at the cut is not late.
        let report = p.insert([Event(time: 510, clientId: ClientID(1), index: 10, record: [2])], from: 1)
        #expect(report.accepted == 1 && report.late == 0)
        #expect(p.sealReady(cuttingAt: 510).isEmpty, "a cut already made seals nothing more")
        p.advanceWatermark(of: 1, to: 1000)
        p.advanceWatermark(of: 0, to: 1000)
        #expect(p.sealReady().map(\.count) == [1], "the range's rest seals when it ends")
    }
}
