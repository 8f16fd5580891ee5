import ChronoModel
import ChronoRoles
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The Swift client API: ChronoLog's client calls with its semantics (COMPAT.md), typed errors
/// whose `returnCode` is ChronoLog's integer code.
///
/// Thread-safe. Calls other than `connect()` made before `connect()` throw `.noConnection`.
public final class ChronoLogClient: @unchecked Sendable {
    /// The session this client talks through.
    public let session: ChronoSession
    /// Writer only, or writer + reader (`replayStory` needs the latter).
    public let mode: ClientMode

    private struct State {
        var clientId: ClientID?
        var clockOffset: ClockOffset?
        var held: [StoryKey: StoryHandle] = [:]
    }
    private struct StoryKey: Hashable {
        let chronicle: String
        let story: String
    }
    private let state = Mutex(State())
    private let clock = SystemClock()

    /// Creates a client; nothing is sent until `connect()`.
    public init(session: ChronoSession, mode: ClientMode = .writer) {
        self.session = session
        self.mode = mode
    }

    /// The id the visor assigned at `connect()`, or `nil` while disconnected.
    public var clientId: ClientID? { state.withLock { $0.clientId } }

    /// Whether the client is connected.
    public var isConnected: Bool { clientId != nil }

    /// This client's clock offset to the visor, measured at `connect()` (visor − client, with an
    /// error bound of half the best round trip).
    public var clockOffset: ClockOffset? { state.withLock { $0.clockOffset } }

    private func requireConnection() throws(ChronoLogError) -> ClientID {
        guard let id = clientId else { throw .noConnection("the client is not connected; call connect() first") }
        return id
    }

    private var timeoutMs: Int { session.config.timeouts.connectMs }

    // MARK: - Connection

    /// Opens a session with the visor and measures the clock offset (4 ping-pongs; the one with
    /// the smallest round trip wins). Connecting again while connected does nothing.
    /// - Throws: `.protocolVersionMismatch` (−13), `.noConnection` (−8) if the visor does not answer.
    public func connect() throws(ChronoLogError) {
        if isConnected { return }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let request = ConnectRequest(hostName: String(cString: host), pid: UInt32(getpid()),
                                     rank: Int32(session.layout.worldRank), mode: mode)
        let answer = try session.call(.connect(request), timeoutMs: timeoutMs)
        guard case .connectReply(let reply) = answer else { throw unexpected(answer) }
        if let error = ChronoLogError(code: reply.rc, detail: reply.detail) { throw error }
        var estimator = ClockOffsetEstimator()
        for sequence in 0..<4 {
            let sent = clock.now()
            let pong = try session.call(.clockPing(ClockPing(sequence: UInt32(sequence), clientSendTime: sent)), timeoutMs: timeoutMs)
            guard case .clockPong(let p) = pong else { throw unexpected(pong) }
            estimator.add(p, receivedAt: clock.now())
        }
        state.withLock {
            $0.clientId = reply.clientId
            $0.clockOffset = estimator.estimate
        }
    }

    /// Releases every story this client holds and closes the session (COMPAT: ChronoLog refuses
    /// with −4 while stories are held; this client releases them instead).
    /// - Throws: `.noConnection` (−8) if not connected.
    public func disconnect() throws(ChronoLogError) {
        let id = try requireConnection()
        try expectSuccess(try session.call(.disconnect(clientId: id), timeoutMs: timeoutMs))
        let handles = state.withLock { s in
            defer { s.held = [:]; s.clientId = nil }
            return Array(s.held.values)
        }
        for h in handles { h.invalidate() }
    }

    // MARK: - Chronicles

    /// Creates a chronicle; its attributes are kept.
    /// - Throws: `.invalidName` (−2), `.chronicleExists` (−6), `.noConnection` (−8).
    public func createChronicle(_ name: String, attributes: [String: String] = [:], flags: UInt32 = 0) throws(ChronoLogError) {
        let id = try requireConnection()
        _ = try ChronicleName(name)
        try expectSuccess(try session.call(
            .createChronicle(CreateChronicleRequest(clientId: id, chronicle: name, attributes: attributes, flags: flags)),
            timeoutMs: timeoutMs))
    }

    /// Destroys a chronicle and its stories.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound` (−3), `.storyAcquired` (−4), `.noConnection` (−8).
    public func destroyChronicle(_ name: String) throws(ChronoLogError) {
        let id = try requireConnection()
        _ = try ChronicleName(name)
        try expectSuccess(try session.call(.destroyChronicle(ChronicleRequest(clientId: id, chronicle: name)), timeoutMs: timeoutMs))
    }

    /// The names of every chronicle, sorted.
    public func showChronicles() throws(ChronoLogError) -> [String] {
        let id = try requireConnection()
        return try names(try session.call(.showChronicles(clientId: id), timeoutMs: timeoutMs))
    }

