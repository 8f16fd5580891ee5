import CChronoShims

/// A libfabric provider name, as `fi_info -p` takes it.
///
/// A name with a `;` names a core provider under a utility provider: `"tcp;ofi_rxm"` is the tcp
/// provider with the RxM utility layer on top, which gives the reliable-datagram (RDM) endpoints
/// we need. The whole string is passed to `fi_getinfo` as the provider name, so exactly that
/// stack is used; the wrapper never falls back to another provider.
public struct FabricProvider: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The provider name passed to `fi_getinfo` (`fabric_attr->prov_name`).
    public let name: String

    /// A provider by name, e.g. `"shm"` or `"tcp;ofi_rxm"`.
    public init(_ name: String) { self.name = name }

    /// A provider from a string literal.
    public init(stringLiteral value: String) { self.name = value }

    /// Shared memory between processes of one node (manual progress: targets must poll).
    public static let shm = FabricProvider("shm")
    /// TCP sockets under the RxM utility provider, for traffic across nodes (manual progress).
    public static let tcp = FabricProvider("tcp;ofi_rxm")
    /// The older sockets provider (automatic progress, slower); for comparison only.
    public static let sockets = FabricProvider("sockets")

    /// The provider name.
    public var description: String { name }
}

/// How to open a `FabricEndpoint`.
public struct FabricConfiguration: Sendable, Equatable {
    /// The provider to use; never replaced by another one.
    public var provider: FabricProvider
    /// The domain (for tcp: the network interface, e.g. `"eth0"` or `"lo"`) to pick among the
    /// provider's offers, or `nil` for the first one `fi_getinfo` returns.
    public var domain: String?
    /// Completion-queue entries (`fi_cq_attr.size`).
    public var completionQueueSize: Int
    /// Expected number of peers in the address vector (`fi_av_attr.count`, a hint).
    public var addressVectorCapacity: Int
    /// Largest single RMA operation to post; larger transfers are split into several operations.
    /// `nil` uses the provider's `max_msg_size` (capped at 1 GiB). Either way no more than the
    /// provider's `max_msg_size`.
    public var maxTransferSize: Int?

    /// The default split, 256 KiB. `shm` copies an RMA read by cross-memory attach while it holds
    /// the *target's* region lock, and the target's own progress takes that lock: a keeper polling
    /// while its grapher read a 3-MiB chunk in one operation spun for up to a millisecond per poll,
    /// 11 % of its CPU. Parts of 256 KiB hold the lock for about 50 µs each, and the per-part cost
    /// (one post, one completion) stays far below the copy's.
    public static let defaultMaxTransferSize = 256 << 10

    /// A configuration for `provider` with the defaults: the provider's first domain, 1024 CQ
    /// entries, room for 64 peers, transfers split at ``defaultMaxTransferSize``.
    public init(provider: FabricProvider, domain: String? = nil, completionQueueSize: Int = 1024,
                addressVectorCapacity: Int = 64, maxTransferSize: Int? = FabricConfiguration.defaultMaxTransferSize) {
        self.provider = provider
        self.domain = domain
        self.completionQueueSize = completionQueueSize
        self.addressVectorCapacity = addressVectorCapacity
        self.maxTransferSize = maxTransferSize
    }
}

/// What the provider granted for an open endpoint (from the `fi_info` it was opened with).
public struct FabricInfo: Sendable, Equatable, CustomStringConvertible {
    /// The provider stack actually in use, e.g. `"tcp;ofi_rxm"`.
    public let providerName: String
    /// The fabric name (for tcp: the subnet).
    public let fabricName: String
    /// The domain name (for tcp: the interface).
    public let domainName: String
    /// The memory-registration mode bits in force.
    public let memoryRegistrationMode: MemoryRegistrationMode
    /// The provider's largest message (`ep_attr->max_msg_size`).
    public let maxMessageSize: Int
    /// Transmit-queue depth (`tx_attr->size`).
    public let transmitQueueSize: Int
    /// Size of a remote key in bytes (`domain_attr->mr_key_size`).
    public let keySize: Int

    /// One line: provider, fabric, domain, MR mode, limits.
    public var description: String {
        "\(providerName) fabric=\(fabricName) domain=\(domainName) mr_mode=\(memoryRegistrationMode) max_msg=\(maxMessageSize) tx=\(transmitQueueSize)"
    }
}

/// The memory-registration mode bits (`domain_attr->mr_mode`) the wrapper understands.
public struct MemoryRegistrationMode: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The raw bits, in libfabric's `FI_MR_*` values.
    public let rawValue: Int
    /// Creates a mode from raw `FI_MR_*` bits.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `FI_MR_LOCAL`: local buffers must be registered and their descriptor passed.
    public static let local = MemoryRegistrationMode(rawValue: Int(chrono_fi_mr_local()))
    /// `FI_MR_VIRT_ADDR`: remote addresses are virtual addresses, not offsets.
    public static let virtualAddress = MemoryRegistrationMode(rawValue: Int(chrono_fi_mr_virt_addr()))
    /// `FI_MR_ALLOCATED`: only allocated memory may be registered.
    public static let allocated = MemoryRegistrationMode(rawValue: Int(chrono_fi_mr_allocated()))
    /// `FI_MR_PROV_KEY`: the provider chooses the remote key.
    public static let providerKey = MemoryRegistrationMode(rawValue: Int(chrono_fi_mr_prov_key()))
    /// `FI_MR_ENDPOINT`: a region must be bound to the endpoint and enabled.
    public static let endpoint = MemoryRegistrationMode(rawValue: Int(chrono_fi_mr_endpoint()))
    /// `FI_MR_RAW`: keys larger than 64 bits (not supported by this wrapper; never requested).
    public static let raw = MemoryRegistrationMode(rawValue: Int(chrono_fi_mr_raw()))

    /// The bits this wrapper asks for and handles.
    public static let handled: MemoryRegistrationMode = [.local, .virtualAddress, .allocated, .providerKey, .endpoint]

    /// Names of the bits set, e.g. `[local, virtualAddress]`.
    public var description: String {
        let names: [(MemoryRegistrationMode, String)] = [
            (.local, "local"), (.virtualAddress, "virtualAddress"), (.allocated, "allocated"),
            (.providerKey, "providerKey"), (.endpoint, "endpoint"), (.raw, "raw"),
        ]
        let set = names.filter { contains($0.0) }.map(\.1)
        let known = names.reduce(0) { $0 | $1.0.rawValue }
        let other = rawValue & ~known
        return "[" + (set + (other != 0 ? ["0x" + String(other, radix: 16)] : [])).joined(separator: ", ") + "]"
    }
}
