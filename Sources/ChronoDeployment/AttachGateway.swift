import ChronoClient
import ChronoModel
import ChronoRuntime
import ChronoSystem
import Foundation
import Logging
import MPI

/// The gateway of a serving job (`chronolog-job --workload serve`, docs/ATTACH.md): a client rank
/// that accepts separately started programs and relays their messages to and from the service
/// ranks, so that no visor, keeper, grapher or player ever waits on one.
///
/// Never blocks on an attached client: receives are matched probes of arrived messages, sends
/// are `MPI_Isend` completed later; a client whose sends stall, whose intercommunicator fails, or
/// that is silent for `attach.leaseMs` is dropped and its clients disconnected on its behalf
/// (which releases their stories).
public final class AttachGateway {
    private let session: ChronoSession
    private let runDirectory: RunDirectory
    private let logger: Logger
    private let lease: Duration
    private var tokens: (write: String, read: String?)
    private var peers: [Int: AttachedPeer] = [:]
    private var nextPeer = 1
    /// Who awaits each of the visor's answers, by the request id it will echo (attached sessions
    /// number their requests from random ids, so peers' ids stay apart).
    private var awaitedReplies: [UInt32: Awaited] = [:]
    /// The request id of the gateway's next own request (its disconnects of dropped clients).
    private var nextOwnRequest = UInt32.random(in: 1...UInt32.max)
    private struct Awaited {
        /// The peer, or ``gatewayItself`` (its own disconnects of dropped clients).
        let peer: Int
        /// For an acquire: who acquires which story ("chronicle/story").
        var acquire: (client: ClientID, key: String)? = nil
    }
    private static let gatewayItself = 0
    /// How long attached clients may take to leave once the service stops (at most
    /// `timeouts.shutdownDrainMs`).
    static let leaveGraceMs = 5000
    /// Clients of dropped peers whose final batches are not acknowledged yet, with the keepers
    /// still to answer and when the gateway stops waiting (then it disconnects them anyway).
    private var closing: [ClientID: (keepers: Int, until: ContinuousClock.Instant)] = [:]
    private var clientOwner: [ClientID: Int] = [:]
    /// The peer each replay query belongs to, and how many last pieces are still to come: one per
    /// request relayed (to a player, or to each keeper asked for "last N" directly).
    private var queryOwner: [UInt64: (peer: Int, pending: Int)] = [:]
    private var counters: Counters = [:]
    private let visor: Int
    private let plan: RolePlan

    /// A gateway over this client rank's `session`, serving the clients of `runDirectory`.
    /// - Throws: `.noConnection` when the run directory has no token or service name.
    public init(session: ChronoSession, runDirectory: RunDirectory, logger: Logger) throws(ChronoLogError) {
        self.session = session
        self.runDirectory = runDirectory
        self.logger = logger
        self.lease = .milliseconds(session.config.attach.leaseMs)
        self.tokens = (try RunDirectory.token(at: runDirectory.tokenFile), try? RunDirectory.token(at: runDirectory.readTokenFile))
        self.visor = session.visorRank
        self.plan = session.layout.plan
    }

