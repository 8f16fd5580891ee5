import ArgumentParser
import ChronoRoles
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// `chronolog-job`: every ChronoLog-Swift tier inside one MPI job.
@main
struct ChronologJob: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chronolog-job",
        abstract: "Run a ChronoLog-Swift deployment inside one MPI job.",
        discussion: """
            Launch under MPI: `mpirun -n N chronolog-job [options]`. Rank 0 becomes the visor; \
            the other ranks are grouped by node (shared-memory split) and each node hosts one \
            recording group (keepers, one grapher, players); ranks left over are clients. The \
            rank → role → node → group map is printed at start-up by rank 0.

            A job too small for the requested roles exits at once (status 2) with the smallest \
            -n that works.
            """)

    @Option(name: .long, help: "Keepers per recording group (ChronoLog's K).")
    var keepersPerNode: Int = 1

    @Option(name: .long, help: "Players per recording group (0 or 1).")
    var playersPerNode: Int = 1

    @Option(name: .long, help: "Split each physical node into this many virtual nodes, each with its own recording group (for testing several groups on one machine).")
    var virtualNodes: Int = 1

    @Option(name: .long, help: "Client ranks the job requires (the built-in workload needs 1).")
    var minClients: Int = 1

    func validate() throws {
        guard keepersPerNode >= 1 else { throw ValidationError("--keepers-per-node must be at least 1") }
        guard (0...1).contains(playersPerNode) else { throw ValidationError("--players-per-node must be 0 or 1") }
        guard virtualNodes >= 1 else { throw ValidationError("--virtual-nodes must be at least 1") }
        guard minClients >= 0 else { throw ValidationError("--min-clients must be 0 or more") }
    }

    func run() throws {
        do {
            try MPIRuntime.initialize(requiring: .multiple)
        } catch {
            printError("chronolog-job: cannot start MPI: \(error)")
            throw ExitCode(2)
        }
        let world = Communicator.world
        let layout: JobLayout
        do {
            layout = try JobLayout.discover(
                world: world, isService: true,
                shape: GroupShape(keepers: keepersPerNode, graphers: 1, players: playersPerNode),
                virtualNodes: virtualNodes, minimumClients: minClients)
        } catch let error as RolePlanError {
            if world.rank == 0 { printError("chronolog-job: \(error)") }
            try? MPIRuntime.finalize()
            throw ExitCode(2)
        }
        if world.rank == 0 {
            print("chronolog-job: \(world.size) ranks, \(layout.plan.groupCount) recording group(s)")
            print(layout.plan.renderedMap())
            fflush(nil)
        }
        try world.barrier()
        try MPIRuntime.finalize()
    }
}

func printError(_ line: String) {
    var s = line + "\n"
    s.withUTF8 { p in _ = write(2, p.baseAddress, p.count) }
}
