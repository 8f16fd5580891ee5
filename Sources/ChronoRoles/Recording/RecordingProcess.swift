import ChronoRuntime
import ChronoSystem
import Fabric
import ChronoModel
import Logging
import MPI

/// The loop shared by keepers, graphers and players: register with the visor, answer
/// start/stop-recording notices (acknowledged, so the visor can answer the client's acquire),
/// send heartbeats with statistics, run the role's own work, and drain on shutdown.
///
/// Every MPI call is made from the thread that calls `run()`.
public struct RecordingProcess {
    private let behavior: RecordingBehavior
    private let channel: any ControlTransport
    private let assignment: RoleAssignment
    private let visorRank: Int
    private let heartbeatInterval: Duration
    private let logger: Logger
    /// Event time (heartbeats' send time) and elapsed time (heartbeat interval, drain stall).
    private let clock: any RoleClock
    private var drainRequested = false
    /// When false (a silent role, see ``RoleFaults/registersWithVisor(role:group:)``; never in the
    /// product) the process never registers (nor sends heartbeats), so the visor sees an
    /// incomplete group; it still answers the shutdown.
    package var registersWithVisor = true
    /// While draining: the last time the loop did any work, and how long it may do none.
    private var lastDrainProgress: ContinuousClock.Instant
    private var drainStallLimit = Self.minimumDrainStallLimit
    /// When the next heartbeat is due.
    private var nextHeartbeat: ContinuousClock.Instant

    /// A drain that made no progress for this long (nothing received, sealed, shipped, read or
    /// written) is abandoned, and what is still held is reported undrained; the shutdown
    /// request's deadline (`timeouts.shutdownDrainMs`) lengthens it, never shortens it. A drain
    /// that progresses is never cut short: a keeper does not drop what its live grapher can still
    /// take, and a grapher writes everything its keepers shipped.
    public static let minimumDrainStallLimit: Duration = .seconds(60)
    /// Visor orders (start, stop, holder, read grant, shutdown) refused because another rank sent them.
    private var refusedOrders: UInt64 = 0

    /// The role's counters plus `orders.refused` (visor orders from another rank, when any).
    public var counters: Counters {
        var c = behavior.counters
        if refusedOrders > 0 { c[.ordersRefused] = refusedOrders }
        return c
    }

    /// - Parameters:
    ///   - behavior: the role's own logic.
    ///   - assignment: this rank's place in the plan (must be a keeper, grapher or player).
    ///   - visorRank: where to register.
    ///   - clock: event and elapsed time (the system's unless a test steps its own).
    public init(behavior: RecordingBehavior, channel: any ControlTransport, assignment: RoleAssignment, visorRank: Int,
                config: ChronoConfig, logger: Logger, clock: any RoleClock = SystemRoleClock()) {
        self.clock = clock
        self.lastDrainProgress = clock.instant()
        self.nextHeartbeat = clock.instant()
        self.behavior = behavior
        self.channel = channel
        self.assignment = assignment
        self.visorRank = visorRank
        self.heartbeatInterval = .milliseconds(max(10, config.heartbeat.intervalMs))
        self.logger = logger
    }

    private var groupId: UInt32 { UInt32(assignment.group ?? 0) }
    private var rank: Int32 { Int32(assignment.worldRank) }

    private func toVisor(_ m: ControlMessage) throws {
        try channel.post(m.encode(), to: visorRank, tag: .service)
    }

    /// Sends the role's counters to the visor, with this process's resident memory
    /// (``Counter/memoryResidentBytes``) and its minor page faults since it started
    /// (``Counter/faultsMinor``): for the progress lines, which show their changes.
    private func heartbeat() throws {
        guard registersWithVisor else { return }
        var sent = counters
        if let resident = ResidentMemory.bytes() { sent[.memoryResidentBytes] = resident }
        sent[.faultsMinor] = ProcessUsage.now().minorFaults
        try toVisor(.heartbeat(Heartbeat(role: behavior.role, groupId: groupId, rank: rank, sentAt: clock.now(),
                                         counters: sent)))
    }

    /// Runs until the visor's shutdown request has been carried out.
    /// - Throws: `MPIError` or the role's errors.
    public mutating func run() throws {
        try start()
        var backoff = IdleBackoff.serviceLoop
        while true {
            let (didWork, done) = try step()
            if done { break }
            backoff.step(didWork: didWork)
        }
        try finish()
    }