    /// Serves attached clients until SIGTERM/SIGINT or `until`, then drops the ones still attached.
    /// - Returns: the gateway's counters (`attach.*`, and `events.logged`: the events relayed, plus
    ///   those dropped clients reported logged and never sent, so the summary's `lost` counts them).
    public func run(until deadline: ContinuousClock.Instant?) throws -> Counters {
        let acceptor = try AttachAcceptor(serviceName: try runDirectory.serviceName(), logger: logger)
        acceptor.start()
        logger.notice("accepting attached clients as \(acceptor.serviceName) (run directory \(runDirectory.path))")
        var backoff = IdleBackoff.serviceLoop
        var stopAt: ContinuousClock.Instant?
        while stopAt.map({ ContinuousClock.now < $0 && !peers.isEmpty }) ?? true {
            let now = ContinuousClock.now
            if stopAt == nil && (ShutdownSignal.isRequested || deadline.map { now >= $0 } ?? false) {
                // Attached clients get a grace to finish and leave, as in-job clients do after a signal.
                stopAt = now + .milliseconds(min(session.config.timeouts.shutdownDrainMs, Self.leaveGraceMs))
                logger.notice("stopping: \(peers.count) attached client(s) have \(min(session.config.timeouts.shutdownDrainMs, Self.leaveGraceMs)) ms to leave")
            }
            for comm in acceptor.takeAccepted() {
                peers[nextPeer] = AttachedPeer(number: nextPeer, comm: comm, now: now)
                bump(.attachAccepted)
                nextPeer += 1
            }
            var worked = false
            for peer in Array(peers.values) { worked = serve(peer, now: now) || worked }
            worked = try relayFromService() || worked
            expireClosing(now: now)
            backoff.step(didWork: worked)
        }
        acceptor.stop()
        for peer in Array(peers.values) {
            sayGoodbye(to: peer)
            drop(peer, reason: "the service is stopping")
        }
        try drainGatewayReplies()
        return counters
    }

    // MARK: - From attached clients

    /// Receives and relays what `peer` sent, completes its sends, enforces its lease.
    /// - Returns: whether anything happened.
    private func serve(_ peer: AttachedPeer, now: ContinuousClock.Instant) -> Bool {
        var worked = false
        do {
            if let oldest = try peer.progress(), now - oldest > lease {
                postGoodbye(to: peer)
                drop(peer, reason: "its sends did not complete within \(lease)")
                return true
            }
            if peer.closing {
                if peer.sends.isEmpty { drop(peer, reason: "refused") }
                return false
            }
            // Receives are started, never waited for: a large message over TCP arrives only as the
            // client's MPI makes progress, and the gateway serves everyone else meanwhile.
            var budget = 64
            while budget > 0, let message = try peer.comm.improbe(from: 0, tag: nil) {
                budget -= 1
                worked = true
                peer.lastHeard = now
                peer.receiving.append((try message.receiveLater(), message.status.tag))
            }
            while let (request, tag) = peer.receiving.first, try request.test() != nil {
                peer.receiving.removeFirst()
                worked = true
                peer.lastHeard = now
                try handle(request, tag: tag, from: peer, now: now)
                if peers[peer.number] == nil || peer.closing { return true }
            }
        } catch {
            drop(peer, reason: "its intercommunicator failed: \(error)")
            return true
        }
        if now - peer.lastHeard > lease {
            postGoodbye(to: peer)
            drop(peer, reason: "silent for \(lease)")
            return true
        }
        return worked
    }

    private func handle(_ received: Request, tag: Int, from peer: AttachedPeer, now: ContinuousClock.Instant) throws {
        switch AttachWire.GatewayTag(rawValue: tag) {
        case .hello?: try greet(peer, token: String(decoding: received.receivedBytes, as: UTF8.self), now: now)
        case .keepAlive?: peer.reportedLogged = max(peer.reportedLogged, Self.u64(received.receivedBytes, at: 0) ?? 0)
        case .goodbye?: drop(peer, reason: nil)
        case nil:
            guard peer.greeted, let route = AttachWire.route(ofTag: tag) else {
                bump(.attachMessagesRefused)
                drop(peer, reason: "it sent tag \(tag) before a hello was accepted")
                return
            }
            // A batch is checked on its header and forwarded from the receive's buffer; the rest
            // (small requests) is read whole.
            let head = received.withReceivedBytes { Array($0.prefix(Self.batchHeaderBytes)) }
            let bytes = Self.messageType(head) == .eventBatch ? head : received.receivedBytes
            try relay(bytes, forwarding: received, to: route.destination, tag: route.tag, from: peer, now: now)
        }
    }

    /// The bytes of an event batch that say what the gateway checks: type, story, client, count.
    static let batchHeaderBytes = 64

