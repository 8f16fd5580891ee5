import ChronoRuntime
import Fabric

/// The memory of one simulated slot. A class: the slot values the roles hold share it, as
/// registered buffers share their region.
final class SimSlotMemory: @unchecked Sendable {
    var bytes: [UInt8]
    var inUse = false
    var generation: UInt64 = 0

    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }
}

/// A slot of simulated memory: what a keeper stages a chunk in, or a grapher reads into.
struct SimSlot: BulkSlot {
    let memory: SimSlotMemory
    let poolKey: UInt64
    let index: Int
    let generation: UInt64
    let length: Int

    var remoteDescriptor: RemoteDescriptor { RemoteDescriptor(address: UInt64(index), key: poolKey, length: length) }

    @discardableResult
    func store(_ value: some RegisteredMemoryEncodable) throws -> Int {
        let size = value.encodedByteCount
        guard size <= length else {
            throw FabricError.invalidArgument(call: "SimSlot.store", detail: "\(size) bytes do not fit in \(length)")
        }
        return try memory.bytes.withUnsafeMutableBytes { raw in
            try value.encode(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]))
        }
    }

    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try memory.bytes.withUnsafeMutableBytes { raw in try body(UnsafeMutableRawBufferPointer(rebasing: raw[0..<length])) }
    }
}

/// Slots of simulated memory. Freeing a slot scribbles over it, so a peer reading a slot after
/// it was given back reads garbage (and the grapher's decoder says so), as it would with RMA.
final class SimSlotPool: BulkSlotPool, @unchecked Sendable {
    let key: UInt64
    let slotSize: Int
    private var slots: [SimSlotMemory?]
    private var free: [Int]

    init(key: UInt64, slotSize: Int, slotCount: Int) {
        self.key = key
        self.slotSize = slotSize
        self.slots = Array(repeating: nil, count: slotCount)
        self.free = Array((0..<slotCount).reversed())
    }

    var availableSlots: Int { free.count }

    func allocate(byteCount: Int) throws -> any BulkSlot {
        guard byteCount >= 0, byteCount <= slotSize, let index = free.popLast() else {
            throw FabricError.poolExhausted(slotCount: slots.count, slotSize: slotSize, requested: byteCount)
        }
        let memory = slots[index] ?? SimSlotMemory(size: slotSize)
        slots[index] = memory
        memory.inUse = true
        memory.generation &+= 1
        return SimSlot(memory: memory, poolKey: key, index: index, generation: memory.generation, length: byteCount)
    }

    func free(_ slot: any BulkSlot) throws {
        guard let s = slot as? SimSlot, s.poolKey == key, let memory = slots[s.index], memory.inUse,
              memory.generation == s.generation else {
            throw FabricError.invalidArgument(call: "SimSlotPool.free", detail: "a slot not from this pool, or freed twice")
        }
        memory.inUse = false
        for i in memory.bytes.indices { memory.bytes[i] = 0xEE }
        free.append(s.index)
    }

    func close() throws {}

    /// The bytes a peer reads at `address` (a slot index): `nil` when there is no such slot.
    func read(address: UInt64, length: Int) -> [UInt8]? {
        guard address < UInt64(slots.count), let memory = slots[Int(address)], length <= memory.bytes.count else { return nil }
        return Array(memory.bytes[0..<length])
    }
}

/// Memory a simulated keeper lends in place: a copy of the bytes taken when lent (the simulator
/// must not read the roles' memory after they let it go). Closing the loan scribbles over the
/// copy and refuses later reads, so a peer reading after the owner took its memory back reads
/// nothing, as it would with RMA after deregistration.
final class SimLoan: BulkLoan, @unchecked Sendable {
    let key: UInt64
    private(set) var bytes: [UInt8]
    private(set) var isClosed = false

    init(key: UInt64, bytes: [UInt8]) {
        self.key = key
        self.bytes = bytes
    }

    var remoteDescriptor: RemoteDescriptor { RemoteDescriptor(address: 0, key: key, length: bytes.count) }

    func close() throws {
        isClosed = true
        for i in bytes.indices { bytes[i] = 0xEE }
    }

