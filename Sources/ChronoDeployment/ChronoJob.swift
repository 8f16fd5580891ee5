import ChronoArchive
import ChronoClient
import ChronoRuntime
import ChronoSystem
import ChronoModel
import ChronoRoles
import Fabric
import Foundation
import Logging
import MPI
import Synchronization

/// One process's membership in a ChronoLog-Swift job: its place in the layout and the
/// communicators the job made for it.
public final class JobMembership: @unchecked Sendable {
    /// The layout every rank agreed on.
    public let layout: JobLayout
    /// The effective configuration.
    public let config: ChronoConfig
    /// The client session, on client ranks; `nil` on service ranks.
    public let session: ChronoSession?
    /// The ranks of this process's own application: on a client rank, the client ranks of the same
    /// executable (in an MPMD launch, the application's ranks; embedded, the ranks the service left
    /// to the application); on a service rank, the service ranks. Use it instead of
    /// `MPI_COMM_WORLD`, which also holds the service ranks.
    public let application: Communicator
    /// The communicator of every client rank of the job, on client ranks.
    public let peers: Communicator?
    /// The ranks of the job: `MPI_COMM_WORLD`, or the communicator an embedded job was made of.
    public let world: Communicator
    let control: Communicator
    let logger: Logger
    let weInitializedMPI: Bool
    /// The recording processes' communicator (keepers, graphers, players), on those ranks.
    let recorders: Communicator?
    /// The graphers' communicator (the archive is written collectively over it), on graphers.
    let graphers: Communicator?
    /// The bulk (RMA) plane, on recording processes.
    let bulk: BulkPlane?
    /// The recording processes the plane was opened over: all of them, or with a provider that does
    /// not cross nodes (`shm`) those of this rank's node only (a recording group lives on one node).
    let bulkMembers: Communicator?
    /// The process's usage when it had joined: the summary's `faults.minor` and `cpu.us` count
    /// from here (MPI start-up and the registered pools are not the workload's).
    let joinedUsage = ProcessUsage.now()

    init(layout: JobLayout, config: ChronoConfig, session: ChronoSession?, application: Communicator,
         peers: Communicator?, world: Communicator, control: Communicator, logger: Logger, weInitializedMPI: Bool,
         recorders: Communicator?, graphers: Communicator?, bulk: BulkPlane?, bulkMembers: Communicator?) {
        self.bulkMembers = bulkMembers
        self.world = world
        self.recorders = recorders
        self.graphers = graphers
        self.bulk = bulk
        self.layout = layout
        self.config = config
        self.session = session
        self.application = application
        self.peers = peers
        self.control = control
        self.logger = logger
        self.weInitializedMPI = weInitializedMPI
    }

    /// This rank's assignment.
    public var assignment: RoleAssignment { layout.me }
}

/// A whole ChronoLog-Swift deployment inside the MPI job this process belongs to.
///
/// Every rank of `MPI_COMM_WORLD` takes part: `join` (collective) lays out the roles; service
/// ranks then `serve` until the job ends while client ranks run their own code; `leave`
/// (collective) gathers the summary at rank 0 and frees what `join` made. `run` does all three
/// for `chronolog-job`. MPMD applications and embedded mode call `join`/`leave` themselves.
public struct ChronoJob: Sendable {
    /// The effective configuration.
    public let config: ChronoConfig
    /// Client ranks the job requires.
    public let minimumClients: Int
    /// Deliberate misbehaviour of the service roles, for the package's test programs (silent,
    /// slow keeper, slow archive, slow player); the product's jobs have none.
    package var faults: any RoleFaults = NoFaults()
    /// The clock each service role reads (event and elapsed time), for the package's test programs
    /// (a visor whose clock is off); the product's roles read the system's.
    package var clocks: @Sendable (Role) -> any RoleClock = { _ in SystemRoleClock() }
    /// What the package's test programs change in the job's clients (a clock off or drifting,
    /// reads as under a provider that needs registered memory); the product's clients: nothing.
    package var clientSeams = ClientTestSeams()
    /// Where the visor also writes the summary as JSON (`chronolog-job --summary-json`); `nil`: nowhere.
    public var summaryJSONPath: String?
    /// Where the visor's progress lines go (nil: standard output). A benchmark whose standard
    /// output is its report sends them to standard error.
    public var progressOutput: (@Sendable (String) -> Void)?