    private func greet(_ peer: AttachedPeer, token: String, now: ContinuousClock.Instant) throws {
        let rc: ReturnCode
        if token == tokens.write {
            rc = .success
        } else if let read = tokens.read, token == read {
            rc = .success
            peer.readOnly = true
        } else {
            rc = .notAuthorized
        }
        if rc == .success {
            peer.greeted = true
            bump(peer.readOnly ? .attachClientsReadOnly : .attachClients)
        } else {
            bump(.attachRefused)
            logger.warning("attached client \(peer.number) refused: \(token.isEmpty ? "no token" : "wrong token")")
            peer.closing = true
        }
        let answer = AttachWire.HelloAnswer(rc: rc, gatewayRank: session.layout.worldRank, readOnly: peer.readOnly,
                                            assignments: rc == .success ? plan.assignments : [])
        try peer.post(answer.encode(), tag: AttachWire.GatewayTag.hello.rawValue, now: now)
    }

    /// Relays one message of `peer` to a service rank, after checking where it goes, what it is
    /// and whose it claims to be. `bytes`: the message, or for a batch its first
    /// ``batchHeaderBytes``; what is sent is `received`'s buffer, as it arrived.
    private func relay(_ bytes: [UInt8], forwarding received: Request, to destination: Int, tag: ControlTag,
                       from peer: AttachedPeer, now: ContinuousClock.Instant) throws {
        guard let type = Self.messageType(bytes), allowed(destination, tag, type) else {
            bump(.attachMessagesRefused)
            return
        }
        if peer.readOnly && !Self.readOnlyTypes.contains(type) {
            bump(.attachRefusedReadOnly)
            try refuse(type, MessageHeader.requestId(of: bytes) ?? 0, to: peer, now: now)
            return
        }
        if let claimed = claimedClient(type, bytes), !peer.clientIds.contains(claimed) {
            bump(.attachMessagesForged)
            try refuse(type, MessageHeader.requestId(of: bytes) ?? 0, to: peer, now: now)
            return
        }
        switch type {
        case .eventBatch:
            let count = UInt64(Self.u32(bytes, at: 44) ?? 0)
            peer.relayedEvents += count
            bump(.eventsLogged, by: count)
        case .replayRequest:
            if let query = Self.u64(bytes, at: 16) {
                queryOwner[query] = (peer.number, (queryOwner[query]?.pending ?? 0) + 1)
            }
        case .disconnect:
            // The client disconnects itself: nothing left to disconnect on its behalf.
            if let id = claimedClient(type, bytes) {
                peer.clientIds.remove(id)
                peer.held = peer.held.filter { $0.value.client != id }
            }
            expectAnswer(Awaited(peer: peer.number), bytes)
        case .acquireStory:
            if case .acquireStory(let r)? = try? ControlMessage.decode(bytes) {
                expectAnswer(Awaited(peer: peer.number, acquire: (r.clientId, r.chronicle + "/" + r.story)), bytes)
            } else {
                expectAnswer(Awaited(peer: peer.number), bytes)
            }
        case .releaseStory:
            if case .releaseStory(let r)? = try? ControlMessage.decode(bytes) { peer.held[r.chronicle + "/" + r.story] = nil }
            expectAnswer(Awaited(peer: peer.number), bytes)
        default:
            if tag == .service { expectAnswer(Awaited(peer: peer.number), bytes) }
        }
        try session.withControlChannel("relaying to rank \(destination) failed") { channel in
            try channel.post(forwarding: received, to: destination, tag: tag)
        }
    }

    /// Notes who awaits the visor's answer to the request `bytes` (by its request id). A clash with
    /// an id still awaited (two peers' random ids met) leaves the earlier request's answer unclaimed.
    private func expectAnswer(_ awaited: Awaited, _ bytes: [UInt8]) {
        let id = MessageHeader.requestId(of: bytes) ?? 0
        if let earlier = awaitedReplies.updateValue(awaited, forKey: id), earlier.peer != awaited.peer {
            logger.warning("request id \(id) of attached client \(awaited.peer) clashes with one of \(earlier.peer)'s")
        }
    }