    /// The bytes a peer reads at `address` (an offset): nil once closed or outside the loan.
    func read(address: UInt64, length: Int) -> [UInt8]? {
        guard !isClosed, address <= UInt64(bytes.count), length <= bytes.count - Int(address) else { return nil }
        return Array(bytes[Int(address)..<(Int(address) + length)])
    }
}

/// One rank's simulated bulk plane: reads of a peer's slot complete after a delay drawn from the
/// run's generator, copying the slot's bytes as they are at completion.
final class SimBulkTransport: BulkTransport {
    private struct PendingRead {
        let operation: OperationID
        let due: ContinuousClock.Instant
        let into: SimSlot
        let segments: [BulkReadSegment]
    }

    let rank: Int
    private let world: SimWorld
    private var pending: [PendingRead] = []
    private var nextOperation: UInt64 = 1

    /// Whether every lend is refused.
    private let refusesLends: Bool

    init(rank: Int, world: SimWorld, refusesLends: Bool = false) {
        self.rank = rank
        self.world = world
        self.refusesLends = refusesLends
    }

    var localAddress: [UInt8] { [UInt8(truncatingIfNeeded: rank)] }

    func makeSlotPool(slotSize: Int, slotCount: Int) throws -> any BulkSlotPool {
        world.makePool(owner: rank, slotSize: slotSize, slotCount: slotCount)
    }

    func hasPeer(worldRank rank: Int) -> Bool { world.isRecordingRank(rank) }

    func postRead(into slot: any BulkSlot, fromWorldRank rank: Int, segments: [BulkReadSegment]) throws -> OperationID {
        guard let local = slot as? SimSlot,
              segments.allSatisfy({ $0.offset >= 0 && $0.length >= 0 && $0.offset <= local.length && $0.length <= local.length - $0.offset })
        else {
            throw FabricError.invalidArgument(call: "SimBulkTransport.postRead", detail: "a foreign slot or a segment outside it")
        }
        return post(into: local, segments)
    }

    private func post(into local: SimSlot, _ segments: [BulkReadSegment]) -> OperationID {
        let op = OperationID(rawValue: nextOperation)
        nextOperation += 1
        let bytes = segments.reduce(0) { $0 + $1.length }
        pending.append(PendingRead(operation: op, due: world.clock.instant() + world.readDelay(bytes: bytes), into: local,
                                   segments: segments))
        return op
    }

    func lend(_ memory: UnsafeRawBufferPointer) throws -> any BulkLoan {
        guard memory.count > 0 else {
            throw FabricError.invalidArgument(call: "SimBulkTransport.lend", detail: "cannot lend 0 bytes")
        }
        // A provider may refuse to register memory (out of registrations, a mapping it cannot
        // pin): a refusing transport refuses every lend, and its player must copy the payload.
        if refusesLends {
            throw FabricError.callFailed(call: "fi_mr_reg", code: -12, message: "refused by the simulator")
        }
        return world.makeLoan(owner: rank, bytes: Array(memory))
    }

    @discardableResult
    func progress() throws -> [Completion] {
        let now = world.clock.instant()
        guard pending.contains(where: { $0.due <= now }) else { return [] }
        var done: [Completion] = []
        pending.removeAll { r in
            guard r.due <= now else { return false }
            var failed: FabricError? = nil
            for s in r.segments where s.length > 0 {  // as libfabric: nothing to read, nothing posted
                let bytes = world.pool(key: s.key)?.read(address: s.remoteAddress, length: s.length)
                    ?? world.loan(key: s.key)?.read(address: s.remoteAddress, length: s.length)
                guard let bytes else {
                    failed = .invalidArgument(call: "fi_read", detail: "nothing readable at \(s.remoteAddress) key \(s.key)")
                    break
                }
                r.into.memory.bytes.replaceSubrange(s.offset..<(s.offset + s.length), with: bytes)
            }
            done.append(Completion(operation: r.operation, error: failed))
            return true
        }
        return done.sorted { $0.operation < $1.operation }
    }

    /// When the next read completes.
    var nextCompletion: ContinuousClock.Instant? { pending.map(\.due).min() }
}
