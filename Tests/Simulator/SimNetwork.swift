import ChronoRuntime

/// The simulated control plane: every message posted by any rank, delivered after a delay drawn
/// from the run's generator. Keeps MPI's guarantee (messages from one rank to another under one
/// tag arrive in the order posted) and nothing more: across senders and tags, order is the
/// delays'. One thread; no locking.
public final class SimNetwork {
    struct Message {
        let sequence: UInt64
        let source: Int
        let tag: ControlTag
        let bytes: [UInt8]
        let deliverAt: ContinuousClock.Instant
    }

    private struct Lane: Hashable {
        let source: Int
        let destination: Int
        let tag: ControlTag
    }

    private let world: SimWorld
    private var inboxes: [Int: [Message]] = [:]
    private var laneLast: [Lane: ContinuousClock.Instant] = [:]
    private var sequence: UInt64 = 0
    /// Messages posted, for the run's report.
    public private(set) var posted = 0
    /// A filter the mutations use to lose a message (returns false to drop it).
    var keep: (_ source: Int, _ destination: Int, _ tag: ControlTag, _ bytes: [UInt8]) -> Bool = { _, _, _, _ in true }
    /// Mutation: ignore per-lane order (break MPI's non-overtaking guarantee).
    var reordersLanes = false
    /// A rewrite the mutations use to change a message on its way (returns the bytes delivered).
    var rewrite: ((_ source: Int, _ destination: Int, _ tag: ControlTag, _ bytes: [UInt8]) -> [UInt8])?

    init(world: SimWorld) { self.world = world }

    func post(_ bytes: [UInt8], from source: Int, to destination: Int, tag: ControlTag) {
        posted += 1
        guard keep(source, destination, tag, bytes) else { return }
        let bytes = rewrite?(source, destination, tag, bytes) ?? bytes
        let lane = Lane(source: source, destination: destination, tag: tag)
        var at = world.clock.instant() + world.messageDelay()
        // What the grapher posts in the step of an archive round leaves once the round returned
        // (committed); only where a kill can find a round in progress (SimRestart.swift).
        if let returns = world.roundReturns(of: source) { at = at + (returns - world.clock.instant()) }
        if !reordersLanes, let last = laneLast[lane], last > at { at = last }
        laneLast[lane] = at
        sequence += 1
        inboxes[destination, default: []].append(Message(sequence: sequence, source: source, tag: tag, bytes: bytes, deliverAt: at))
    }

    /// The earliest delivered message for `destination` under `tag` (from `source` if given).
    func receive(at destination: Int, tag: ControlTag, from source: Int?) -> (bytes: [UInt8], source: Int)? {
        guard var inbox = inboxes[destination], !inbox.isEmpty else { return nil }
        let now = world.clock.instant()
        var best: Int?
        for (i, m) in inbox.enumerated() where m.tag == tag && m.deliverAt <= now && (source == nil || m.source == source) {
            if let b = best, (inbox[b].deliverAt, inbox[b].sequence) <= (m.deliverAt, m.sequence) { continue }
            best = i
        }
        guard let best else { return nil }
        let m = inbox.remove(at: best)
        inboxes[destination] = inbox
        return (m.bytes, m.source)
    }

    /// When the next message not yet delivered arrives.
    var nextDelivery: ContinuousClock.Instant? {
        let now = world.clock.instant()
        return inboxes.values.lazy.flatMap { $0 }.map(\.deliverAt).filter { $0 > now }.min()
    }

    /// Messages posted and not received yet.
    var inFlight: Int { inboxes.values.reduce(0) { $0 + $1.count } }
}

/// One rank's end of the simulated control plane: a ``ControlTransport`` the real roles use.
public final class SimControlTransport: ControlTransport {
    public let rank: Int
    private let network: SimNetwork

    init(rank: Int, network: SimNetwork) {
        self.rank = rank
        self.network = network
    }

    public func post(_ bytes: [UInt8], to destination: Int, tag: ControlTag) throws {
        network.post(bytes, from: rank, to: destination, tag: tag)
    }

    public func poll(tag: ControlTag, from source: Int?) throws -> (bytes: [UInt8], source: Int)? {
        network.receive(at: rank, tag: tag, from: source)
    }

    @discardableResult
    public func progress() throws -> Bool { false }

    public func drainSends() throws {}
}
