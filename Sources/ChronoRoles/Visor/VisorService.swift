import ChronoRuntime
import ChronoSystem
import ChronoArchive
import Fabric
import ChronoModel
import Logging
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// ChronoVisor: the client portal, the chronicle/story directory, the recording-group registry
/// and the story-to-group assignment, run as one loop on the visor rank.
///
/// Every MPI call is made from the thread that calls `run()`. Acquires that arrive before every
/// planned recording process has registered are held back (up to 3/4 of the acquire timeout),
/// so a client never sees "no keepers" just because it was faster than the keepers.
public final class VisorService {
    private let channel: any ControlTransport
    private let plan: RolePlan
    /// Each rank's (possibly virtual) node, from the plan.
    private let nodeOfRank: [Int: Int]
    private let config: ChronoConfig
    private let logger: Logger
    /// Event time (clock offsets, registrations) and elapsed time (held acquires, progress, drain).
    private let clock: any RoleClock

    private var directory: ChronicleDirectory
    private var groups = RecordingGroupRegistry()
    private var clients: ClientRegistry
    /// The archive catalog: every metadata change is recorded in `archive.directory`.
    private let catalog: CatalogRecorder
    /// Chooses the group that records a new story.
    private var rng: any RandomNumberGenerator

    /// An acquire waiting for the group to acknowledge its notice (a start naming the client as
    /// the first holder, or a holder notice): the client's batches are accepted once its keepers know.
    private struct PendingAcquire {
        var awaiting: Set<Int32>
        var waiter: (rank: Int, requestId: UInt32, reply: AcquireReply)
    }
    /// Pending acquires by the ticket of the notice they wait for.
    private var pendingAcquires: [UInt64: PendingAcquire] = [:]
    /// The read grants given to each connected client: the keepers told, per story
    /// (``ControlMessage/readGrant(_:)``), withdrawn when the client disconnects.
    private var readGrants: [ClientID: [StoryID: [Int32]]] = [:]
    private var lastTicket: UInt64 = 0
    private var deferred: [(bytes: [UInt8], source: Int)] = []
    private let expectedRecorders: Set<Int32>
    private let clientRanks: Set<Int>
    private var finishedClients: Set<Int> = []
    private var shutdownReason: String?

    private enum Phase: Equatable { case running, draining(Role), done }
    private var phase = Phase.running
    private var awaitingShutdown: Set<Int32> = []
    private var undrained: UInt64 = 0
    private var signalSeenAt: ContinuousClock.Instant?

    /// Counters reported in the job summary.
    public private(set) var counters: Counters = [:]
    /// The progress lines (`progress.enabled`, `progress.intervalMs`); `nil` when off.
    private var progress: JobProgress?
    /// Where progress lines go: standard output, flushed, by default.
    public var progressOutput: (String) -> Void = { line in
        print(line)
        fflush(nil)
    }

    /// - Parameters:
    ///   - channel: the control channel (this rank must be the plan's visor).
    ///   - plan: the job's role plan.
    ///   - clock: event and elapsed time (the system's unless a test steps its own).
    ///   - catalogStore: where the archive catalog is kept; nil (the product): the file in
    ///     `archive.directory`, written by a thread of its own.
    ///   - random: chooses the group that records a new story (the system's generator unless a
    ///     simulator draws from its seed).
    /// - Throws: ``CatalogFileError`` naming the catalog of `archive.directory` when it exists but
    ///   cannot be read or holds what no job writes, or when it cannot be written.
    public init(channel: any ControlTransport, plan: RolePlan, config: ChronoConfig, logger: Logger,
                clock: any RoleClock = SystemRoleClock(), catalogStore: (any CatalogStore)? = nil,
                random: any RandomNumberGenerator = SystemRandomNumberGenerator()) throws(CatalogFileError) {
        self.clock = clock
        rng = random
        let store = catalogStore ?? CatalogWriterThread(file: CatalogFile(directory: config.archive.directory))
        let catalog = try CatalogRecorder(store: store, clock: clock)
        // Above every id the catalog handed out, and above any id an earlier job without a
        // catalog could have used (ids from the job's start time).
        let firstClientId = max(catalog.catalog.nextClientId,
                                ClientIDAllocator.jobBase(unixTimeMs: clock.now() / 1_000_000))
        do {
            directory = try ChronicleDirectory(catalog: catalog.catalog)
            try catalog.reserveClientIds(from: firstClientId)
        } catch let error as CatalogFileError {
            catalog.abandon()
            throw error
        } catch {
            catalog.abandon()
            throw CatalogFileError(path: catalog.path, problem: "holds an invalid entry: \(error)")
        }
        clients = ClientRegistry(firstClientId: firstClientId)
        self.catalog = catalog
        self.channel = channel
        self.plan = plan
        self.nodeOfRank = Dictionary(plan.assignments.map { ($0.worldRank, $0.node) }, uniquingKeysWith: { a, _ in a })
        self.config = config
        self.logger = logger
        self.expectedRecorders = Set(plan.assignments.filter { [.keeper, .grapher, .player].contains($0.role) }
            .map { Int32($0.worldRank) })
        self.clientRanks = Set(plan.ranks(of: .client))
        if config.progress.enabled { progress = JobProgress(interval: .milliseconds(config.progress.intervalMs),
                                                                   heartbeatInterval: .milliseconds(config.heartbeat.intervalMs)) }
    }

