/// A peer endpoint in this endpoint's address vector: the target of `read` and `write`.
///
/// Obtained from `FabricEndpoint.insert(peerAddresses:)` or `exchangeAddresses(over:)`; valid
/// only with the endpoint that produced it.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The libfabric address (`fi_addr_t`) in the endpoint's address vector.
    package let fabricAddress: UInt64
    /// The position of the peer in the list it was inserted from (its rank for `exchangeAddresses`).
    public let index: Int
    /// Identifies the endpoint whose address vector holds the peer.
    let endpointID: ObjectIdentifier

    init(fabricAddress: UInt64, index: Int, endpointID: ObjectIdentifier) {
        self.fabricAddress = fabricAddress
        self.index = index
        self.endpointID = endpointID
    }

    /// `peer#<index>`.
    public var description: String { "peer#\(index)" }
}

/// Identifies one posted RMA operation (however many libfabric operations it was split into).
public struct OperationID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// A number unique per endpoint, increasing in posting order.
    public let rawValue: UInt64
    /// Wraps a raw operation number.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Orders by posting order.
    public static func < (a: OperationID, b: OperationID) -> Bool { a.rawValue < b.rawValue }
    /// `op#<n>`.
    public var description: String { "op#\(rawValue)" }
}

/// A finished operation reported by `FabricEndpoint.progress()`.
public struct Completion: Sendable, Equatable {
    /// The operation.
    public let operation: OperationID
    /// The error it completed with (details from `fi_cq_readerr`), or `nil` on success.
    public let error: FabricError?
    /// Whether the operation succeeded.
    public var succeeded: Bool { error == nil }

    /// A completion of `operation`, failed with `error` (nil: succeeded). The endpoint makes them;
    /// a simulated bulk transport does too.
    public init(operation: OperationID, error: FabricError?) {
        self.operation = operation
        self.error = error
    }
}

/// What a peer needs to read or write a registered buffer: the remote address, the remote key
/// and the length. Sent over MPI (`encoded()`, 24 bytes) by the side that exposes memory.
public struct RemoteDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// The remote address: a virtual address when the provider uses `FI_MR_VIRT_ADDR`, otherwise
    /// the offset from the start of the registered region.
    public let address: UInt64
    /// The remote key of the registration.
    public let key: UInt64
    /// The number of bytes exposed.
    public let length: Int

    /// The size of `encoded()`.
    public static let encodedSize = 24

    /// A descriptor from its parts.
    public init(address: UInt64, key: UInt64, length: Int) {
        self.address = address
        self.key = key
        self.length = length
    }

    /// The part `offset ..< offset + length` of this descriptor.
    /// - Throws: `FabricError.invalidArgument` if the range is not inside it.
    public func subrange(offset: Int, length: Int) throws(FabricError) -> RemoteDescriptor {
        guard offset >= 0, length >= 0, offset <= self.length, length <= self.length - offset else {
            throw .invalidArgument(call: "RemoteDescriptor.subrange", detail: "range \(offset)+\(length) outside \(self.length) bytes")
        }
        return RemoteDescriptor(address: address &+ UInt64(offset), key: key, length: length)
    }

    /// Little-endian address, key, length: 24 bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.encodedSize)
        for v in [address, key, UInt64(length)] {
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        }
        return out
    }

    /// Decodes `encoded()` output.
    /// - Throws: `FabricError.invalidArgument` on a wrong size or an impossible length.
    public init(decoding bytes: [UInt8]) throws(FabricError) {
        guard bytes.count == Self.encodedSize else {
            throw .invalidArgument(call: "RemoteDescriptor(decoding:)", detail: "expected \(Self.encodedSize) bytes, got \(bytes.count)")
        }
        func word(_ k: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[8 * k + $1]) << (8 * UInt64($1)) }
        }
        let length = word(2)
        guard length <= UInt64(Int.max) else {
            throw .invalidArgument(call: "RemoteDescriptor(decoding:)", detail: "length \(length) too large")
        }
        self.init(address: word(0), key: word(1), length: Int(length))
    }

    /// `addr=0x… key=… len=…`.
    public var description: String { "addr=0x\(String(address, radix: 16)) key=\(key) len=\(length)" }
}
