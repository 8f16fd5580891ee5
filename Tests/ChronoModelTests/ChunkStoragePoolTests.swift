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
            for var c in p.sealReady() { pool.give(&c) }
        }
        #expect(pool.counts.fresh == warm.fresh, "fresh storage after warm-up: \(warm) → \(pool.counts)")
        #expect(pool.counts.reused >= warm.reused + 2 * 18, "\(warm) → \(pool.counts)")
    }
}