    /// - Parameters:
    ///   - config: the effective configuration.
    ///   - minimumClients: client ranks the job needs (a smaller job fails with the minimum -n).
    public init(config: ChronoConfig, minimumClients: Int) {
        self.config = config
        self.minimumClients = minimumClients
    }

    /// Why `join` failed.
    public enum JoinError: Error, CustomStringConvertible {
        /// MPI could not be initialised.
        case mpi(MPIError)
        /// The job is too small or the shape is invalid (the same on every rank).
        case layout(RolePlanError)
        /// The archive directory cannot be used (the visor's catalog and the graphers' archive go
        /// there): the first rank's reason, the same on every rank.
        case archiveDirectory(String)

        public var description: String {
            switch self {
            case .mpi(let e): "cannot start MPI: \(e)"
            case .layout(let e): "\(e)"
            case .archiveDirectory(let reason): reason
            }
        }

        /// Whether every rank throws this error alike (so one reports it and the others leave quietly).
        public var isAgreed: Bool {
            if case .mpi = self { return false }
            return true
        }
    }

    /// Joins the job. Collective over `world` (`MPI_COMM_WORLD` unless an embedded job is made of
    /// a part of it): every rank calls it, service ranks with `asService: true`; ranks are `world`'s.
    /// Initialises MPI (`MPI_THREAD_MULTIPLE`) unless the application already did.
    /// - Throws: `JoinError.layout` on every rank alike when the job cannot be laid out, and
    ///   `JoinError.archiveDirectory` when the visor or a grapher cannot create or write in
    ///   `archive.directory`, or another job holds its lock (``ArchiveDirectoryLock``; MPI is finalized when this call initialised it: no plane was opened,
    ///   so nothing is left in `/dev/shm`); `JoinError.mpi` when MPI fails.
    public func join(asService: Bool, over world: Communicator = .world) throws -> JobMembership {
        let weInit = !MPIRuntime.isInitialized
        if weInit {
            do { try MPIRuntime.initialize(requiring: .multiple) } catch let e as MPIError { throw JoinError.mpi(e) }
        }
        let layout: JobLayout
        do {
            layout = try JobLayout.discover(
                world: world, isService: asService,
                shape: GroupShape(keepers: config.deployment.keepersPerNode, graphers: config.deployment.graphersPerNode,
                                  players: config.deployment.playersPerNode),
                virtualNodes: max(1, config.deployment.virtualNodes),
                minimumClients: minimumClients)
        } catch let error as RolePlanError {
            if weInit { try? MPIRuntime.finalize() }
            throw JoinError.layout(error)
        }
        let me = layout.me
        let archiveWriter = asService && (me.role == .visor || me.role == .grapher)
        var problem = archiveWriter ? Self.archiveDirectoryProblem(config.archive.directory) : nil
        if problem == nil && asService && me.role == .visor { problem = ArchiveDirectoryLock.take(config.archive.directory) }
        if problem == nil && asService && me.role == .visor { problem = Self.archiveFileProblem(config.archive.directory) }
        if let reason = try Self.agreedProblem(problem, over: world) {
            ArchiveDirectoryLock.release()
            if weInit { try? MPIRuntime.finalize() }
            throw JoinError.archiveDirectory(reason)
        }
        let logger = makeLogger(rank: me.worldRank, role: me.role)
        let control = try world.duplicate()
        let peers = try world.split(color: me.role == .client ? 0 : nil, key: world.rank)
        // Clients of one executable together, service ranks apart (embedded, both run the same one).
        let appColor = me.role == .client ? 1 + max(0, (try Communicator.appNumber()) ?? 0) : 0
        let application = try world.split(color: appColor, key: world.rank)!
        let isRecorder = [.keeper, .grapher, .player].contains(me.role)
        let recorders = try world.split(color: isRecorder ? 0 : nil, key: world.rank)
        let graphers = try world.split(color: me.role == .grapher ? 0 : nil, key: world.rank)
        var bulk: BulkPlane?
        // shm reaches the ranks of one node only: its planes are then one per (virtual) node.
        let bulkMembers = try recorders.map { all in
            config.fabric.reachesOtherNodes ? all : try all.split(color: me.node, key: world.rank)!
        }
        if let bulkMembers {
            do {
                let plane = try BulkPlane.open(provider: config.fabric.provider, members: bulkMembers, worldRank: world.rank)
                logger.debug("bulk plane open: provider \(plane.endpoint.info.providerName)")
                bulk = plane
            } catch {
                printError("chronolog: rank \(world.rank): cannot open the bulk plane (fabric.provider \(config.fabric.provider.debugDescription)): \(error)")
                MPIRuntime.abort(code: 2)
            }
        }
        var session: ChronoSession?
        if me.role == .client {
            session = ChronoSession(layout: layout, channel: ControlChannel(communicator: control), config: config, peers: peers,
                                    seams: clientSeams)
        }
        return JobMembership(layout: layout, config: config, session: session, application: application, peers: peers,
                             world: world, control: control, logger: logger, weInitializedMPI: weInit, recorders: recorders,
                             graphers: graphers, bulk: bulk, bulkMembers: bulkMembers)
    }

