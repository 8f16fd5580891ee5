import Fabric

/// Memory a recording process exposes to a peer (a keeper's staged chunk, a player's lent
/// piece) or reads a peer's bytes into (a grapher's read slot). A ``RegisteredBuffer`` is one; a
/// simulator's in-memory slot is another.
public protocol BulkSlot: Sendable {
    /// Bytes in the slot.
    var length: Int { get }
    /// Address, key and length a peer reads the slot with (sent in a descriptor).
    var remoteDescriptor: RemoteDescriptor { get }
    /// Encodes `value` at the start of the slot. - Returns: the bytes written.
    /// - Throws: `FabricError.invalidArgument` when it does not fit or the encoder fails.
    @discardableResult
    func store(_ value: some RegisteredMemoryEncodable) throws -> Int
    /// Calls `body` with the slot's bytes (the pointer must not escape it).
    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R
}

extension RegisteredBuffer: BulkSlot {}

/// Memory of this process lent to peers in place, until closed: a keeper lends a sealed chunk's
/// record table and payload this way, so its grapher reads them where they lie, with no copy into
/// a slot first. A ``RegisteredRegion`` registered with `register(lending:)` is one; a simulator's
/// in-memory loan is another.
public protocol BulkLoan: AnyObject {
    /// Address of the first byte, key and length, for a peer (the address of byte *i* is the
    /// descriptor's address + *i*).
    var remoteDescriptor: RemoteDescriptor { get }
    /// Ends the loan: peers can no longer read the memory, and its owner may change or free it.
    /// Only once no read of it can still be in flight. Closing twice does nothing.
    /// - Throws: the transport's error.
    func close() throws
}

extension RegisteredRegion: BulkLoan {}

/// One part of a read made of several (``BulkTransport/postRead(into:fromWorldRank:segments:)``):
/// `length` bytes at the peer's `remoteAddress` (with `key`) into the local slot at `offset`.
public struct BulkReadSegment: Sendable, Hashable {
    public var offset: Int
    public var remoteAddress: UInt64
    public var key: UInt64
    public var length: Int

    public init(offset: Int, remoteAddress: UInt64, key: UInt64, length: Int) {
        self.offset = offset
        self.remoteAddress = remoteAddress
        self.key = key
        self.length = length
    }
}

/// Fixed-size slots allocated once and reused: the chunks a keeper ships, a grapher's read slots,
/// a player's lent pieces.
public protocol BulkSlotPool: AnyObject, Sendable {
    /// Bytes per slot (the largest slot `allocate` hands out).
    var slotSize: Int { get }
    /// Slots currently free.
    var availableSlots: Int { get }
    /// Takes a free slot and returns its first `byteCount` bytes.
    /// - Throws: `FabricError.poolExhausted` when none is free or `byteCount` exceeds `slotSize`.
    func allocate(byteCount: Int) throws -> any BulkSlot
    /// Gives a slot back. - Throws: `FabricError.invalidArgument` for a slot not from this pool or freed twice.
    func free(_ slot: any BulkSlot) throws
    /// Releases the pool (slots handed out must no longer be in use).
    /// - Throws: the transport's error.
    func close() throws
}