    /// Registers with the visor: the first part of ``run()``, for a caller that drives the loop
    /// itself one ``step()`` at a time (a simulator) and then calls ``finish()``.
    /// - Throws: the transport's error.
    public mutating func start() throws {
        if registersWithVisor {
            try toVisor(.register(Registration(role: behavior.role, groupId: groupId, rank: rank, hostName: assignment.host)))
        }
        nextHeartbeat = clock.instant() + heartbeatInterval
    }

    /// One turn of the loop: receives what waits on the role's tags (at most 64 messages a tag),
    /// lets the role work, completes sends, sends a heartbeat when due and, once shutdown was
    /// requested, works towards the drain.
    /// - Returns: whether any work was done, and whether the loop is over (drained, or the drain
    ///   stalled past its limit).
    /// - Throws: the transport's or the role's errors.
    public mutating func step() throws -> (didWork: Bool, done: Bool) {
        var didWork = false
        for tag in [ControlTag.service] + behavior.dataTags {
            var budget = 64
            while budget > 0, let (bytes, source) = try channel.poll(tag: tag) {
                budget -= 1
                didWork = true
                try dispatch(bytes, from: source, tag: tag)
            }
        }
        didWork = try behavior.poll(channel: channel) || didWork
        didWork = try channel.progress() || didWork
        let now = clock.instant()
        if now >= nextHeartbeat {
            try heartbeat()
            nextHeartbeat = now + heartbeatInterval
        }
        guard drainRequested else { return (didWork, false) }
        let drained = try behavior.drain(channel: channel)
        if didWork { lastDrainProgress = now }
        if drained { return (didWork, true) }
        if now - lastDrainProgress >= drainStallLimit {
            logger.error("""
                drain made no progress for \(drainStallLimit) with \(behavior.undrainedEvents) events held: \
                \(behavior.drainState)
                """)
            return (didWork, true)
        }
        return (didWork, false)
    }

    /// Ends the process after the loop: a last heartbeat, the shutdown report to the visor, the
    /// sends completed, the role closed.
    /// - Throws: the transport's or the role's errors.
    public func finish() throws {
        try heartbeat()
        try toVisor(.shutdownComplete(ShutdownComplete(rank: rank, rc: behavior.undrainedEvents == 0 ? .success : .unknown,
                                                       undrainedEvents: behavior.undrainedEvents)))
        try channel.drainSends()
        try behavior.close()
    }

    /// Carries out an order of the visor (start, stop, holder, read grant or revoke, shutdown),
    /// acknowledging notices (a revoke is not acknowledged).
    private mutating func obey(_ message: ControlMessage) throws {
        switch message {
        case .startRecording(let n):
            let rc = behavior.startRecording(n)
            try toVisor(.recordingAck(RecordingAck(storyId: n.storyId, rank: rank, rc: rc, ticket: n.ticket)))
        case .stopRecording(let n):
            let rc = behavior.stopRecording(n)
            try toVisor(.recordingAck(RecordingAck(storyId: n.storyId, rank: rank, rc: rc, ticket: n.ticket)))
        case .holder(let n):
            let rc = behavior.holderChanged(n)
            try toVisor(.recordingAck(RecordingAck(storyId: n.storyId, rank: rank, rc: rc, ticket: n.ticket)))
        case .readGrant(let g):
            let rc = behavior.readGranted(g)
            try toVisor(.recordingAck(RecordingAck(storyId: g.storyId, rank: rank, rc: rc, ticket: g.ticket)))
        case .readRevoke(let g):
            behavior.readRevoked(g)
        case .shutdown(let request):
            drainRequested = true
            lastDrainProgress = clock.instant()
            drainStallLimit = max(Self.minimumDrainStallLimit, .milliseconds(Int(clamping: request.deadlineMilliseconds)))
        default:
            return
        }
    }

    private mutating func dispatch(_ bytes: [UInt8], from source: Int, tag: ControlTag) throws {
        let message: ControlMessage
        do {
            message = try ControlMessage.decode(bytes)
        } catch {
            logger.warning("malformed message from rank \(source) on \(tag): \(error)")
            return
        }
        switch message {
        case .startRecording, .stopRecording, .holder, .readGrant, .readRevoke, .shutdown:
            // The visor's orders: from anyone else (a client rank posting to this one) they would
            // let a forger hold stories, stop recordings or end the process. Refused and counted.
            guard source == visorRank else {
                refusedOrders += 1
                logger.warning("\(behavior.role) rank \(rank) refused \(message.type) from rank \(source): only the visor sends it")
                return
            }
            try obey(message)
        default:
            if try !behavior.handle(message, from: source, tag: tag, channel: channel) {
                logger.warning("\(behavior.role) rank \(rank) ignored unexpected \(message.type) from rank \(source)")
            }
        }
    }
}
