import CFabric
#if canImport(Glibc)
import Glibc
#endif

// The memory behind registered regions and the only pointer arithmetic on it. With
// UnsafeFabricHandles.swift, the only file of this module that touches raw memory.

/// The memory behind one `RegisteredRegion`: page-aligned memory the region owns, freed when the
/// last reference goes, or memory lent by its owner (``init(lending:)``), never freed here.
final class RegionStorage {
    let base: UnsafeMutableRawPointer
    let length: Int
    private let mapped: Bool
    private let owned: Bool

    /// Memory owned elsewhere: its owner keeps it allocated and unchanged while the region is open.
    init(lending memory: UnsafeRawBufferPointer) {
        length = memory.count
        base = UnsafeMutableRawPointer(mutating: memory.baseAddress!)
        mapped = false
        owned = false
    }

    /// Anonymous pages from `mmap`: page-aligned and zero-filled by the kernel on first touch, so
    /// a large pool costs nothing until it is used (and never exposes stale data to a peer).
    init(length: Int) {
        self.length = length
        owned = true
        let size = max(length, 1)
        if let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            base = p
            mapped = true
        } else {
            base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            mapped = false
        }
    }

    deinit {
        guard owned else { return }
        if mapped { munmap(base, max(length, 1)) } else { base.deallocate() }
    }

    /// The virtual address of byte 0.
    var address: UInt64 { UInt64(UInt(bitPattern: base)) }
}

/// Memory registered with a `FabricEndpoint` for local and remote read and write.
///
/// The wrapper allocates the memory (page-aligned, zeroed), so `FI_MR_ALLOCATED` always holds.
/// A region stays registered until `close()` or the endpoint's `close()`; its memory lives as
/// long as the region object (or any `RegisteredBuffer` of it) does, so reading it after close
/// is safe, but new operations on it throw `FabricError.closed`.
///
/// Register once and reuse: registration is expensive. `RegisteredMemoryPool` hands out slices
/// of one region.
public final class RegisteredRegion: @unchecked Sendable {
    let storage: RegionStorage
    /// The endpoint that registered it (weak: the endpoint owns the registration, not the memory).
    weak var endpoint: FabricEndpoint?
    /// The registration; `nil` once closed. Guarded by the endpoint's lock.
    var registration: MemoryRegistration?

    /// Size in bytes.
    public let length: Int
    /// The remote key peers use for this region.
    public let key: UInt64
    /// The remote address of byte 0: its virtual address under `FI_MR_VIRT_ADDR`, else 0.
    public let remoteBaseAddress: UInt64

    init(storage: RegionStorage, endpoint: FabricEndpoint, registration: MemoryRegistration, usesVirtualAddresses: Bool) {
        self.storage = storage
        self.endpoint = endpoint
        self.registration = registration
        self.length = storage.length
        self.key = registration.key
        self.remoteBaseAddress = usesVirtualAddresses ? storage.address : 0
    }

    /// Address, key and length of the whole region, for a peer.
    public var remoteDescriptor: RemoteDescriptor {
        RemoteDescriptor(address: remoteBaseAddress, key: key, length: length)
    }

    /// The whole region as one buffer.
    public var whole: RegisteredBuffer { RegisteredBuffer(region: self, offset: 0, length: length, slot: nil) }

    /// The bytes `offset ..< offset + length` as a buffer.
    /// - Throws: `FabricError.invalidArgument` if the range is not inside the region.
    public func slice(offset: Int, length: Int) throws(FabricError) -> RegisteredBuffer {
        guard offset >= 0, length >= 0, offset <= self.length, length <= self.length - offset else {
            throw .invalidArgument(call: "RegisteredRegion.slice", detail: "range \(offset)+\(length) outside \(self.length) bytes")
        }
        return RegisteredBuffer(region: self, offset: offset, length: length, slot: nil)
    }

    /// Whether the region has been deregistered.
    public var isClosed: Bool {
        guard let endpoint else { return true }
        return endpoint.isClosed(self)
    }

    /// Deregisters the region (`fi_close` on its `fid_mr`). Operations still using it must have
    /// completed. Closing twice does nothing.
    /// - Throws: `FabricError.callFailed` if libfabric refuses.
    public func close() throws(FabricError) {
        guard let endpoint else { return }
        try endpoint.deregister(self)
    }

    // MARK: byte access

    /// Calls `body` with the bytes `offset ..< offset + count` (checked against the region).
    func withBytes<R>(offset: Int, count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        precondition(offset >= 0 && count >= 0 && offset + count <= length, "range outside the registered region")
        return try body(UnsafeMutableRawBufferPointer(start: storage.base + offset, count: count))
    }
}