/// What keepers, graphers and players need of the bulk plane: pools of slots peers can read,
/// memory lent to peers in place, reads of a peer's memory (descriptors → bytes, in one or several
/// segments) and the progress that completes them (and, with
/// manual-progress providers, peers' reads of this process's memory). ``BulkPlane`` carries it
/// over libfabric RMA; a simulator carries it in memory.
public protocol BulkTransport: AnyObject {
    /// Creates a pool of `slotCount` slots of `slotSize` bytes exposed to peers.
    /// - Throws: `FabricError` when the memory cannot be registered.
    func makeSlotPool(slotSize: Int, slotCount: Int) throws -> any BulkSlotPool
    /// This process's address on the plane, for a reader that is not a member (a replaying client).
    var localAddress: [UInt8] { get }
    /// Whether the process of world rank `rank` can be read from.
    func hasPeer(worldRank rank: Int) -> Bool
    /// Posts one read made of `segments`, each into `slot` at its offset; it completes once, when
    /// all of them have (failed if any failed).
    /// - Throws: `FabricError` when the read cannot be posted (an unknown peer, a foreign slot, a
    ///   segment outside the slot).
    func postRead(into slot: any BulkSlot, fromWorldRank rank: Int, segments: [BulkReadSegment]) throws -> OperationID
    /// Lends `memory` to peers in place until the loan is closed. The caller keeps the memory
    /// allocated and unchanged until then, and closes the loan only once no peer's read of it can
    /// still be in flight.
    /// - Throws: `FabricError` when the memory cannot be registered (or is empty).
    func lend(_ memory: UnsafeRawBufferPointer) throws -> any BulkLoan
    /// Drives the transport; returns the reads that completed since the last call (successes and
    /// failures). - Throws: `FabricError` when the transport itself fails.
    @discardableResult
    func progress() throws -> [Completion]
}

/// A ``RegisteredMemoryPool`` as slots of the bulk plane.
final class FabricSlotPool: BulkSlotPool {
    let pool: RegisteredMemoryPool

    init(_ pool: RegisteredMemoryPool) { self.pool = pool }

    var slotSize: Int { pool.slotSize }
    var availableSlots: Int { pool.availableSlots }

    func allocate(byteCount: Int) throws -> any BulkSlot { try pool.allocate(byteCount: byteCount) }

    func free(_ slot: any BulkSlot) throws {
        guard let buffer = slot as? RegisteredBuffer else {
            throw FabricError.invalidArgument(call: "RegisteredMemoryPool.free", detail: "a slot that is not registered memory")
        }
        try pool.free(buffer)
    }

    func close() throws { try pool.close() }
}

extension BulkPlane: BulkTransport {
    /// A ``RegisteredMemoryPool`` on this plane's endpoint.
    /// - Throws: as `RegisteredMemoryPool.init(endpoint:slotSize:slotCount:)`.
    public func makeSlotPool(slotSize: Int, slotCount: Int) throws -> any BulkSlotPool {
        FabricSlotPool(try RegisteredMemoryPool(endpoint: endpoint, slotSize: slotSize, slotCount: slotCount))
    }

    /// The endpoint's address.
    public var localAddress: [UInt8] { endpoint.localAddress }

    /// Whether the plane was opened with `rank` among its members.
    public func hasPeer(worldRank rank: Int) -> Bool { peer(worldRank: rank) != nil }

    /// One `fi_read` per segment into `slot` (registered memory of this plane), completing as one
    /// operation.
    /// - Throws: `FabricError.invalidArgument` for an unknown peer, a slot that is not registered
    ///   memory or a segment outside it; as `FabricEndpoint.postRead(into:from:segments:)`.
    public func postRead(into slot: any BulkSlot, fromWorldRank rank: Int, segments: [BulkReadSegment]) throws -> OperationID {
        guard let peer = peer(worldRank: rank) else {
            throw FabricError.invalidArgument(call: "BulkPlane.postRead", detail: "rank \(rank) is not on the bulk plane")
        }
        guard let buffer = slot as? RegisteredBuffer else {
            throw FabricError.invalidArgument(call: "BulkPlane.postRead", detail: "a slot that is not registered memory")
        }
        return try endpoint.postRead(into: buffer, from: peer,
                                     segments: segments.map { ($0.offset, $0.remoteAddress, $0.key, $0.length) })
    }

    /// Registers `memory` for peers' reads in place (`FabricEndpoint.register(lending:)`).
    /// - Throws: as `FabricEndpoint.register(lending:)`.
    public func lend(_ memory: UnsafeRawBufferPointer) throws -> any BulkLoan {
        try endpoint.register(lending: memory)
    }

    /// The endpoint's completions (`fi_cq_read`). - Throws: as `FabricEndpoint.progress()`.
    @discardableResult
    public func progress() throws -> [Completion] { try endpoint.progress() }
}
