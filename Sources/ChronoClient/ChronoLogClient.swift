import ChronoModel
import ChronoSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The Swift client API: ChronoLog's client calls with its semantics (COMPAT.md), typed errors
/// whose `returnCode` is ChronoLog's integer code.
///
/// Thread-safe. Calls other than `connect()` made before `connect()` throw `.noConnection`, once their
/// names passed the rules (a bad name is −2 first, as ChronoLog checks its arguments before its connection).
public final class ChronoLogClient: @unchecked Sendable {
    /// The session this client talks through.
    public let session: ChronoSession
    /// Writer only, or writer + reader (`replayStory` needs the latter).
    public let mode: ClientMode
    /// The client's name: its identity for chronicle access (a chronicle's `owner`,
    /// `access.write`, `access.read`; README "Owners and access"), sent at `connect()`.
    public let user: String

    private struct State {
        var clientId: ClientID?
        var clockOffset: ClockOffset?
        /// The service's `grapher.archiveIntervalMs`, from the connect reply (0: not said).
        var serviceArchiveIntervalMs: UInt32 = 0
        var held: [StoryKey: StoryHandle] = [:]
        /// Where this client id's indexes continue when it re-acquires a released story.
        var nextIndexes: [StoryID: UInt32] = [:]
        /// Where this client sends its "last N" queries of each story it read (``ReadRoute``).
        var readRoutes: [StoryKey: ReadRoute] = [:]
    }
    struct StoryKey: Hashable {
        let chronicle: String
        let story: String
    }
    private let state = Mutex(State())
    /// This client's raw clock (the system clock, plus a test harness's skew).
    private var clock: OffsetClock<SystemClock> {
        OffsetClock(base: SystemClock(), offset: session.seams.clockSkewNanoseconds)
    }

    /// Creates a client; nothing is sent until `connect()`.
    /// - Parameter user: the client's name for chronicle access; by default the process's user
    ///   name (every rank of one MPI job usually shares it, so give distinct names to tell ranks apart).
    public init(session: ChronoSession, mode: ClientMode = .writer, user: String? = nil) {
        self.session = session
        self.mode = mode
        self.user = user ?? Self.processUser
    }