    /// Runs until every client rank has finished (or a termination signal arrived) and every
    /// recording process has drained, stage by stage: keepers, then graphers, then players.
    /// - Throws: `MPIError` if the control plane fails.
    public func run() throws {
        var backoff = IdleBackoff.serviceLoop
        while !isDone { backoff.step(didWork: try step()) }
        try finish()
    }

    /// Whether the job is over: every client finished and every recording process drained
    /// (then call ``finish()``).
    public var isDone: Bool { phase == .done }

    /// When the loop began (its first ``step()``), and until when acquires are held back.
    private var startedAt: ContinuousClock.Instant?
    private var registrationDeadline: ContinuousClock.Instant?

    /// One turn of the loop (``run()`` repeats it; a simulator steps it on its own clock): takes
    /// the waiting messages, serves held-back requests when due, writes the catalog when due and
    /// moves the shutdown on. - Returns: whether anything happened.
    /// - Throws: `MPIError` if the control plane fails.
    public func step() throws -> Bool {
        let startedAt = self.startedAt ?? clock.instant()
        // Held-back acquires are answered after 3/4 of the acquire timeout at the latest, so the
        // waiting client gets an answer (possibly "no keepers") before it gives up.
        let registrationDeadline = self.registrationDeadline ?? startedAt + config.visorRegistrationWait
        (self.startedAt, self.registrationDeadline) = (startedAt, registrationDeadline)
        var didWork = false
        var budget = 256
        while budget > 0, let (bytes, source) = try channel.poll(tag: .service) {
            budget -= 1
            didWork = true
            handle(bytes, from: source)
        }
        if holdingBack && (registrationComplete || clock.instant() >= registrationDeadline) {
            holdingBack = false
            if !registrationComplete {
                let missing = unregisteredRecorders.sorted().map(String.init).joined(separator: ",")
                logger.warning("""
                    serving clients although ranks \(missing) did not register within 3/4 of timeouts.acquireMs \
                    (\(config.timeouts.acquireMs) ms); their groups take no stories
                    """)
            }
            let held = deferred
            deferred = []
            for (bytes, source) in held { handle(bytes, from: source) }
            didWork = true
        }
        didWork = try channel.progress() || didWork
        writeCatalogIfDue()
        try advanceShutdown()
        reportProgress(elapsed: clock.instant() - startedAt)
        return didWork
    }

    /// Ends the job once ``isDone``: completes the sends, writes the catalog a last time and
    /// stops its store, and fills in the job's counters.
    /// - Throws: `MPIError` if the control plane fails.
    public func finish() throws {
        try channel.drainSends()
        finishCatalog()
        counters[.clientsConnects] = clients.totalConnects
        counters[.chronicles] = UInt64(directory.chronicles.count)
        counters[.undrainedEvents] = undrained
    }

