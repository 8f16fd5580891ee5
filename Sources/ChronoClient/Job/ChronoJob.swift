import ChronoModel
import ChronoRoles
import Foundation
import Logging
import MPI

/// A whole ChronoLog-Swift deployment inside the MPI job this process belongs to.
///
/// `run` lays out the roles (collective over `MPI_COMM_WORLD`), runs this rank's role until the
/// job ends — the visor, a keeper, grapher or player, or the caller's client body — then gathers
/// the summary at rank 0 and finalizes MPI. Every rank returns the same exit status.
public struct ChronoJob {
    /// The effective configuration.
    public let config: ChronoConfig
    /// Client ranks the job requires.
    public let minimumClients: Int
    /// Test knob: recording roles that stay silent (never register with the visor), to check
    /// that the visor copes with an incomplete group.
    public var silentRoles: Set<Role> = []
    /// Test knob: only silence the roles of these groups (all groups when empty).
    public var silentGroups: Set<Int> = []

    /// - Parameters:
    ///   - config: the effective configuration.
    ///   - minimumClients: client ranks the workload needs (a smaller job fails with the minimum -n).
    public init(config: ChronoConfig, minimumClients: Int) {
        self.config = config
        self.minimumClients = minimumClients
    }

    /// Runs this rank's part. Initializes and finalizes MPI.
    /// - Parameter client: the body run on each client rank with its session; returns the rank's
    ///   counters for the summary; a thrown error marks the job failed (exit status 1).
    /// - Returns: 0 when the job ended cleanly and nothing was lost, 1 on failure or loss,
    ///   2 when the job cannot be laid out.
    public func run(client: (ChronoSession, Logger) throws -> [String: UInt64]) -> Int32 {
        do {
            try MPIRuntime.initialize(requiring: .multiple)
        } catch {
            printError("chronolog-job: cannot start MPI: \(error)")
            return 2
        }
        ShutdownSignal.install()
        let world = Communicator.world
        let layout: JobLayout
        do {
            layout = try JobLayout.discover(
                world: world, isService: true,
                shape: GroupShape(keepers: config.deployment.keepersPerNode, graphers: config.deployment.graphersPerNode,
                                  players: config.deployment.playersPerNode),
                virtualNodes: max(1, config.deployment.virtualNodes),
                minimumClients: minimumClients)
        } catch let error as RolePlanError {
            if world.rank == 0 { printError("chronolog-job: \(error)") }
            try? MPIRuntime.finalize()
            return 2
        } catch {
            printError("chronolog-job: rank \(world.rank): \(error)")
            MPIRuntime.abort(code: 1)
        }
        let me = layout.me
        let logger = makeLogger(rank: me.worldRank, role: me.role)
        if world.rank == 0 {
            print("chronolog-job: \(world.size) ranks, \(layout.plan.groupCount) recording group(s)")
            print(layout.plan.renderedMap())
            fflush(nil)
        }

        var counters: [String: UInt64] = [:]
        var status: Int32 = 0
        let comm: Communicator
        do {
            comm = try world.duplicate()
            let channel = ControlChannel(communicator: comm)
            // The client ranks' own communicator, for workloads that coordinate (barriers, reductions).
            let peers = try world.split(color: me.role == .client ? 0 : nil, key: world.rank)
            switch me.role {
            case .visor:
                let visor = VisorService(channel: channel, plan: layout.plan, config: config, logger: logger)
                try visor.run()
                counters = visor.counters
            case .keeper, .grapher, .player:
                let role: ProcessRole = me.role == .keeper ? .keeper : me.role == .grapher ? .grapher : .player
                let behavior = StoryTrackingRole(role: role)
                var process = RecordingProcess(
                    behavior: behavior, channel: channel, assignment: me, visorRank: layout.plan.ranks(of: .visor)[0],
                    config: config, logger: logger)
                if silentRoles.contains(me.role) && (silentGroups.isEmpty || silentGroups.contains(me.group ?? -1)) {
                    process.registersWithVisor = false
                }
                try process.run()
                counters = behavior.counters
                if behavior.undrainedEvents > 0 { status = 1 }
            case .client:
                let session = ChronoSession(layout: layout, channel: channel, config: config, peers: peers)
                do {
                    counters = try client(session, logger)
                } catch {
                    logger.error("workload failed: \(error)")
                    counters["workload.failed"] = 1
                    status = 1
                }
                try session.finish()
                try peers?.free()
            }
        } catch {
            printError("chronolog-job: rank \(me.worldRank) (\(me.role)) failed: \(error)")
            MPIRuntime.abort(code: 1)
        }

        do {
            let summary = try JobSummary.gather(counters: counters, role: me.role, over: world)
            status = Int32(try world.allreduce(Int64(status), op: .max))
            if world.rank == 0, let summary {
                print(summary.rendered(exitStatus: status))
                fflush(nil)
            }
            try comm.free()
            try MPIRuntime.finalize()
        } catch {
            printError("chronolog-job: rank \(me.worldRank): shutdown failed: \(error)")
            return 1
        }
        return status
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