    /// The names of a chronicle's stories, sorted.
    /// - Throws: `.chronicleNotFound` (−3), `.noConnection` (−8).
    public func showStories(_ chronicle: String) throws(ChronoLogError) -> [String] {
        let id = try requireConnection()
        _ = try ChronicleName(chronicle)
        return try names(try session.call(.showStories(ChronicleRequest(clientId: id, chronicle: chronicle)), timeoutMs: timeoutMs))
    }

    // MARK: - Stories

    /// Acquires a story (creating it if needed) and returns its handle. Acquiring a story this
    /// client already holds returns the same handle.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound` (−3), `.noKeepers` (−7), `.noConnection` (−8).
    public func acquireStory(_ chronicle: String, _ story: String, attributes: [String: String] = [:], flags: UInt32 = 0)
        throws(ChronoLogError) -> StoryHandle
    {
        let id = try requireConnection()
        _ = try ChronicleName(chronicle)
        _ = try StoryName(story)
        let key = StoryKey(chronicle: chronicle, story: story)
        if let existing = state.withLock({ $0.held[key] }) { return existing }
        let answer = try session.call(
            .acquireStory(StoryRequest(clientId: id, chronicle: chronicle, story: story, attributes: attributes, flags: flags)),
            timeoutMs: max(timeoutMs, session.config.timeouts.acquireMs))
        guard case .acquireReply(let reply) = answer else { throw unexpected(answer) }
        if let error = ChronoLogError(code: reply.rc, detail: reply.detail) { throw error }
        let handle = StoryHandle(client: self, chronicle: chronicle, story: story, reply: reply)
        return state.withLock { s in
            if let existing = s.held[key] { return existing }
            s.held[key] = handle
            return handle
        }
    }

    /// Releases a story this client holds. Recording stops when its last holder releases it.
    /// - Throws: `.storyNotAcquired` (−5) if this client does not hold it, `.noConnection` (−8).
    public func releaseStory(_ chronicle: String, _ story: String) throws(ChronoLogError) {
        let id = try requireConnection()
        let key = StoryKey(chronicle: chronicle, story: story)
        guard let handle = state.withLock({ $0.held[key] }) else {
            throw .storyNotAcquired(chronicle: chronicle, story: story)
        }
        try expectSuccess(try session.call(.releaseStory(StoryRequest(clientId: id, chronicle: chronicle, story: story)),
                                           timeoutMs: timeoutMs))
        state.withLock { _ = $0.held.removeValue(forKey: key) }
        handle.invalidate()
    }

    /// Destroys a story.
    /// - Throws: `.chronicleNotFound`/`.storyNotFound` (−3), `.storyAcquired` (−4), `.noConnection` (−8).
    public func destroyStory(_ chronicle: String, _ story: String) throws(ChronoLogError) {
        let id = try requireConnection()
        _ = try ChronicleName(chronicle)
        _ = try StoryName(story)
        try expectSuccess(try session.call(.destroyStory(StoryRequest(clientId: id, chronicle: chronicle, story: story)),
                                           timeoutMs: timeoutMs))
    }

    // MARK: - Replies

    private func expectSuccess(_ answer: ControlMessage) throws(ChronoLogError) {
        guard case .reply(let reply) = answer else { throw unexpected(answer) }
        if let error = ChronoLogError(code: reply.rc, detail: reply.detail) { throw error }
    }

    private func names(_ answer: ControlMessage) throws(ChronoLogError) -> [String] {
        guard case .nameList(let list) = answer else { throw unexpected(answer) }
        if let error = ChronoLogError(code: list.rc, detail: "") { throw error }
        return list.names
    }

    private func unexpected(_ answer: ControlMessage) -> ChronoLogError {
        .unknown("unexpected answer from the visor: \(answer.type)")
    }
}

/// A story acquired by a client: where it is recorded, and (with the event path) where its
/// events go.
public final class StoryHandle: @unchecked Sendable {
    /// The chronicle's name.
    public let chronicle: String
    /// The story's name.
    public let story: String
    /// The story's stable id.
    public let storyId: StoryID
    /// The recording group that records it.
    public let groupId: UInt32
    /// World ranks of the group's keepers.
    public let keeperRanks: [Int]
    /// World rank of the group's grapher.
    public let grapherRank: Int
    /// World rank of the group's player.
    public let playerRank: Int
    private let valid = Atomic<Bool>(true)
    weak var client: ChronoLogClient?

    init(client: ChronoLogClient, chronicle: String, story: String, reply: AcquireReply) {
        self.client = client
        self.chronicle = chronicle
        self.story = story
        self.storyId = reply.storyId
        self.groupId = reply.groupId
        self.keeperRanks = reply.keeperRanks.map { Int($0) }
        self.grapherRank = Int(reply.grapherRank)
        self.playerRank = Int(reply.playerRank)
    }

    /// Whether the handle still refers to an acquired story (false after release or disconnect).
    public var isValid: Bool { valid.load(ordering: .relaxed) }

    func invalidate() { valid.store(false, ordering: .relaxed) }
}