    /// Prints a progress line when one is due, from the recording processes' latest heartbeats.
    private func reportProgress(elapsed: Duration) {
        guard var p = progress, p.isDue(at: elapsed) else { return }
        if let line = p.line(at: elapsed, totals: groups.progressTotals) { progressOutput(line) }
        progress = p
    }

    /// Planned keepers, graphers and players that have not registered.
    private var unregisteredRecorders: Set<Int32> {
        expectedRecorders.subtracting(groups.groups.values.flatMap(\.members))
    }

    /// Whether every planned keeper, grapher and player has registered.
    private var registrationComplete: Bool { unregisteredRecorders.isEmpty }

    private func bump(_ key: Counter) { counters[key, default: 0] += 1 }

    /// The request id of the message being handled, echoed in its answer (``MessageHeader/requestId``).
    private var answering: UInt32 = 0

    /// Answers the request being handled (or, with `requestId`, a request held until its group acknowledged).
    private func reply(_ message: ControlMessage, to rank: Int, requestId: UInt32? = nil) {
        do { try channel.post(message.encode(requestId: requestId ?? answering), to: rank, tag: .reply) } catch {
            logger.error("cannot reply to rank \(rank): \(error)")
        }
    }

    private func notify(_ message: ControlMessage, to rank: Int32) {
        do { try channel.post(message.encode(), to: Int(rank), tag: .service) } catch {
            logger.error("cannot notify rank \(rank): \(error)")
        }
    }

    // MARK: - Dispatch

    private func handle(_ bytes: [UInt8], from source: Int) {
        answering = MessageHeader.requestId(of: bytes) ?? 0
        let message: ControlMessage
        do {
            message = try ControlMessage.decode(bytes)
        } catch {
            bump(.messagesMalformed)
            logger.warning("malformed message from rank \(source): \(error)")
            // A client waiting for an answer gets one; recording processes never send garbage.
            if clientRanks.contains(source) { reply(.reply(GenericReply(error)), to: source) }
            return
        }
        // Only acquires and replays need the recording groups; they wait for the planned
        // processes to register.
        switch message {
        case .acquireStory, .replayRequest, .readRoute:
            if holdingBack {
                deferred.append((bytes, source))
                return
            }
        default: break
        }
        switch message {
        case .connect(let r): connect(r, from: source)
        case .clockPing(let p):
            bump(.clockPings)
            reply(.clockPong(ClockPong(sequence: p.sequence, clientSendTime: p.clientSendTime, visorTime: clock.now())), to: source)
        case .disconnect(let id): disconnect(id, from: source)
        case .createChronicle(let r):
            answer(source, client: r.clientId) { () throws(ChronoLogError) in
                try directory.createChronicle(r.chronicle, attributes: r.attributes, flags: r.flags, creator: clients.user(of: r.clientId))
                let stored = directory.chronicles[try ChronicleName(r.chronicle)]?.attributes ?? r.attributes
                catalog.change { $0.createChronicle(r.chronicle, attributes: stored, flags: r.flags) }
                bump(.chroniclesCreated)
            }
        case .destroyChronicle(let r):
            answer(source, client: r.clientId) { () throws(ChronoLogError) in
                try authorize(.write, r.chronicle, client: r.clientId, counting: .unauthorizedDestroy)
                try directory.destroyChronicle(r.chronicle)
                catalog.change { $0.destroyChronicle(r.chronicle) }
                bump(.chroniclesDestroyed)
            }
        case .acquireStory(let r): acquire(r, from: source)
        case .releaseStory(let r):
            answer(source, client: r.clientId) { () throws(ChronoLogError) in
                try release(r, client: r.clientId)
                catalog.change { $0.release(chronicle: r.chronicle, story: r.story, by: r.clientId, count: r.eventCount) }
            }
        case .destroyStory(let r):
            answer(source, client: r.clientId) { () throws(ChronoLogError) in
                try authorize(.write, r.chronicle, client: r.clientId, counting: .unauthorizedDestroy)
                try directory.destroyStory(chronicle: r.chronicle, story: r.story)
                catalog.change { $0.destroyStory(chronicle: r.chronicle, story: r.story) }
                bump(.storiesDestroyed)
            }
        case .showChronicles(let id):
            do throws(ChronoLogError) {
                try clients.validate(id, fromRank: source)
                reply(.nameList(NameListReply(rc: .success, names: directory.chronicleNames())), to: source)
            } catch {
                reply(.nameList(NameListReply(rc: error.returnCode, names: [])), to: source)
            }
        case .showStories(let r):
            do throws(ChronoLogError) {
                try clients.validate(r.clientId, fromRank: source)
                reply(.nameList(NameListReply(rc: .success, names: try directory.storyNames(chronicle: r.chronicle))), to: source)
            } catch {
                reply(.nameList(NameListReply(rc: error.returnCode, names: [])), to: source)
            }
        case .register(let r):
            guard fromRecorder(source, claiming: r.rank, message) else { return }
            groups.register(r, now: clock.now())
            logger.debug("registered \(r.role) rank \(r.rank) in group \(r.groupId)")
        case .heartbeat(let h):
            guard fromRecorder(source, claiming: h.rank, message) else { return }
            groups.heartbeat(h, now: clock.now())
            if let startedAt { progress?.heartbeat(rank: h.rank, role: h.role, counters: h.counters, at: clock.instant() - startedAt) }
        case .recordingAck(let ack):
            guard fromRecorder(source, claiming: ack.rank, message) else { return }
            recordingAcknowledged(ack)
        case .shutdownComplete(let c):
            shutdownCompleted(c, from: source)
        case .replayRequest(let r):
            routeReplay(r, from: source)
        case .readRoute(let r):
            grantRead(r, from: source)
        default:
            bump(.messagesUnexpected)
            logger.warning("unexpected \(message.type) from rank \(source)")
        }
    }

