import PropertyBased
import Testing
@testable import ChronoModel

/// The storage pool keepers and graphers share between their pipelines (issue 17: no fresh pages
/// per range, piece or merge in steady state).
struct ChunkStoragePoolTests {
    private let story = StoryID(rawValue: 7)

    @Test func storageGivenBackIsHandedOutAgainSmallestFitFirst() {
        let pool = ChunkStoragePool(capacityLimit: 4 << 20)
        pool.give(payload: [UInt8](repeating: 1, count: 1 << 20))
        pool.give(payload: [UInt8](repeating: 2, count: 256 << 10))
        let small = pool.takePayload(capacity: 100 << 10)
        #expect(small.isEmpty && small.capacity >= 256 << 10 && small.capacity < 1 << 20)
        let large = pool.takePayload(capacity: 512 << 10)
        #expect(large.isEmpty && large.capacity >= 1 << 20)
        let fresh = pool.takePayload(capacity: 64)
        #expect(fresh.capacity >= 64)
        #expect(pool.counts.reused == 2 && pool.counts.fresh == 1 && pool.idleBytes == 0)
    }

    @Test("a new array has a quarter more room than asked: given back, it serves the next, slightly larger request")
    func freshArraysHaveHeadroom() {
        let pool = ChunkStoragePool(capacityLimit: 16 << 20)
        let payload = pool.takePayload(capacity: 1 << 20)
        let table = pool.takeTable(capacity: 10_000)
        #expect(payload.capacity >= (1 << 20) + (1 << 18) && table.capacity >= 12_500)
        #expect(pool.counts.fresh == 2)
        pool.give(payload: consume payload)
        pool.give(table: consume table)
        #expect(pool.takePayload(capacity: (1 << 20) + (1 << 17)).capacity >= (1 << 20) + (1 << 17))
        #expect(pool.takeTable(capacity: 11_000).capacity >= 11_000)
        #expect(pool.counts.reused == 2 && pool.counts.fresh == 2)
    }

    @Test func storageStillHeldElsewhereIsNotKept() {
        // Emptying an array whose storage another copy still refers to gives it new, never-touched
        // storage: the pool must not keep that as if it were warm (it did, and a grapher's pool
        // filled with such copies while the warm storage went back to the heap).
        let pool = ChunkStoragePool(capacityLimit: 4 << 20)
        let payload = [UInt8](repeating: 1, count: 1 << 20)
        let table = [EventRecord](repeating: EventRecord(time: 1, clientId: 1, index: 0, length: 0, offset: 0), count: 1000)
        var chunk = StoryChunk(unchecked: story, range: TimeRange(start: 0, end: 10), revision: 0, records: table, payload: payload)
        pool.give(&chunk)
        #expect(chunk.isEmpty)
        #expect(pool.idleBytes == 0 && pool.sharedCount == 2)
        #expect(payload.count == 1 << 20 && table.count == 1000)  // the other copies are untouched

        // The last copy is kept, and handed out again as the same storage.
        var only = [UInt8](repeating: 2, count: 1 << 20)
        let address = only.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        pool.give(payload: consume only)
        #expect(pool.idleBytes >= 1 << 20 && pool.sharedCount == 2)
        let again = pool.takePayload(capacity: 1 << 20)
        #expect(again.isEmpty && again.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } == address)
    }

    @Test func aGrowingRangeGivesItsOldStorageBackUnshared() {
        // A range outgrowing its buffer moves into larger pooled storage and gives the old one
        // back: it must be the only copy (a copy of the buffer kept alive across the move made
        // every grown range's storage come back shared, and the pool kept none of it).
        let pool = ChunkStoragePool(capacityLimit: 64 << 20)
        var p = StoryPipeline(storyId: story, chunkDuration: 1_000_000, pool: pool)
        for batch in 0..<40 {
            let base = UInt64(batch) * 100
            p.insert((0..<100).map { Event(time: base + UInt64($0), clientId: ClientID(1), index: UInt32(batch * 100 + $0),
                                           record: [UInt8](repeating: 3, count: 1024)) }, from: 1)
        }
        #expect(p.bufferedEventCount == 4000)
        #expect(pool.sharedCount == 0)
        #expect(pool.idleBytes > 0, "the outgrown buffers are idle in the pool")
    }

    @Test func idleCapacityStaysUnderTheLimitKeepingTheLargest() {
        let pool = ChunkStoragePool(capacityLimit: 1 << 20)
        pool.give(payload: [UInt8](repeating: 0, count: 400 << 10))
        pool.give(payload: [UInt8](repeating: 0, count: 400 << 10))
        pool.give(payload: [UInt8](repeating: 0, count: 400 << 10))  // does not fit, not larger: dropped
        #expect(pool.idleBytes >= 800 << 10 && pool.idleBytes <= 1 << 20)
        pool.give(payload: [UInt8](repeating: 0, count: 900 << 10))  // larger: the smaller ones make room
        #expect(pool.idleBytes >= 900 << 10 && pool.idleBytes <= 1 << 20)
        #expect(pool.takePayload(capacity: 800 << 10).capacity >= 900 << 10)
        pool.give(payload: [UInt8](repeating: 0, count: 2 << 20))  // over the limit on its own
        #expect(pool.idleBytes == 0)
    }