    /// Why `directory` cannot hold the archive and catalog: it cannot be created, or a file cannot
    /// be created in it (tried, then removed). Nil when it can.
    static func archiveDirectoryProblem(_ directory: String) -> String? {
        // Each missing level made in turn (`mkdir -p`), so the reason names the level that failed.
        var path = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            path += "/" + part
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { return "archive.directory \(directory): \(path) is a file, not a directory" }
                continue
            }
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                return "archive.directory \(directory): cannot create \(path): \(String(cString: strerror(errno)))"
            }
        }
        let probe = directory + "/.chronolog-probe-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return "archive.directory \(directory): no file can be created in it (\(String(cString: strerror(errno))))"
        }
        close(fd)
        unlink(probe)
        return nil
    }

    /// Why the archive file already in `directory` cannot be appended to (truncated, damaged, not
    /// an archive: the graphers could not open it, and every event of the job would be lost); nil
    /// when there is none yet or it opens.
    static func archiveFileProblem(_ directory: String) -> String? {
        let file = directory + "/" + ArchiveLayout.defaultFileName
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        do throws(ArchiveError) {
            _ = try ArchiveReader(path: file)
            return nil
        } catch {
            return "archive.directory \(directory): its archive file cannot be appended to: \(error) "
                + "(`chronolog verify \(file)` says what is wrong; move the file away, or give another archive.directory)"
        }
    }

    /// The first rank's problem, on every rank (collective over `world`); nil when no rank has one.
    static func agreedProblem(_ mine: String?, over world: Communicator) throws -> String? {
        let all = try world.allgatherv(mine.map { Array($0.utf8) } ?? [])
        guard let (rank, text) = all.enumerated().first(where: { !$0.element.isEmpty }) else { return nil }
        return "rank \(rank): " + String(decoding: text, as: UTF8.self)
    }

    /// Runs this service rank's role (visor, keeper, grapher or player) until the job ends.
    /// - Returns: the role's counters and its status (0, or 1 if events were lost).
    /// - Throws: when the control plane fails (the caller should abort the job).
    public func serve(_ m: JobMembership) throws -> (counters: Counters, status: Int32) {
        let me = m.assignment
        let channel = ControlChannel(communicator: m.control)
        ServiceMemory.keepLargeAllocationsInHeap()
        switch me.role {
        case .visor:
            let visor: VisorService
            do {
                visor = try VisorService(channel: channel, plan: m.layout.plan, config: config, logger: m.logger,
                                         clock: clocks(.visor))
                if let progressOutput { visor.progressOutput = progressOutput }
            } catch {
                printError("chronolog: rank \(me.worldRank): \(error)")
                MPIRuntime.abort(code: 2)
            }
            try visor.run()
            return (visor.counters, visor.catalogLost ? 1 : 0)
        case .keeper, .grapher, .player:
            let behavior: RecordingBehavior
            let plan = m.layout.plan
            switch me.role {
            case .keeper:
                guard let bulk = m.bulk, let group = me.group, let grapher = plan.ranks(of: .grapher, inGroup: group).first else {
                    throw ChronoLogError.unknown("keeper \(me.worldRank) has no grapher in its group")
                }
                let keeper = KeeperRole(config: config, rank: me.worldRank, grapherRank: grapher,
                                        playerRank: plan.ranks(of: .player, inGroup: group).first, bulk: bulk,
                                        logger: m.logger, clock: clocks(.keeper))
                keeper.faults = faults
                behavior = keeper
            case .grapher:
                guard let bulk = m.bulk, let group = me.group, let graphers = m.graphers else {
                    throw ChronoLogError.unknown("grapher \(me.worldRank) has no bulk plane or graphers' communicator")
                }
                let grapher = try GrapherRole(config: config, keepers: plan.ranks(of: .keeper, inGroup: group), bulk: bulk,
                                              graphers: graphers, logger: m.logger, clock: clocks(.grapher))
                grapher.faults = faults
                behavior = grapher
            default:
                let grapher = me.group.flatMap { plan.ranks(of: .grapher, inGroup: $0).first }
                let player = try PlayerRole(config: config, visorRank: plan.ranks(of: .visor)[0], grapherRank: grapher,
                                            bulk: m.bulk, logger: m.logger, clock: clocks(.player))
                player.faults = faults
                behavior = player
            }
            var process = RecordingProcess(
                behavior: behavior, channel: channel, assignment: me, visorRank: m.layout.plan.ranks(of: .visor)[0],
                config: config, logger: m.logger, clock: clocks(me.role))
            process.registersWithVisor = faults.registersWithVisor(role: me.role, group: me.group)
            try process.run()
            return (process.counters, behavior.undrainedEvents > 0 ? 1 : 0)
        case .client:
            return ([:], 0)
        }
    }

    /// Leaves the job. Collective over the job's ranks (`m.world`). Client ranks tell the visor they are
    /// done first; then every rank's counters are gathered and the visor prints the summary.
    /// Finalizes MPI when `join` initialised it (or when `finalizeMPI` is true).
    /// A rank that gave up a stuck collective call (``StuckCollective``: a grapher whose archive
    /// round never finished) does not return: once every rank has passed the summary it flushes its
    /// output and exits with status 1, without `MPI_Finalize` or exit handlers; mpirun then ends
    /// the other ranks and exits 1 (see docs/ARCHIVE.md).
    /// - Returns: the job's exit status, the same on every rank (the maximum of all statuses).
    public func leave(_ m: JobMembership, counters: Counters, status: Int32, finalizeMPI: Bool? = nil) -> Int32 {
        let world = m.world
        var status = status
        do {
            var counters = counters
            let usage = ProcessUsage.now().since(m.joinedUsage)
            counters[.faultsMinor] = usage.minorFaults
            counters[.cpuUs] = usage.cpuMicroseconds
            if let session = m.session {
                // Every client's ingest and replay counts in the summary, whatever the workload returned.
                counters.merge(session.ingestCounters) { _, ingest in ingest }
                counters.merge(session.replayCounters) { _, replay in replay }
                counters.merge(session.requestCounters) { _, requests in requests }
                do { try session.finish() } catch {
                    m.logger.error("cannot tell the visor this rank is done: \(error)")
                    status = max(status, 1)
                }
            }
            let visor = m.layout.plan.ranks(of: .visor).first ?? 0
            // Every collective of the way out is completed by testing (``testUntilComplete(_:)``).
            let summary = try JobSummary.gather(counters: counters, role: m.assignment.role, over: world, root: visor,
                                                completing: Self.testUntilComplete)
            if let summary, summary.lostEvents > 0 {
                printError("chronolog-job: \(summary.lostEvents) event(s) were lost")
                status = max(status, 1)
            }
            let stuck = StuckCollective.isGivenUp
            if stuck { status = max(status, 1) }
            let endsAbnormally = stuck || Self.endsAbnormallyAfterLeaving.load(ordering: .relaxed)
            let agreed = try world.allreduce([Int64(status), stuck ? 1 : 0, endsAbnormally ? 1 : 0], op: .max,
                                             completing: Self.testUntilComplete)
            status = Int32(agreed[0])
            if let summary {
                // The JSON first: the text names the status the process exits with, 1 when the
                // JSON could not be written (its directory gone since start-up).
                if !writeSummaryJSON(summary, exitStatus: status) { status = max(status, 1) }
                print(summary.rendered(exitStatus: status, signal: ShutdownSignal.signalNumber))
                fflush(nil)
            }
            // The summary is out before a rank that ends abnormally next (stuck, or a C rank ending
            // of SIGTERM after draining) goes on: mpirun then ends every rank. Only then: a
            // barrier cannot complete while an attach gateway's accept is stuck in MPI's progress.
            if agreed[2] != 0 { try Self.testUntilComplete(try world.ibarrier()) }
            if agreed[1] != 0 && stuck {
                try? m.bulk?.close()  // not collective; the stuck thread never used it
                StuckCollective.leave(status: 1)
            }
            try m.bulk?.close()
            ArchiveDirectoryLock.release()
            if let members = m.bulkMembers, members !== m.recorders { try members.free() }
            try m.graphers?.free()
            try m.recorders?.free()
            try m.peers?.free()
            try m.application.free()
            try m.control.free()
            if finalizeMPI ?? m.weInitializedMPI { try BoundedFinalize.finalize(exitStatus: status) }
        } catch {
            printError("chronolog: rank \(world.rank): leaving the job failed: \(error)")
            if StuckCollective.isGivenUp { StuckCollective.leave(status: 1) }
            return 1
        }
        return status
    }

    /// Set by a rank that will end abnormally once it left (a C rank draining on SIGTERM, which
    /// then ends of it): every rank then waits in ``leave(_:counters:status:finalizeMPI:)`` until
    /// the summary is out.
    public static let endsAbnormallyAfterLeaving = Atomic<Bool>(false)

    /// Completes `request` by testing it (`MPI_Test`, backing off as a service loop when idle),
    /// never by `MPI_Wait`. An attach gateway's accept thread can be stuck inside Open MPI's
    /// progress engine (a connect whose peer vanished half-way: `ompi_comm_nextcid` waiting on the
    /// name server); Open MPI 4.1 then puts every other thread that waits for a request to sleep
    /// until that wait ends, and a blocking collective on the main thread never returns, leaving
    /// the other ranks spinning in it. `MPI_Test` drives the progress engine itself.
    static func testUntilComplete(_ request: Request) throws {
        var backoff = IdleBackoff.serviceLoop
        while try request.test() == nil { backoff.idle() }
    }

    /// The whole job for `chronolog-job`: join as a service rank, run the role (or `client` on
    /// client ranks), leave. Installs the SIGTERM/SIGINT handlers and ignores SIGPIPE
    /// (``BrokenPipes``: an attached client killed mid-write must not kill its gateway's rank).
    /// - Parameter client: the body run on each client rank; returns the rank's counters; a
    ///   thrown error marks the job failed (exit status 1).
    /// - Returns: 0 when the job ended cleanly and nothing was lost, 1 on failure or loss,
    ///   2 when the job cannot be laid out (on the application's first rank, which reports it;
    ///   the others return 0 so mpirun lets it print) or MPI cannot start.
    public func run(client: (ChronoSession, Logger) throws -> Counters) -> Int32 {
        ShutdownSignal.install()
        BrokenPipes.ignore()
        let m: JobMembership
        do {
            m = try join(asService: true)
        } catch let error as JoinError where error.isAgreed {
            // Every rank hits this alike; one reports it and fails, the others leave quietly so
            // that mpirun does not kill the reporter before it has printed.
            guard LaunchEnvironment.isFirstRankOfApplication else { return 0 }
            printError("chronolog-job: \(error)")
            return 2
        } catch {
            printError("chronolog-job: \(error)")
            return 2
        }
        var counters: Counters = [:]
        var status: Int32 = 0
        if m.assignment.role == .visor {
            print("chronolog-job: \(m.layout.plan.assignments.count) ranks, \(m.layout.plan.groupCount) recording group(s)")
            print(m.layout.plan.renderedMap())
            fflush(nil)
        }
        if let session = m.session {
            do {
                counters = try client(session, m.logger)
            } catch {
                m.logger.error("workload failed: \(error)")
                counters[.workloadFailed] = 1
                status = 1
            }
        } else {
            do {
                (counters, status) = try serve(m)
            } catch {
                printError("chronolog-job: rank \(m.layout.worldRank) (\(m.assignment.role)) failed: \(error)")
                MPIRuntime.abort(code: 1)
            }
        }
        return leave(m, counters: counters, status: status)
    }

    /// Writes the summary to ``summaryJSONPath``, if set. - Returns: false, after a message on
    /// standard error, when the file cannot be written (the text summary was printed regardless).
    private func writeSummaryJSON(_ summary: JobSummary, exitStatus: Int32) -> Bool {
        guard let path = summaryJSONPath else { return true }
        do {
            try summary.writeJSON(to: path, exitStatus: exitStatus, signal: ShutdownSignal.signalNumber)
            return true
        } catch {
            printError("chronolog-job: cannot write the summary to --summary-json \(path): \(error.localizedDescription)")
            return false
        }
    }

    private func makeLogger(rank: Int, role: Role) -> Logger {
        var logger = Logger(label: "chronolog")
        logger.logLevel = Logger.Level(rawValue: config.log.level) ?? .info
        logger[metadataKey: "rank"] = "\(rank)"
        logger[metadataKey: "role"] = "\(role.rawValue)"
        return logger
    }
}

/// Writes a line to standard error.
public func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