    /// Whether a recording process's message comes from the planned keeper, grapher or player it
    /// names. A client rank claiming to be one (to register a group, or to acknowledge a notice for
    /// a keeper that has not seen it yet) is refused and counted (`messages.forged`).
    private func fromRecorder(_ source: Int, claiming rank: Int32, _ message: ControlMessage) -> Bool {
        guard Int(rank) == source, expectedRecorders.contains(rank) else {
            bump(.messagesForged)
            logger.warning("refused \(message.type) from rank \(source) claiming rank \(rank)")
            return false
        }
        return true
    }

    /// Checks a client's right to `operation` on a chronicle (``ChronicleAccess``), counting refusals.
    /// - Throws: `.notAuthorized` (−9), `.invalidName` (−2).
    private func authorize(_ operation: ChronicleAccess.Operation, _ chronicle: String, client: ClientID,
                           counting counter: Counter) throws(ChronoLogError) {
        do throws(ChronoLogError) {
            try directory.authorize(operation, chronicle: chronicle, user: clients.user(of: client))
        } catch {
            if case .notAuthorized = error { bump(counter) }
            throw error
        }
    }

    /// Whether client requests are still held back, waiting for the recording processes to register.
    private var holdingBack = true

    /// Runs `body` for a validated client and replies with its outcome.
    private func answer(_ source: Int, client: ClientID, _ body: () throws(ChronoLogError) -> Void) {
        do throws(ChronoLogError) {
            try clients.validate(client, fromRank: source)
            try body()
            reply(.reply(GenericReply(rc: .success)), to: source)
        } catch {
            reply(.reply(GenericReply(error)), to: source)
        }
    }

    // MARK: - Clients

    private func connect(_ r: ConnectRequest, from source: Int) {
        do {
            guard phase == .running, !ShutdownSignal.isRequested else {
                throw ChronoLogError.noConnection("the job is shutting down")
            }
            if catalog.needsReservation(next: clients.nextId) {
                do { try catalog.reserveClientIds(from: clients.nextId) } catch {
                    throw ChronoLogError.unknown("cannot reserve client ids in the archive catalog: \(error)")
                }
            }
            let id = try clients.connect(r, fromRank: source)
            reply(.connectReply(ConnectReply(rc: .success, clientId: id, visorTime: clock.now(),
                                             visorHostBoot: clock.readsHostClock ? HostBoot.id ?? [] : [],
                                             archiveIntervalMs: UInt32(clamping: config.grapher.archiveIntervalMs))), to: source)
        } catch let error as ChronoLogError {
            reply(.connectReply(ConnectReply(rc: error.returnCode, clientId: .none, visorTime: clock.now(),
                                             detail: error.replyDetail)), to: source)
        } catch {
            reply(.connectReply(ConnectReply(rc: .unknown, clientId: .none, visorTime: clock.now(), detail: "\(error)")), to: source)
        }
    }