    /// Answers a refused request (its id: `requestId`) as the visor would (−9), so the client's call
    /// returns at once.
    private func refuse(_ type: MessageType, _ requestId: UInt32, to peer: AttachedPeer, now: ContinuousClock.Instant) throws {
        let detail = peer.readOnly ? "this client attached with the read-only token" : "a client id this attached client was not given"
        let answer: ControlMessage
        switch type {
        case .acquireStory:
            answer = .acquireReply(AcquireReply(rc: .notAuthorized, storyId: StoryID(rawValue: 0), groupId: 0, keeperRanks: [],
                                                grapherRank: -1, playerRank: -1, detail: detail))
        case .createChronicle, .destroyChronicle, .releaseStory, .destroyStory, .disconnect:
            answer = .reply(GenericReply(rc: .notAuthorized, detail: detail))
        default:
            return  // events and acks: dropped (a read-only client holds no story to write to)
        }
        var out = answer.encode(requestId: requestId)
        AttachWire.appendSource(visor, to: &out)
        try peer.post(out, tag: ControlTag.reply.rawValue, now: now)
    }

    private static let readOnlyTypes: Set<MessageType> = [.connect, .clockPing, .disconnect, .showChronicles, .showStories,
                                                          .replayRequest, .replayAck, .readRoute]

    /// Whether an attached client may send a message of `type` on `tag` to `destination`: requests
    /// to the visor, batches to keepers, replay acknowledgements to players, and "last N" queries
    /// to keepers (which answer only readers the visor granted, at this gateway's rank).
    private func allowed(_ destination: Int, _ tag: ControlTag, _ type: MessageType) -> Bool {
        guard destination >= 0, destination < plan.assignments.count else { return false }
        let role = plan.assignments[destination].role
        switch tag {
        case .service: return destination == visor
        case .events: return role == .keeper
        case .replay: return role == .player || (role == .keeper && type == .replayRequest)
        default: return false
        }
    }

    /// The client id a message claims to act for, where it names one at a fixed place.
    private func claimedClient(_ type: MessageType, _ bytes: [UInt8]) -> ClientID? {
        switch type {
        case .eventBatch, .durableRequest, .replayRequest:
            return Self.u64(bytes, at: 24).map { ClientID(rawValue: $0) }
        case .watermarks:
            return Self.u64(bytes, at: 16).map { ClientID(rawValue: $0) }
        case .connect, .clockPing, .replayAck:
            return nil
        default:
            switch try? ControlMessage.decode(bytes) {
            case .disconnect(let id)?: return id
            case .createChronicle(let r)?: return r.clientId
            case .destroyChronicle(let r)?, .showStories(let r)?: return r.clientId
            case .acquireStory(let r)?, .releaseStory(let r)?, .destroyStory(let r)?, .readRoute(let r)?: return r.clientId
            case .showChronicles(let id)?: return id
            default: return nil
            }
        }
    }

    // MARK: - From the service

    /// Routes the answers the service ranks sent to this rank to the attached clients they belong to.
    private func relayFromService() throws -> Bool {
        var incoming: [(bytes: [UInt8], source: Int, tag: ControlTag)] = []
        try session.withControlChannel("receiving for attached clients failed") { channel in
            for tag in [ControlTag.reply, .flow, .replay] {
                var budget = 64
                while budget > 0, let (bytes, source) = try channel.poll(tag: tag) {
                    budget -= 1
                    incoming.append((bytes, source, tag))
                }
            }
        }
        let now = ContinuousClock.now
        for var m in incoming {
            let owner = owner(of: m.bytes, tag: m.tag)
            if owner == Self.gatewayItself { continue }
            if m.tag == .flow, finalBatchAcknowledged(m.bytes) { continue }
            guard let owner, let peer = peers[owner] else {
                bump(.attachAnswersUnclaimed)
                continue
            }
            AttachWire.appendSource(m.source, to: &m.bytes)
            do { try peer.post(m.bytes, tag: m.tag.rawValue, now: now) } catch {
                drop(peer, reason: "sending to it failed: \(error)")
            }
        }
        return !incoming.isEmpty
    }

