import Synchronization

/// Registered memory allocated and registered once, handed out as fixed-size slots.
///
/// Keepers stage sealed StoryChunks here and send each buffer's `remoteDescriptor` to the peer
/// that reads it; when the peer acknowledges, the buffer goes back with `free(_:)`. No memory is
/// registered or deregistered per transfer. Allocation and freeing are thread-safe. Freeing a
/// buffer twice, or one that is not from this pool, throws instead of corrupting the free list.
public final class RegisteredMemoryPool: Sendable {
    /// The single registered region behind every slot.
    public let region: RegisteredRegion
    /// Bytes per slot (the largest buffer `allocate` hands out).
    public let slotSize: Int
    /// Number of slots.
    public let slotCount: Int

    private struct State {
        var free: [Int]
        var generation: [UInt64]
        var inUse: [Bool]
    }
    private let state: Mutex<State>

    /// Allocates `slotCount * slotSize` bytes and registers them with `endpoint` once.
    /// `slotSize` is rounded up to a multiple of 64 bytes so slots stay cache-line aligned.
    /// - Throws: `FabricError.invalidArgument` for non-positive sizes; registration errors as
    ///   `FabricEndpoint.register(byteCount:)`.
    public init(endpoint: FabricEndpoint, slotSize: Int, slotCount: Int) throws(FabricError) {
        guard slotSize > 0, slotCount > 0 else {
            throw .invalidArgument(call: "RegisteredMemoryPool.init", detail: "slotSize \(slotSize) and slotCount \(slotCount) must be positive")
        }
        let rounded = (slotSize + 63) / 64 * 64
        let (total, overflow) = rounded.multipliedReportingOverflow(by: slotCount)
        guard !overflow else {
            throw .invalidArgument(call: "RegisteredMemoryPool.init", detail: "\(slotCount) slots of \(rounded) bytes overflow")
        }
        self.region = try endpoint.register(byteCount: total)
        self.slotSize = rounded
        self.slotCount = slotCount
        self.state = Mutex(State(free: Array((0..<slotCount).reversed()), generation: Array(repeating: 0, count: slotCount),
                                 inUse: Array(repeating: false, count: slotCount)))
    }

    /// Takes a free slot and returns its first `byteCount` bytes.
    /// - Throws: `FabricError.poolExhausted` if every slot is in use or `byteCount` exceeds
    ///   `slotSize`; `.closed` if the pool's region was closed.
    public func allocate(byteCount: Int) throws(FabricError) -> RegisteredBuffer {
        guard byteCount >= 0, byteCount <= slotSize else {
            throw .poolExhausted(slotCount: slotCount, slotSize: slotSize, requested: byteCount)
        }
        guard !region.isClosed else { throw .closed(call: "RegisteredMemoryPool.allocate") }
        let taken: (Int, UInt64)? = state.withLock { s in
            guard let index = s.free.popLast() else { return nil }
            s.inUse[index] = true
            s.generation[index] &+= 1
            return (index, s.generation[index])
        }
        guard let (index, generation) = taken else {
            throw .poolExhausted(slotCount: slotCount, slotSize: slotSize, requested: byteCount)
        }
        return RegisteredBuffer(region: region, offset: index * slotSize, length: byteCount, slot: (index, generation))
    }

    /// Returns a buffer's slot to the pool. The buffer must not be used (nor be the target of a
    /// peer's RMA) afterwards.
    /// - Throws: `FabricError.invalidArgument` for a buffer from elsewhere or one already freed.
    public func free(_ buffer: RegisteredBuffer) throws(FabricError) {
        guard buffer.region === region, let slot = buffer.slot, slot.index >= 0, slot.index < slotCount else {
            throw .invalidArgument(call: "RegisteredMemoryPool.free", detail: "\(buffer) is not from this pool")
        }
        let ok = state.withLock { s in
            guard s.inUse[slot.index], s.generation[slot.index] == slot.generation else { return false }
            s.inUse[slot.index] = false
            s.free.append(slot.index)
            return true
        }
        guard ok else {
            throw .invalidArgument(call: "RegisteredMemoryPool.free", detail: "\(buffer) was already freed")
        }
    }

    /// Slots currently free.
    public var availableSlots: Int { state.withLock { $0.free.count } }

    /// Deregisters the pool's region. Buffers handed out must no longer be in use.
    /// - Throws: as `RegisteredRegion.close()`.
    public func close() throws(FabricError) {
        try region.close()
    }
}