    private func disconnect(_ id: ClientID, from source: Int) {
        answer(source, client: id) { () throws(ChronoLogError) in
            for held in directory.stories(heldBy: id) {
                try release(StoryRequest(clientId: id, chronicle: held.chronicle, story: held.story), client: id)
            }
            revokeReads(of: id)
            clients.disconnect(id)
        }
    }

    /// Withdraws a disconnecting client's read grants from the keepers that took them
    /// (`reads.revoked`), so their grant tables hold only connected readers' grants however many
    /// clients come and go. Keepers that stopped recording a story dropped its grants already.
    private func revokeReads(of id: ClientID) {
        guard let grants = readGrants.removeValue(forKey: id) else { return }
        let rank = clients.clients[id]?.rank ?? -1
        for (storyId, keepers) in grants {
            let grant = ReadGrant(ticket: 0, storyId: storyId, clientId: id, clientRank: rank)
            for keeper in keepers { notify(.readRevoke(grant), to: keeper) }
            bump(.readsRevoked)
        }
    }

    // MARK: - Stories

    private func acquire(_ r: StoryRequest, from source: Int) {
        do throws(ChronoLogError) {
            try clients.validate(r.clientId, fromRank: source)
            try authorize(.write, r.chronicle, client: r.clientId, counting: .unauthorizedAcquire)
            // Once the recording processes drain (clients finished, or the drain deadline passed
            // after a signal), no story starts recording again: a keeper that already finished it
            // would have to take it up behind its own last watermark.
            guard phase == .running else { throw .noConnection("the job is shutting down") }
            let (story, _) = try directory.acquire(chronicle: r.chronicle, story: r.story, attributes: r.attributes, by: r.clientId)
            let cname = try ChronicleName(r.chronicle)
            if let gid = story.group, let group = groups.groups[gid] {
                // Recorded already: the group learns the new holder (after the start, if that is still
                // pending: each member handles the visor's notices in order) and the client is answered
                // once every member acknowledged.
                let ticket = takeTicket()
                let notice = HolderNotice(ticket: ticket, storyId: story.id, clientId: r.clientId, clientRank: Int32(source), holds: true,
                                          writerKeeper: AcquireReply.writerKeeper(of: r.clientId, among: group.keepers))
                for member in group.members { notify(.holder(notice), to: member) }
                answer(source, acquireReply(story: story, group: group), onceAcknowledged: ticket, by: group.members)
                recordAcquire(r, story)
                return
            }
            let group: RecordingGroupRegistry.Group
            do {
                group = try groups.chooseGroup(preferring: story.lastGroup, using: &rng)
            } catch {
                _ = try? directory.release(chronicle: r.chronicle, story: r.story, by: r.clientId)
                throw error
            }
            directory.assign(group: group.id, chronicle: cname, story: story.name)
            let ticket = takeTicket()
            let notice = RecordingNotice(storyId: story.id, chronicle: r.chronicle, story: r.story, groupId: group.id,
                                         ticket: ticket, holder: r.clientId, holderRank: Int32(source),
                                         holderKeeper: AcquireReply.writerKeeper(of: r.clientId, among: group.keepers))
            for member in group.members { notify(.startRecording(notice), to: member) }
            answer(source, acquireReply(story: story, group: group), onceAcknowledged: ticket, by: group.members)
            recordAcquire(r, story)
            bump(.recordingsStarted)
        } catch {
            reply(.acquireReply(AcquireReply(rc: error.returnCode, storyId: StoryID(rawValue: 0), groupId: 0, keeperRanks: [],
                                             grapherRank: -1, playerRank: -1, detail: error.replyDetail)), to: source)
        }
    }

    /// Counts an acquire and records its writer (and the story, when new) in the catalog.
    private func recordAcquire(_ r: StoryRequest, _ story: ChronicleDirectory.Story) {
        catalog.change { $0.acquire(chronicle: r.chronicle, story: r.story, attributes: story.attributes, by: r.clientId) }
        bump(.storiesAcquired)
    }