    /// Which peer an answer belongs to: the visor's answers by request id, acknowledgements by
    /// client id, replay pieces by query id.
    private func owner(of bytes: [UInt8], tag: ControlTag) -> Int? {
        switch tag {
        case .reply:
            guard let id = MessageHeader.requestId(of: bytes), let next = awaitedReplies.removeValue(forKey: id) else { return nil }
            guard next.peer != Self.gatewayItself else { return next.peer }
            switch try? ControlMessage.decode(bytes) {
            case .connectReply(let r)? where r.rc == .success:
                peers[next.peer]?.clientIds.insert(r.clientId)
                clientOwner[r.clientId] = next.peer
            case .acquireReply(let r)? where r.rc == .success:
                if let (client, key) = next.acquire {
                    peers[next.peer]?.held[key] = HeldStory(client: client, storyId: r.storyId, keeperRanks: r.keeperRanks.map { Int($0) })
                }
            default: break
            }
            return next.peer
        case .flow:
            return Self.u64(bytes, at: 24).flatMap { clientOwner[ClientID(rawValue: $0)] }
        case .replay:
            guard let query = Self.u64(bytes, at: 16) else { return nil }
            guard var owner = queryOwner[query] else { return nil }
            if Self.messageType(bytes) == .replayPiece, bytes.count > 32, bytes[32] != 0 {
                owner.pending -= 1
                queryOwner[query] = owner.pending > 0 ? owner : nil
            }
            return owner.peer
        default:
            return nil
        }
    }

    // MARK: - Dropping