    @Test func pipelinesOnAPoolSealTheSameChunksAndReuseStorage() async throws {
        // The same batches through a pipeline with a pool (its buffers grow in pooled storage, its
        // shipped chunks go back to the pool) and one without: identical chunks.
        await propertyCheck(count: 200, input: Gens.events, Gens.events) { first, second in
            let pool = ChunkStoragePool(capacityLimit: 1 << 20)
            func run(_ pool: ChunkStoragePool?) -> [StoryChunk] {
                var p = StoryPipeline(storyId: story, chunkDuration: 4, pool: pool)
                var out: [StoryChunk] = []
                for (n, events) in [first, second, first].enumerated() {
                    p.insert(events, from: UInt64(n % 2))
                    for var c in p.sealReady() {
                        out.append(c)
                        pool?.give(&c)
                    }
                }
                return out + p.drain()
            }
            #expect(run(pool) == run(nil))
        }
        // Steady state: ranges of the same size, each shipped and recycled before the next, take
        // their storage from the pool after the first.
        let pool = ChunkStoragePool(capacityLimit: 16 << 20)
        var p = StoryPipeline(storyId: story, chunkDuration: 1000, pool: pool)
        var warm = (reused: UInt64(0), fresh: UInt64(0))
        for range in 0..<20 {
            if range == 2 { warm = pool.counts }  // the first ranges grow their buffers from nothing
            let base = UInt64(range) * 1000
            p.insert((0..<200).map { Event(time: base + UInt64($0), clientId: ClientID(1), index: UInt32(range * 200 + $0),
                                           record: [UInt8](repeating: 9, count: 256)) }, from: 1)
            p.advanceWatermark(of: 1, to: base + 1000)
            var sealed = p.sealReady()
            while var c = sealed.popLast() { pool.give(&c) }  // moved out: the only copy
        }
        #expect(pool.counts.fresh == warm.fresh, "fresh storage after warm-up: \(warm) → \(pool.counts)")
        #expect(pool.counts.reused >= warm.reused + 2 * 18, "\(warm) → \(pool.counts)")
    }

    @Test func aChunkCopiedIntoARangeGivesItsStorageBack() throws {
        // A grapher reads each piece into pooled storage: the first piece of a range becomes its
        // buffer; a later piece below `minSharedBytes` is copied in, and its storage must come back
        // to the pool (it used to be freed to the heap, so every read after the first of a range
        // took fresh storage). A larger one is kept as it is, and only its record table comes back.
        let pool = ChunkStoragePool(capacityLimit: 16 << 20)
        var p = StoryPipeline(storyId: story, chunkDuration: 1000, pool: pool)
        p.minSharedBytes = 40 * 512
        var first = try piece(0..<100), second = try piece(100..<130), third = try piece(130..<200)
        let expected = try piece(0..<200)
        p.insert(taking: &first, from: 1)
        #expect(first.isEmpty && pool.idleBytes == 0, "adopted: its storage is the range's buffer")
        let secondPayload = second.payload.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        p.insert(taking: &second, from: 1)
        #expect(second.isEmpty)
        // The pool now holds the first piece's old buffer (the range grew) and the second piece's
        // storage, which is the one that must be handed out again (not freed).
        var handedOut: [[UInt8]] = []
        for _ in 0..<4 { handedOut.append(pool.takePayload(capacity: 1)) }
        #expect(handedOut.contains { $0.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == secondPayload },
                "the copied piece's storage is back in the pool")
        let idle = pool.idleBytes
        let thirdPayload = third.payload.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        p.insert(taking: &third, from: 1)
        #expect(third.isEmpty && pool.idleBytes == idle + 70 * EventRecord.byteSize, "kept: only its table came back")
        p.advanceWatermark(of: 1, to: 1000)
        let sealed = p.sealReady()
        #expect(sealed.flatMap(\.events) == expected.events)
        #expect(sealed.count == 2 && sealed[1].payload.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == thirdPayload,
                "the kept piece leaves as it came")
    }

    /// A piece of `times` (records of 512 bytes each) in the range [0, 1000) of `story`.
    private func piece(_ times: Range<UInt64>, story: StoryID? = nil, bytes: Int = 512) throws -> StoryChunk {
        try StoryChunk(storyId: story ?? self.story, range: TimeRange(start: 0, end: 1000), events: times.map {
            Event(time: $0, clientId: ClientID(1), index: UInt32($0), record: [UInt8](repeating: UInt8($0 & 0xff), count: bytes))
        })
    }
}