    /// Sends `acquire` to the client at `rank` once every one of `members` acknowledged notice `ticket`.
    private func answer(_ rank: Int, _ acquire: AcquireReply, onceAcknowledged ticket: UInt64, by members: [Int32]) {
        pendingAcquires[ticket] = PendingAcquire(awaiting: Set(members), waiter: (rank, answering, acquire))
    }

    /// A new ticket for a notice to a group.
    private func takeTicket() -> UInt64 {
        lastTicket += 1
        return lastTicket
    }

    private func acquireReply(story: ChronicleDirectory.Story, group: RecordingGroupRegistry.Group) -> AcquireReply {
        AcquireReply(rc: .success, storyId: story.id, groupId: group.id, keeperRanks: group.keepers,
                     grapherRank: group.grapher ?? -1, playerRank: group.player ?? -1)
    }

    private func recordingAcknowledged(_ ack: RecordingAck) {
        guard var pending = pendingAcquires[ack.ticket] else { return }  // a stop's or a release's ack
        pending.awaiting.remove(ack.rank)
        if ack.rc != .success { logger.warning("rank \(ack.rank) could not apply notice \(ack.ticket) for \(ack.storyId): \(ack.rc)") }
        if pending.awaiting.isEmpty {
            reply(.acquireReply(pending.waiter.reply), to: pending.waiter.rank, requestId: pending.waiter.requestId)
            pendingAcquires[ack.ticket] = nil
        } else {
            pendingAcquires[ack.ticket] = pending
        }
    }

    private func release(_ r: StoryRequest, client: ClientID) throws(ChronoLogError) {
        let cname = try ChronicleName(r.chronicle)
        let sname = try StoryName(r.story)
        let groupBefore = directory.story(chronicle: cname, story: sname)?.group
        let story = try directory.release(chronicle: r.chronicle, story: r.story, by: client)
        bump(.storiesReleased)
        guard let gid = groupBefore, let group = groups.groups[gid] else { return }
        if story.holders.isEmpty {
            let notice = RecordingNotice(storyId: story.id, chronicle: r.chronicle, story: r.story, groupId: gid, ticket: takeTicket())
            for member in group.members { notify(.stopRecording(notice), to: member) }
            bump(.recordingsStopped)
        } else {
            // Others still hold it: its keepers stop accepting this client's batches.
            let notice = HolderNotice(ticket: takeTicket(), storyId: story.id, clientId: client,
                                      clientRank: clients.clients[client]?.rank ?? -1, holds: false)
            for keeper in group.keepers { notify(.holder(notice), to: keeper) }
        }
    }

    // MARK: - Replay

    /// Forwards a client's replay query to the player of the group that records (or last recorded)
    /// the story, with that group's keepers (they hold events not archived yet); a story no group
    /// recorded goes to a player chosen by the story's id (it may be in the archive of an earlier
    /// job). Errors are answered at once, as a single last piece on the replay tag.
    private func routeReplay(_ r: ReplayRequest, from source: Int) {
        bump(.replaysRouted)
        var failure: ChronoLogError
        do throws(ChronoLogError) {
            let (player, forwarded) = try replayRoute(r, from: source)
            do {
                try channel.post(ControlMessage.replayRequest(forwarded).encode(), to: Int(player), tag: .replay)
                return
            } catch {
                failure = .unknown("cannot forward the replay query to player rank \(player): \(error)")
            }
        } catch {
            failure = error
        }
        bump(.replaysRefused)
        let piece = ReplayPiece(queryId: r.queryId, rc: failure.returnCode, pieceNumber: 0, isLast: true, chunk: nil,
                                detail: failure.replyDetail)
        do { try channel.post(ControlMessage.replayPiece(piece).encode(), to: source, tag: .replay) } catch {
            logger.error("cannot answer replay query \(r.queryId) of rank \(source): \(error)")
        }
    }