/// A slice of a registered region: the local side of an RMA operation, or memory to expose to
/// peers through `remoteDescriptor`. Buffers from a `RegisteredMemoryPool` go back with
/// `pool.free(_:)`.
public struct RegisteredBuffer: Sendable, CustomStringConvertible {
    /// The region the bytes belong to.
    public let region: RegisteredRegion
    /// Offset of the first byte in the region.
    public let offset: Int
    /// Number of bytes.
    public let length: Int
    /// Pool bookkeeping: slot index and generation, or `nil` for a plain slice.
    let slot: (index: Int, generation: UInt64)?

    init(region: RegisteredRegion, offset: Int, length: Int, slot: (index: Int, generation: UInt64)?) {
        self.region = region
        self.offset = offset
        self.length = length
        self.slot = slot
    }

    /// Address, key and length of these bytes, to send to the peer that will read or write them.
    public var remoteDescriptor: RemoteDescriptor {
        RemoteDescriptor(address: region.remoteBaseAddress + UInt64(offset), key: region.key, length: length)
    }

    /// A copy of the bytes.
    public func bytes() -> [UInt8] {
        region.withBytes(offset: offset, count: length) { Array(UnsafeRawBufferPointer($0)) }
    }

    /// Copies `source` into the buffer starting at `at`.
    /// - Throws: `FabricError.invalidArgument` if it does not fit.
    public func copy(from source: [UInt8], at position: Int = 0) throws(FabricError) {
        guard position >= 0, position <= length, source.count <= length - position else {
            throw .invalidArgument(call: "RegisteredBuffer.copy", detail: "\(source.count) bytes at \(position) do not fit in \(length)")
        }
        region.withBytes(offset: offset + position, count: source.count) { dst in
            source.withUnsafeBytes { dst.copyMemory(from: $0) }
        }
    }

    /// Writes `value`'s byte form at the start of the buffer, straight into the registered memory
    /// (no intermediate array, no second copy).
    /// - Returns: the number of bytes written.
    /// - Throws: `FabricError.invalidArgument` if `value.encodedByteCount` exceeds the buffer's
    ///   length or the encoder fails (its error is described).
    @discardableResult
    public func store(_ value: some RegisteredMemoryEncodable) throws(FabricError) -> Int {
        let size = value.encodedByteCount
        guard size >= 0, size <= length else {
            throw .invalidArgument(call: "RegisteredBuffer.store", detail: "\(size) bytes do not fit in \(length)")
        }
        do {
            let written = try region.withBytes(offset: offset, count: size) { try value.encode(into: $0) }
            guard written == size else {
                throw FabricError.invalidArgument(call: "RegisteredBuffer.store", detail: "encoder wrote \(written) of \(size) bytes")
            }
            return written
        } catch let error as FabricError {
            throw error
        } catch {
            throw .invalidArgument(call: "RegisteredBuffer.store", detail: "\(error)")
        }
    }

    /// Sets every byte to `value`.
    public func fill(with value: UInt8) {
        region.withBytes(offset: offset, count: length) { _ = $0.initializeMemory(as: UInt8.self, repeating: value) }
    }

    /// Calls `body` with the buffer's memory, for encoding into or decoding from it in place.
    /// The pointer must not escape `body`, and the bytes must not be touched while an RMA
    /// operation on them is in flight.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try region.withBytes(offset: offset, count: length, body)
    }

    /// The first index at which the buffer differs from `expected`, or `nil` if it holds exactly
    /// those bytes (a length mismatch reports the shorter length).
    public func firstMismatch(with expected: [UInt8]) -> Int? {
        region.withBytes(offset: offset, count: length) { mine in
            let n = min(mine.count, expected.count)
            let found: Int? = expected.withUnsafeBytes { theirs in
                guard n > 0, let m = mine.baseAddress, let t = theirs.baseAddress else { return nil }
                if memcmp(m, t, n) == 0 { return nil }
                for i in 0..<n where mine[i] != theirs[i] { return i }
                return nil
            }
            if let found { return found }
            return mine.count == expected.count ? nil : n
        }
    }

    /// `region key, offset+length`.
    public var description: String { "RegisteredBuffer(key \(region.key), \(offset)+\(length))" }
}

#if canImport(Glibc)
import Glibc
#endif

/// A value that writes its byte form straight into registered memory (`RegisteredBuffer.store(_:)`),
/// e.g. a replay piece encoded in place in the slot a client will read by RMA.
public protocol RegisteredMemoryEncodable {
    /// The number of bytes `encode(into:)` writes.
    var encodedByteCount: Int { get }
    /// Writes the byte form at the start of `destination`, which is exactly `encodedByteCount`
    /// bytes long; the pointer must not escape. Returns the number of bytes written.
    func encode(into destination: UnsafeMutableRawBufferPointer) throws -> Int
}
