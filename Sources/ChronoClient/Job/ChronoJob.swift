import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation
import Logging
import MPI

/// Runs this rank's part of the job: lay out roles, run the role until the job ends, then
/// gather the summary. Returns the process exit status (the same on every rank).
struct JobRunner {
    let config: ChronoConfig
    let workload: ChronologJob.WorkloadKind
    let storiesPerClient: Int

    func run() -> Int32 {
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
                minimumClients: workload == .demo ? 1 : 0)
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
            switch me.role {
            case .visor:
                let visor = VisorService(channel: channel, plan: layout.plan, config: config, logger: logger)
                try visor.run()
                counters = visor.counters
            case .keeper, .grapher, .player:
                let role: ProcessRole = me.role == .keeper ? .keeper : me.role == .grapher ? .grapher : .player
                let behavior = StoryTrackingRole(role: role)
                let process = RecordingProcess(
                    behavior: behavior, channel: channel, assignment: me, visorRank: layout.plan.ranks(of: .visor)[0],
                    config: config, logger: logger)
                try process.run()
                counters = behavior.counters
                if behavior.undrainedEvents > 0 { status = 1 }
            case .client:
                let session = ChronoSession(layout: layout, channel: channel, config: config)
                do {
                    if workload == .demo {
                        counters = try DemoWorkload(session: session, storiesPerClient: storiesPerClient, logger: logger).run()
                    }
                } catch {
                    logger.error("workload failed: \(error)")
                    counters["workload.failed"] = 1
                    status = 1
                }
                try session.finish()
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
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