    /// Answers a reader's route request for "last N" queries sent straight to the story's keepers.
    /// The client and its right to read are checked as for a replay (`access.read`, refusals
    /// counted in `unauthorized.replay`); for a story recorded now, without events hidden from
    /// replays, the group's keepers are told that this client, at this rank, may read it
    /// (``ReadGrant``), and the client gets the keepers once every one took the grant
    /// (`reads.granted`). Any other story is answered with no keepers (`reads.declined`): the
    /// client reads it through the player.
    private func grantRead(_ r: StoryRequest, from source: Int) {
        do throws(ChronoLogError) {
            try clients.validate(r.clientId, fromRank: source)
            guard clients.clients[r.clientId]?.mode == .writerReader else { throw .notReaderMode }
            try authorize(.read, r.chronicle, client: r.clientId, counting: .unauthorizedReplay)
            let story = directory.story(chronicle: try ChronicleName(r.chronicle), story: try StoryName(r.story))
            guard let story, let gid = story.group, let group = groups.groups[gid], !group.keepers.isEmpty,
                  catalog.catalog.story(chronicle: r.chronicle, story: r.story)?.hidden.isEmpty ?? true else {
                bump(.readsDeclined)
                reply(.acquireReply(AcquireReply(rc: .success, storyId: StoryID(rawValue: 0), groupId: 0, keeperRanks: [],
                                                 grapherRank: -1, playerRank: -1)), to: source)
                return
            }
            let ticket = takeTicket()
            let grant = ReadGrant(ticket: ticket, storyId: story.id, clientId: r.clientId, clientRank: Int32(source))
            for keeper in group.keepers { notify(.readGrant(grant), to: keeper) }
            readGrants[r.clientId, default: [:]][story.id] = group.keepers
            answer(source, acquireReply(story: story, group: group), onceAcknowledged: ticket, by: group.keepers)
            bump(.readsGranted)
        } catch {
            reply(.acquireReply(AcquireReply(rc: error.returnCode, storyId: StoryID(rawValue: 0), groupId: 0, keeperRanks: [],
                                             grapherRank: -1, playerRank: -1, detail: error.replyDetail)), to: source)
        }
    }

    /// Where a replay query goes, and the query as forwarded.
    /// - Throws: `.noConnection` (−8) for an unknown client, `.notReaderMode` (−11) for a writer-only
    ///   client, `.invalidName` (−2), `.noPlayers` (−10).
    private func replayRoute(_ r: ReplayRequest, from source: Int) throws(ChronoLogError) -> (Int32, ReplayRequest) {
        try clients.validate(r.clientId, fromRank: source)
        guard clients.clients[r.clientId]?.mode == .writerReader else { throw .notReaderMode }
        try authorize(.read, r.chronicle, client: r.clientId, counting: .unauthorizedReplay)
        let cname = try ChronicleName(r.chronicle)
        let sname = try StoryName(r.story)
        let known = directory.story(chronicle: cname, story: sname)
        if known == nil, catalog.catalog.isDestroyed(chronicle: r.chronicle, story: r.story) {
            throw .storyNotFound(chronicle: r.chronicle, story: r.story)
        }
        let group = (known?.group ?? known?.lastGroup).flatMap { groups.groups[$0] }
        let players = groups.groups.values.compactMap(\.player).sorted()
        let id = StoryID(chronicle: cname, story: sname)
        guard let player = group?.player ?? (players.isEmpty ? nil : players[Int(id.rawValue % UInt64(players.count))]) else {
            throw .noPlayers
        }
        var forwarded = r
        forwarded.clientRank = Int32(source)
        forwarded.keeperRanks = group?.keepers ?? []
        forwarded.storyKnown = known != nil
        forwarded.hidden = (catalog.catalog.story(chronicle: r.chronicle, story: r.story)?.hidden ?? []).map {
            .init(client: $0.client, below: $0.count ?? .max)
        }
        forwarded.earlierWriters = catalog.catalog.story(chronicle: r.chronicle, story: r.story)?
            .earlierWriters(before: clients.firstId) ?? []
        // The provider is chosen per pair: RMA where it reaches (shm: the same node), otherwise
        // the pieces travel inline over MPI, which crosses nodes on whatever the job's MPI uses.
        let sameNode = nodeOfRank[source] != nil && nodeOfRank[source] == nodeOfRank[Int(player)]
        if !config.fabric.reachesOtherNodes, !sameNode {
            forwarded.readerAddress = []
            bump(.replaysAcrossNodes)
        }
        // Only a reader on the player's node may copy payloads from the player's archive file.
        forwarded.readerOnPlayerNode = sameNode
        return (player, forwarded)
    }