    /// The name of the process's effective user (`getpwuid`), else `$USER`, else `uid-N`.
    public static var processUser: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name, name.pointee != 0 { return String(cString: name) }
        if let name = getenv("USER"), name.pointee != 0 { return String(cString: name) }
        return "uid-\(geteuid())"
    }

    /// The id the visor assigned at `connect()`, or `nil` while disconnected.
    public var clientId: ClientID? { state.withLock { $0.clientId } }

    /// Whether the client is connected.
    public var isConnected: Bool { clientId != nil }

    /// This client's clock offset to the visor, measured at `connect()` (visor − client, with an
    /// error bound of half the best round trip).
    public var clockOffset: ClockOffset? { state.withLock { $0.clockOffset } }

    /// The cached read route of a story (nil: ask the visor).
    func readRoute(_ key: StoryKey) -> ReadRoute? { state.withLock { $0.readRoutes[key] } }

    /// Caches (or, with nil, forgets) the read route of a story.
    func setReadRoute(_ route: ReadRoute?, for key: StoryKey) { state.withLock { $0.readRoutes[key] = route } }

    func requireConnection() throws(ChronoLogError) -> ClientID {
        guard let id = clientId else { throw .noConnection("the client is not connected; call connect() first") }
        try session.requireUsable()
        return id
    }

    /// Throws `.noConnection` unless the client is connected and its session still reaches the
    /// service (not finished; attached: no goodbye from the gateway).
    public func requireReachable() throws(ChronoLogError) {
        _ = try requireConnection()
    }

    private var timeoutMs: Int { session.config.timeouts.connectMs }

    // MARK: - Connection

    /// How long a clock offset measured by ping-pongs is reused by later connects of this process.
    static let clockOffsetReuse: Duration = .seconds(60)

    /// Opens a session with the visor and measures the clock offset: 0 exactly on the visor's host
    /// (the visor reads the host's clock and names the host's boot); elsewhere the connect exchange
    /// itself is a sample, plus 4 ping-pongs (the sample with the smallest round trip wins). A process
    /// that measured within the last minute (an earlier connect) reuses that estimate with the
    /// connect's sample instead of pinging again, so reconnecting costs one round trip.
    /// Connecting again while connected does nothing (−8 when the session cannot reach the service
    /// any more: finished, or dropped by an attach gateway).
    /// - Throws: `.protocolVersionMismatch` (−13), `.noConnection` (−8) if the visor does not answer.
    public func connect() throws(ChronoLogError) {
        // Connected already: nothing to do, unless the service can no longer be reached.
        if isConnected { return try session.requireUsable() }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let request = ConnectRequest(hostName: String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), pid: UInt32(getpid()),
                                     rank: Int32(session.layout.worldRank), user: user, mode: mode)
        let connectSent = clock.now()
        let answer = try session.call(.connect(request), timeoutMs: timeoutMs)
        guard case .connectReply(let reply) = answer else { throw unexpected(answer) }
        if let error = ChronoLogError(code: reply.rc, detail: reply.detail) { throw error }
        // On the visor's host (the same boot), with the host's clock on both sides, the offset is 0.
        if !reply.visorHostBoot.isEmpty, reply.visorHostBoot == HostBoot.id, session.seams.clockSkewNanoseconds == 0 {
            state.withLock {
                $0.clientId = reply.clientId
                $0.clockOffset = ClockOffset(offset: 0, errorBound: 0)
                $0.serviceArchiveIntervalMs = reply.archiveIntervalMs
            }
            return
        }
        var estimator = ClockOffsetEstimator()
        estimator.add(clientSend: connectSent, visorTime: reply.visorTime, clientReceive: clock.now())
        let recent = session.measuredClockOffset.withLock { m in
            m.flatMap { ContinuousClock.now - $0.at < Self.clockOffsetReuse ? $0.offset : nil }
        }
        if let recent {
            estimator.add(recent)
        } else {
            for sequence in 0..<4 {
                let sent = clock.now()
                let pong = try session.call(.clockPing(ClockPing(sequence: UInt32(sequence), clientSendTime: sent)), timeoutMs: timeoutMs)
                guard case .clockPong(let p) = pong else { throw unexpected(pong) }
                estimator.add(p, receivedAt: clock.now())
            }
            if let measured = estimator.estimate {
                session.measuredClockOffset.withLock { $0 = (measured, ContinuousClock.now) }
            }
        }
        state.withLock {
            $0.serviceArchiveIntervalMs = reply.archiveIntervalMs
            $0.clientId = reply.clientId
            $0.clockOffset = estimator.estimate
        }
    }

    /// Flushes and releases every story this client holds, then closes the session (COMPAT:
    /// ChronoLog refuses with −4 while stories are held; this client releases them instead).
    /// Every held handle's buffered events are shipped and acknowledged, and its keeper is told
    /// (watermark `UInt64.max`) that this client contributes nothing more, before the visor is told.
    /// - Throws: `.noConnection` (−8) if not connected, or if a keeper stalls or the channel fails
    ///   while flushing (the client is disconnected anyway).
    public func disconnect() throws(ChronoLogError) {
        let id = try requireConnection()
        let handles = state.withLock { Array($0.held.values) }
        var flushError: ChronoLogError?
        for h in handles {
            do { try closeIngest(of: h) } catch { flushError = flushError ?? error }
            // Released one by one so the visor records each story's event count in the catalog.
            do {
                try expectSuccess(try session.call(.releaseStory(StoryRequest(
                    clientId: id, chronicle: h.chronicle, story: h.story, eventCount: UInt64(h.ingest.nextIndex))), timeoutMs: timeoutMs))
            } catch {
                flushError = flushError ?? error
            }
        }
        try expectSuccess(try session.call(.disconnect(clientId: id), timeoutMs: timeoutMs))
        state.withLock { s in
            s.held = [:]
            s.clientId = nil
            s.clockOffset = nil
            s.nextIndexes = [:]
            s.readRoutes = [:]
        }
        for h in handles { h.invalidate() }
        if let flushError { throw flushError }
    }

    /// Closes a handle's event buffer (flush, final watermark, wait for acknowledgements), keeps
    /// where its indexes continue and moves its counters to the session totals.
    private func closeIngest(of handle: StoryHandle) throws(ChronoLogError) {
        defer {
            let next = handle.ingest.nextIndex
            state.withLock { $0.nextIndexes[handle.storyId] = next }
            if let context = try? session.ingestContext() { context.retire(handle.ingest) }
        }
        try handle.ingest.close()
    }

    // MARK: - Chronicles

    /// Creates a chronicle; its attributes are kept. `owner` (default: this client's ``user``),
    /// `access.write` and `access.read` (`owner` or `all`, default `all`) say who may acquire its
    /// stories or destroy them, and who may replay them (``ChronicleAccess``).
    /// - Throws: `.invalidName` (−2), `.invalidArgument` (−2) for a bad access value,
    ///   `.chronicleExists` (−6), `.noConnection` (−8).
    public func createChronicle(_ name: String, attributes: [String: String] = [:], flags: UInt32 = 0) throws(ChronoLogError) {
        _ = try ChronicleName(name)
        try Self.checkAttributes(attributes)
        let id = try requireConnection()
        try expectSuccess(try session.call(
            .createChronicle(CreateChronicleRequest(clientId: id, chronicle: name, attributes: attributes, flags: flags)),
            timeoutMs: timeoutMs))
    }

    /// Destroys a chronicle and its stories.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound` (−3), `.storyAcquired` (−4), `.noConnection` (−8),
    ///   `.notAuthorized` (−9) when the chronicle's `access.write` is `owner` and this client is not it.
    public func destroyChronicle(_ name: String) throws(ChronoLogError) {
        _ = try ChronicleName(name)
        let id = try requireConnection()
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
        _ = try ChronicleName(chronicle)
        let id = try requireConnection()
        return try names(try session.call(.showStories(ChronicleRequest(clientId: id, chronicle: chronicle)), timeoutMs: timeoutMs))
    }

    // MARK: - Stories

    /// Acquires a story (creating it if needed) and returns its handle. Acquiring a story this
    /// client already holds returns the same handle. The story's keeper waits for this client's
    /// events from the moment the visor answers (the visor names the client to it first), so no
    /// event logged through the handle can find its time range already sealed.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound` (−3), `.noKeepers` (−7), `.noConnection` (−8),
    ///   `.notAuthorized` (−9) when the chronicle's `access.write` is `owner` and this client is not it.
    public func acquireStory(_ chronicle: String, _ story: String, attributes: [String: String] = [:], flags: UInt32 = 0)
        throws(ChronoLogError) -> StoryHandle
    {
        _ = try ChronicleName(chronicle)
        _ = try StoryName(story)
        try Self.checkAttributes(attributes)
        let id = try requireConnection()
        let key = StoryKey(chronicle: chronicle, story: story)
        if let existing = state.withLock({ $0.held[key] }) { return existing }
        let context = try session.ingestContext()
        let answer = try session.call(
            .acquireStory(StoryRequest(clientId: id, chronicle: chronicle, story: story, attributes: attributes, flags: flags)),
            timeoutMs: max(timeoutMs, session.config.timeouts.acquireMs))
        guard case .acquireReply(let reply) = answer else { throw unexpected(answer) }
        if let error = ChronoLogError(code: reply.rc, detail: reply.detail) { throw error }
        let offset = (clockOffset?.offset ?? 0) + session.seams.clockDriftNanoseconds
        return state.withLock { s in
            if let existing = s.held[key] { return existing }
            let handle = StoryHandle(client: self, chronicle: chronicle, story: story, reply: reply, clientId: id,
                                     firstIndex: s.nextIndexes[reply.storyId] ?? 0,
                                     clock: OffsetClock(base: clock, offset: offset), context: context,
                                     settings: IngestSettings(config: session.config, serviceArchiveIntervalMs: s.serviceArchiveIntervalMs))
            s.held[key] = handle
            // No round trip to the keeper here: it took the visor's notice naming this client
            // before the visor answered, and waits for the client's events from then on. The
            // flusher's first round sends the watermark-only batch that moves its watermark to now.
            context.router.add(handle.ingest)
            return handle
        }
    }

    /// Releases a story this client holds: ships its buffered events, sends the final watermark
    /// (`UInt64.max`: this client contributes nothing more), waits for the keeper's
    /// acknowledgements, then tells the visor. Recording stops when its last holder releases it.
    /// Re-acquiring it later continues this client's event indexes.
    /// - Throws: `.invalidName` (−2) for a name that breaks the rules (ChronoLog: −2 for an empty
    ///   one); `.storyNotAcquired` (−5) if this client does not hold it; `.noConnection` (−8) if
    ///   the visor does not answer, or the keeper stalls or the channel fails while flushing (the
    ///   story is released anyway).
    public func releaseStory(_ chronicle: String, _ story: String) throws(ChronoLogError) {
        _ = try ChronicleName(chronicle)
        _ = try StoryName(story)
        let id = try requireConnection()
        let key = StoryKey(chronicle: chronicle, story: story)
        guard let handle = state.withLock({ $0.held[key] }) else {
            throw .storyNotAcquired(chronicle: chronicle, story: story)
        }
        var flushError: ChronoLogError?
        do { try closeIngest(of: handle) } catch { flushError = error }
        try expectSuccess(try session.call(.releaseStory(StoryRequest(clientId: id, chronicle: chronicle, story: story,
                                                                      eventCount: UInt64(handle.ingest.nextIndex))),
                                           timeoutMs: timeoutMs))
        state.withLock { s in
            if s.held[key] === handle { s.held[key] = nil }
        }
        handle.invalidate()
        if let flushError { throw flushError }
    }

    /// Destroys a story.
    /// - Throws: `.chronicleNotFound`/`.storyNotFound` (−3), `.storyAcquired` (−4), `.noConnection` (−8),
    ///   `.notAuthorized` (−9) as for ``destroyChronicle(_:)``.
    public func destroyStory(_ chronicle: String, _ story: String) throws(ChronoLogError) {
        _ = try ChronicleName(chronicle)
        _ = try StoryName(story)
        let id = try requireConnection()
        try expectSuccess(try session.call(.destroyStory(StoryRequest(clientId: id, chronicle: chronicle, story: story)),
                                           timeoutMs: timeoutMs))
    }

    /// Refuses attributes the visor could not decode (``WireLimits/default``): more than `maxMapCount`
    /// of them, or a key or value of more than `maxStringBytes` of UTF-8. Checked here, the call is −2
    /// at once instead of a message the visor drops as malformed (and logs as such).
    /// - Throws: `.invalidArgument` (−2).
    static func checkAttributes(_ attributes: [String: String]) throws(ChronoLogError) {
        let limits = WireLimits.default
        guard attributes.count <= Int(limits.maxMapCount) else {
            throw .invalidArgument("\(attributes.count) attributes, more than \(limits.maxMapCount)")
        }
        for (key, value) in attributes where key.utf8.count > Int(limits.maxStringBytes) || value.utf8.count > Int(limits.maxStringBytes) {
            throw .invalidArgument("attribute '\(key.prefix(64))': key or value longer than \(limits.maxStringBytes) bytes")
        }
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