    /// Tells a client still attached that the service stops (its later calls then fail at once),
    /// waiting at most 200 ms for the message to leave.
    private func sayGoodbye(to peer: AttachedPeer) {
        let deadline = ContinuousClock.now + .milliseconds(200)
        do {
            try peer.post([], tag: AttachWire.GatewayTag.goodbye.rawValue, now: .now)
            while try peer.progress() != nil && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.002) }
        } catch {
            logger.notice("attached client \(peer.number) did not get the goodbye: \(error)")
        }
    }

    /// Tells a client dropped for its lease (stopped, hung, or too slow to receive) that it is
    /// dropped, without waiting: the goodbye stays queued on its socket, and if the process runs
    /// again its channel fails every call at once with −8 (as when the service stops), instead of
    /// each call waiting out its timeout for answers that never come. The send is not waited for
    /// (the loop serves everyone else); `MPI_Comm_free` lets it complete in the background.
    private func postGoodbye(to peer: AttachedPeer) {
        do {
            try peer.post([], tag: AttachWire.GatewayTag.goodbye.rawValue, now: .now)
        } catch {
            logger.notice("attached client \(peer.number) was not told it is dropped: \(error)")
        }
    }

    /// Forgets `peer`: frees its intercommunicator (locally) and disconnects its clients at the
    /// visor, which releases their stories. `reason` nil: it said goodbye.
    private func drop(_ peer: AttachedPeer, reason: String?) {
        guard peers.removeValue(forKey: peer.number) != nil else { return }
        peer.comm.freeLocal()
        if let reason {
            bump(.attachDropped)
            // Counted from its keep-alives: what it logged after the last one is not known here
            // (its own later calls fail with -8, so the program learns they were not kept).
            let lost = "\(peer.unflushedEvents) event(s) it logged by its last keep-alive never arrived (later ones are not counted)"
            logger.warning("attached client \(peer.number) dropped: \(reason); \(lost)")
            bump(.attachEventsUnflushed, by: peer.unflushedEvents)
            bump(.eventsLogged, by: peer.unflushedEvents)
        } else {
            bump(.attachGoodbyes)
        }
        for id in peer.clientIds {
            clientOwner[id] = nil
            let stories = peer.held.values.filter { $0.client == id }
            let sent = endContribution(of: id, to: stories)
            if sent == 0 { disconnect(id) } else { closing[id] = (sent, ContinuousClock.now + .seconds(1)) }
        }
        for (query, owner) in queryOwner where owner.peer == peer.number { queryOwner[query] = nil }
    }

    /// Ends a dropped client's contribution to the stories it held, as a client closing them
    /// does: an empty batch with watermark `UInt64.max` to each of their keepers, so they stop
    /// waiting for its watermark (sent before the visor's release, which makes it no holder).
    /// - Returns: the batches sent.
    private func endContribution(of id: ClientID, to stories: [HeldStory]) -> Int {
        var sent = 0
        for story in stories {
            guard let batch = try? EventBatch(storyId: story.storyId, clientId: id, watermark: .max, events: []) else { continue }
            let bytes = ControlMessage.eventBatch(batch).encode()
            for keeper in story.keeperRanks {
                do {
                    try session.withControlChannel("ending client \(id)'s batches failed") { channel in
                        try channel.post(bytes, to: keeper, tag: .events)
                    }
                    sent += 1
                } catch {
                    logger.error("cannot end client \(id)'s contribution at keeper \(keeper): \(error)")
                }
            }
        }
        return sent
    }

    /// Counts an acknowledgement of a dropped client's final batch; once all came (or a second
    /// passed), disconnects the client at the visor. - Returns: whether `bytes` was one.
    private func finalBatchAcknowledged(_ bytes: [UInt8]) -> Bool {
        guard let raw = Self.u64(bytes, at: 24), let entry = closing[ClientID(rawValue: raw)] else { return false }
        let id = ClientID(rawValue: raw)
        if entry.keepers <= 1 {
            closing[id] = nil
            disconnect(id)
        } else {
            closing[id] = (entry.keepers - 1, entry.until)
        }
        return true
    }

    /// Disconnects a dropped client at the visor (which releases what it still holds).
    private func disconnect(_ id: ClientID) {
        while nextOwnRequest == 0 || awaitedReplies[nextOwnRequest] != nil { nextOwnRequest &+= 1 }
        let request = nextOwnRequest
        nextOwnRequest &+= 1
        awaitedReplies[request] = Awaited(peer: Self.gatewayItself)
        do {
            try session.withControlChannel("disconnecting client \(id) failed") { channel in
                try channel.post(ControlMessage.disconnect(clientId: id).encode(requestId: request), to: visor, tag: .service)
            }
            bump(.attachClientsDisconnected)
        } catch {
            logger.error("cannot disconnect client \(id) of a dropped attached client: \(error)")
        }
    }

    /// Disconnects the clients whose final batches went unanswered for a second.
    private func expireClosing(now: ContinuousClock.Instant) {
        for (id, entry) in closing where now >= entry.until {
            closing[id] = nil
            disconnect(id)
        }
    }

    /// Waits (at most two seconds) for the final batches and the visor's answers to the gateway's
    /// own disconnects.
    private func drainGatewayReplies() throws {
        let deadline = ContinuousClock.now + .seconds(2)
        var backoff = IdleBackoff.replyWait
        while (!awaitedReplies.isEmpty || !closing.isEmpty) && ContinuousClock.now < deadline {
            expireClosing(now: .now)
            backoff.step(didWork: try relayFromService())
        }
    }

    // MARK: - Helpers

    private func bump(_ key: Counter, by n: UInt64 = 1) { counters[key, default: 0] += n }

    static func messageType(_ bytes: [UInt8]) -> MessageType? {
        guard bytes.count >= MessageHeader.byteCount else { return nil }
        return MessageType(rawValue: UInt16(bytes[6]) | UInt16(bytes[7]) << 8)
    }

    static func u64(_ bytes: [UInt8], at offset: Int) -> UInt64? {
        guard bytes.count >= offset + 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        return v
    }

    static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32? {
        guard bytes.count >= offset + 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        return v
    }
}