    // MARK: - Catalog

    /// Whether the catalog could not be written at shutdown (the job's status is then 1).
    public private(set) var catalogLost = false

    private func writeCatalogIfDue() {
        guard let error = catalog.writeIfDue() else { return }
        bump(.catalogWriteErrors)
        logger.error("\(error) (retried within \(CatalogRecorder.writeInterval))")
    }

    /// The last write, at shutdown.
    private func finishCatalog() {
        do {
            let counts = try catalog.finish()
            counters[.catalogWrites] = counts.writes
        } catch {
            catalogLost = true
            logger.error("\(error): this job's chronicle and story changes are not recorded")
        }
    }

    // MARK: - Shutdown

    private func shutdownCompleted(_ c: ShutdownComplete, from source: Int) {
        if clientRanks.contains(source) {
            finishedClients.insert(source)
            disconnectClients(ofRank: source)
            return
        }
        guard fromRecorder(source, claiming: c.rank, .shutdownComplete(c)) else { return }
        undrained += c.undrainedEvents
        awaitingShutdown.remove(c.rank)
    }

    /// A client rank finished with clients still connected (its workload failed, or never
    /// disconnected): they are disconnected, which releases what they hold, so recording of those
    /// stories stops now instead of holding the drain back.
    private func disconnectClients(ofRank rank: Int) {
        for entry in clients.clients.values where entry.rank == Int32(rank) {
            let held = directory.stories(heldBy: entry.id)
            for h in held {
                do { try release(StoryRequest(clientId: entry.id, chronicle: h.chronicle, story: h.story), client: entry.id) } catch {
                    logger.error("cannot release \(h.chronicle)/\(h.story) of client \(entry.id): \(error)")
                }
            }
            revokeReads(of: entry.id)
            clients.disconnect(entry.id)
            bump(.clientsAbandoned)
            logger.warning("rank \(rank) finished with client \(entry.id) still connected: released its \(held.count) stories")
        }
    }

    private func advanceShutdown() throws {
        switch phase {
        case .running:
            let allClientsDone = finishedClients.isSuperset(of: clientRanks)
            if !allClientsDone {
                guard ShutdownSignal.isRequested else { return }
                // On a signal, keep serving the clients (they release, flush and disconnect)
                // until every client rank has finished or the drain deadline has passed.
                let now = clock.instant()
                if signalSeenAt == nil {
                    signalSeenAt = now
                    logger.notice("signal \(ShutdownSignal.signalNumber ?? 0): waiting for clients to finish")
                }
                guard let seen = signalSeenAt, now >= seen + .milliseconds(config.timeouts.shutdownDrainMs) else { return }
                logger.warning("clients \(clientRanks.subtracting(finishedClients).sorted()) did not finish before the drain deadline")
            }
            shutdownReason = allClientsDone ? "all clients finished" : "signal \(ShutdownSignal.signalNumber ?? 0)"
            holdingBack = false
            let held = deferred
            deferred = []
            for (bytes, source) in held { handle(bytes, from: source) }
            try beginDrain(.keeper)
        case .draining(let role):
            guard awaitingShutdown.isEmpty else { return }
            switch role {
            case .keeper: try beginDrain(.grapher)
            case .grapher: try beginDrain(.player)
            case .player, .visor, .client: phase = .done
            }
        case .done:
            return
        }
    }

    private func beginDrain(_ role: Role) throws {
        let ranks = plan.ranks(of: role).map { Int32($0) }
        phase = .draining(role)
        awaitingShutdown = Set(ranks)
        let request = ShutdownRequest(drain: true, deadlineMilliseconds: UInt64(config.timeouts.shutdownDrainMs),
                                      reason: shutdownReason ?? "")
        for rank in ranks { notify(.shutdown(request), to: rank) }
        if ranks.isEmpty { try advanceShutdown() }
    }
}
