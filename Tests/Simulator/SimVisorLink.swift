import ChronoModel
import ChronoRuntime

/// A simulated client's conversation with the real visor (rank 0), as the real client holds it:
/// it connects first, asks one thing at a time (the visor answers under the reply tag), and at
/// its end disconnects and tells the visor its rank finished. Nothing blocks: a request is posted,
/// and its reply is taken by a later ``step()``.
///
/// Connecting measures the client's clock offset to the visor's as `ChronoLogClient.connect` does:
/// the connect exchange is a sample, then four clock pings (``ControlMessage/clockPing(_:)``), one
/// at a time, each pong a sample for the real ``ClockOffsetEstimator``.
final class SimVisorLink {
    enum State: Equatable { case unconnected, connecting, pinging, connected, disconnecting, closed }

    /// Clock pings after the connect, as the real client sends them (a process that measured in
    /// the last minute would reuse that; every simulated client is a process of its own).
    static let pings: UInt32 = 4

    let rank: Int
    let channel: SimControlTransport
    let mode: ClientMode
    private(set) var state = State.unconnected
    /// The id the visor gave this client (`.none` until connected).
    private(set) var clientId = ClientID.none
    /// Whether a request waits for its reply.
    private(set) var waiting = false
    /// The client's own clock (event time), which the pings measure against the visor's.
    let clock: any RoleClock
    /// The offset measured at connect (nil before), and the samples it took.
    private var estimator = ClockOffsetEstimator()
    private var connectSentAt: UInt64 = 0
    private var pingsSent: UInt32 = 0

    init(rank: Int, channel: SimControlTransport, mode: ClientMode, clock: any RoleClock) {
        (self.rank, self.channel, self.mode, self.clock) = (rank, channel, mode, clock)
    }

    /// The client→visor clock offset measured at connect (`ChronoLogClient`'s `clockOffset`), once connected.
    var clockOffset: ClockOffset? { state == .connected || state == .disconnecting || state == .closed ? estimator.estimate : nil }

    /// Samples the estimate took (the connect's and one per pong).
    var clockSamples: Int { estimator.sampleCount }

    /// Whether the client may ask something now.
    var ready: Bool { state == .connected && !waiting }

    /// One turn: connects first, takes a reply. - Returns: whether anything happened, and the
    /// reply to the caller's own request (not to a connect or disconnect).
    /// - Throws: `SimClientError` when the visor refuses the connect or the disconnect.
    func step() throws -> (did: Bool, reply: ControlMessage?) {
        if state == .unconnected {
            state = .connecting
            connectSentAt = clock.now()
            try send(.connect(ConnectRequest(hostName: "sim", pid: UInt32(rank), rank: Int32(rank), user: "sim", mode: mode)))
            return (true, nil)
        }
        guard waiting, let (bytes, _) = try channel.poll(tag: .reply, from: 0) else { return (false, nil) }
        waiting = false
        let message = try ControlMessage.decode(bytes)
        switch (state, message) {
        case (.connecting, .connectReply(let r)):
            guard r.rc == .success else { throw SimClientError("rank \(rank): connect refused: \(r.rc) \(r.detail)") }
            clientId = r.clientId
            estimator.add(clientSend: connectSentAt, visorTime: r.visorTime, clientReceive: clock.now())
            state = .pinging
            try ping()
            return (true, nil)
        case (.pinging, .clockPong(let pong)):
            guard pong.sequence == pingsSent - 1 else { throw SimClientError("rank \(rank): pong \(pong.sequence) for ping \(pingsSent - 1)") }
            estimator.add(pong, receivedAt: clock.now())
            if pingsSent < Self.pings {
                try ping()
            } else {
                state = .connected
            }
            return (true, nil)
        case (.disconnecting, .reply(let r)):
            guard r.rc == .success else { throw SimClientError("rank \(rank): disconnect refused: \(r.rc) \(r.detail)") }
            state = .closed
            try channel.post(ControlMessage.shutdownComplete(ShutdownComplete(rank: Int32(rank), rc: .success)).encode(),
                             to: 0, tag: .service)
            return (true, nil)
        default:
            return (true, message)
        }
    }

    /// Asks the visor `message` (call when ``ready``); its reply comes out of a later ``step()``.
    func request(_ message: ControlMessage) throws {
        precondition(ready, "a simulated client asked the visor twice at once")
        try send(message)
    }

    /// Posts to the visor a message that has no reply under the reply tag (a replay query).
    func post(_ message: ControlMessage) throws {
        try channel.post(message.encode(), to: 0, tag: .service)
    }

    /// Disconnects (call when ``ready``), then tells the visor this rank finished.
    func close() throws {
        precondition(ready, "a simulated client closed while asking the visor")
        state = .disconnecting
        try send(.disconnect(clientId: clientId))
    }

    private func ping() throws {
        try send(.clockPing(ClockPing(sequence: pingsSent, clientSendTime: clock.now())))
        pingsSent += 1
    }

    private func send(_ message: ControlMessage) throws {
        waiting = true
        try channel.post(message.encode(), to: 0, tag: .service)
    }
}

/// A simulated client got an answer no correct visor gives it.
struct SimClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
