import ChronoSystem
import Fabric
import MPI

/// Tags that separate the kinds of traffic on the job's control communicator.
public enum ControlTag: Int, Sendable, CaseIterable {
    /// Requests and notifications to a service rank (metadata calls, registration, start/stop, acks).
    case service = 11
    /// Replies to a client's (or a process's) outstanding request.
    case reply = 12
    /// Event batches, client → keeper.
    case events = 13
    /// Chunk descriptors and acks, keeper ↔ grapher.
    case bulk = 14
    /// Flow control back to a client: batch acknowledgements, keeper → client.
    case flow = 15
    /// Replay traffic: requests forwarded visor → player and player → keeper, answer pieces
    /// keeper → player and player → client, piece acknowledgements client → player, and archive
    /// leases player ↔ grapher.
    case replay = 16
}

/// Typed-message transport over a private duplicate of `MPI_COMM_WORLD`.
///
/// Sends never block the caller's loop: they are posted with `MPI_Isend` from a private copy and
/// completed by `progress()`. Receives use matched probes (`MPI_Improbe`/`MPI_Mrecv`), so
/// several threads may poll different tags safely under `MPI_THREAD_MULTIPLE`.
/// Not thread-safe itself: each instance belongs to one thread.
public final class ControlChannel {
    /// The communicator (owned; freed by `close()`, collectively over all of `MPI_COMM_WORLD`).
    public let comm: Communicator
    private var inFlight: [Request] = []
    /// Set when `comm` is an intercommunicator to an attach gateway (docs/ATTACH.md): messages
    /// then travel through the gateway, with the destination in the tag and the source in a trailer.
    public let isAttached: Bool
    /// Set once an attached channel's gateway said the service stopped: nothing is sent or
    /// received any more, every call fails at once (sends to a job that is gone would be retried
    /// by MPI's TCP transport for ever).
    public private(set) var gatewayGone = false

    /// Marks the gateway gone and abandons the sends in flight (their buffers are left to the process).
    public func markGatewayGone() {
        gatewayGone = true
        inFlight = []
    }

    private func requireGateway(_ call: String) throws {
        if gatewayGone { throw MPIError(call: call, message: "the service's gateway said goodbye (the service stopped, or dropped this process after attach.leaseMs)") }
    }

    /// Wraps an existing communicator (not owned by the channel).
    public init(communicator: Communicator) {
        self.comm = communicator
        self.isAttached = false
    }

    /// A channel of an attached process: every message goes to the gateway (remote rank 0 of
    /// `gateway`, an intercommunicator), which relays it to and from the job's ranks.
    public init(attachedThrough gateway: Communicator) {
        self.comm = gateway
        self.isAttached = true
    }

    /// This rank in the channel's communicator (equal to its world rank).
    public var rank: Int { comm.rank }

    /// Posts `bytes` to `destination` under `tag`; completion is driven by `progress()`.
    public func post(_ bytes: [UInt8], to destination: Int, tag: ControlTag) throws {
        if isAttached {
            try requireGateway("ControlChannel.post")
            inFlight.append(try comm.isend(bytes, to: 0, tag: AttachWire.relayTag(destination: destination, tag: tag)))
        } else {
            inFlight.append(try comm.isend(bytes, to: destination, tag: tag.rawValue))
        }
    }

    /// Posts a whole message that lives in `bytes`, sent from the array's own storage (no copy); once
    /// sent, the array goes to `release` (``Communicator/isend(adopting:to:tag:release:)``).
    public func post(adopting bytes: consuming [UInt8], to destination: Int, tag: ControlTag,
                     release: @escaping @Sendable (consuming [UInt8]) -> Void) throws {
        if isAttached {
            try requireGateway("ControlChannel.post")
            inFlight.append(try comm.isend(adopting: consume bytes, to: 0, tag: AttachWire.relayTag(destination: destination, tag: tag),
                                           release: release))
        } else {
            inFlight.append(try comm.isend(adopting: consume bytes, to: destination, tag: tag.rawValue, release: release))
        }
    }

    /// Forwards the bytes a completed receive got to `destination` under `tag`, from the receive's
    /// own buffer (no copy; an attach gateway relaying a batch). Not on an attached channel.
    public func post(forwarding received: Request, to destination: Int, tag: ControlTag) throws {
        guard !isAttached else { throw MPIError(call: "ControlChannel.post", message: "forwarding from an attached channel") }
        inFlight.append(try comm.isend(forwarding: received, to: destination, tag: tag.rawValue))
    }

    /// Posts a message of the attach protocol itself (hello, keep-alive, goodbye) to the gateway.
    public func postToGateway(_ bytes: [UInt8], tag: AttachWire.GatewayTag) throws {
        try requireGateway("ControlChannel.postToGateway")
        inFlight.append(try comm.isend(bytes, to: 0, tag: tag.rawValue))
    }

    /// Completes finished sends. - Returns: whether any completed.
    @discardableResult
    public func progress() throws -> Bool {
        guard !inFlight.isEmpty else { return false }
        let done = try Request.testSome(inFlight)
        guard done.contains(true) else { return false }
        var kept: [Request] = []
        kept.reserveCapacity(inFlight.count)
        for (r, finished) in zip(inFlight, done) where !finished { kept.append(r) }
        inFlight = kept
        return true
    }

    /// Sends still in flight.
    public var pendingSends: Int { inFlight.count }

    /// Receives one message under `tag` if one is waiting (optionally only from `source`).
    /// Attached, `source` is not checked: the gateway relays only what the service ranks sent to
    /// this client, and the job rank that sent it is the message's trailer.
    public func poll(tag: ControlTag, from source: Int? = nil) throws -> (bytes: [UInt8], source: Int)? {
        if isAttached {
            try requireGateway("ControlChannel.poll")
            guard let message = try comm.improbe(from: 0, tag: tag.rawValue) else { return nil }
            var bytes = try message.receive()
            guard let origin = AttachWire.stripSource(&bytes) else {
                throw MPIError(call: "ControlChannel.poll", message: "a relayed message without its source trailer")
            }
            return (bytes, origin)
        }
        guard let message = try comm.improbe(from: source, tag: tag.rawValue) else { return nil }
        return (try message.receive(), message.status.source)
    }

    /// Receives one message of the attach protocol from the gateway (its hello answer), if waiting.
    public func pollGateway(tag: AttachWire.GatewayTag) throws -> [UInt8]? {
        if gatewayGone { return nil }
        guard let message = try comm.improbe(from: 0, tag: tag.rawValue) else { return nil }
        return try message.receive()
    }

    /// Blocks the calling thread (backing off) until every posted send completed.
    public func drainSends() throws {
        var backoff = IdleBackoff.serviceLoop
        while !inFlight.isEmpty { backoff.step(didWork: try progress()) }
    }
}
