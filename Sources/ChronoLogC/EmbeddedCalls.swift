import ChronoDeployment
import CChronoLog
import CChronoShims
import ChronoClient
import ChronoModel
import ChronoSystem
import CMPI
import MPI
#if canImport(Glibc)
import Glibc
#endif

// chronolog_init: embedded (Damaris-style) mode, the service made of the application's own ranks.

/// `chronolog_init`: see chronolog.h. Collective over `comm` (`MPI_COMM_WORLD` or any other
/// intracommunicator of the application; the job is made of its ranks alone). Every rank joins as a service rank; the role plan (as for `chronolog-job`) makes the visor,
/// each node's keepers, grapher and player out of them and leaves the rest clients. Client ranks
/// return at once, joined, with the clients' communicator; service ranks serve and return once
/// the clients have finalized.
@_cdecl("chronolog_init")
public func cabiInit(_ comm: MPI_Comm?, _ configPath: UnsafePointer<CChar>?, _ appComm: UnsafeMutablePointer<MPI_Comm?>?,
                     _ isClient: UnsafeMutablePointer<Int32>?) -> Int32 {
    let runtime = CABIRuntime.shared
    guard runtime.phase == .idle, let isClient, let world = EmbeddedInit.jobCommunicator(comm) else {
        return ReturnCode.invalidArgument.rawValue
    }
    isClient.pointee = 0
    let (config, problem) = JoinPreflight.check(configPath: configPath)
    let job = ChronoJob(config: config, minimumClients: 1)
    // SIGTERM and SIGINT drain a service rank as chronolog-job's, where the program left their
    // defaults (which kill). Installed before the join, as chronolog-job does: libfabric's shm
    // provider, opened in the join, chains to the handler it finds then. Client ranks go back to
    // the defaults, then take SIGTERM their own way (``TerminationDrain``).
    var restoreSignals = chrono_sigterm_is_default() != 0
    if restoreSignals { ShutdownSignal.install() }
    defer { if restoreSignals { chrono_sigterm_sigint_default() } }
    let m: JobMembership
    do {
        m = try job.join(asService: true, over: world)
    } catch ChronoJob.JoinError.layout(let error) {
        runtime.markRefused()
        if world.rank == 0 { printError("chronolog_init: \(error)") }
        return ReturnCode.noKeepers.rawValue
    } catch let error as ChronoJob.JoinError where error.isAgreed {
        runtime.markRefused()
        if world.rank == 0 { printError("chronolog_init: \(error)") }
        return ReturnCode.unknown.rawValue
    } catch {
        runtime.markFinalized()
        printError("chronolog_init: \(error)")
        return ReturnCode.unknown.rawValue
    }
    // Every rank of the job learns whether any cannot go on; then they all leave together.
    let worst = (try? world.allreduce(Int64(problem?.returnCode.rawValue ?? 0), op: .min))
        ?? Int64(ReturnCode.unknown.rawValue)
    guard worst == 0 else {
        if let problem { printError("chronolog_init: \(problem)") }
        runtime.markFinalized()
        _ = job.leave(m, counters: [:], status: 1)
        return Int32(worst)
    }
    guard m.assignment.role != .client else {
        if restoreSignals { chrono_sigterm_sigint_default() }
        restoreSignals = false
        runtime.joined(job: job, membership: m)
        isClient.pointee = 1
        appComm?.pointee = m.peers?.handle ?? chrono_mpi_comm_null()
        return ReturnCode.success.rawValue
    }
    appComm?.pointee = chrono_mpi_comm_null()
    runtime.markFinalized()
    return EmbeddedInit.serve(job, m)
}

/// The parts of `chronolog_init` that are not the join itself.
enum EmbeddedInit {
    /// The communicator the job is made of: `comm` when it is an intracommunicator (before
    /// `MPI_Init`, only `MPI_COMM_WORLD`'s handle can be one); nil for `MPI_COMM_NULL`, an
    /// intercommunicator, an invalid handle, or after `MPI_Finalize`.
    static func jobCommunicator(_ comm: MPI_Comm?) -> Communicator? {
        let world = chrono_mpi_comm_world()
        guard MPIRuntime.isInitialized else { return comm == world ? .world : nil }
        guard !MPIRuntime.isFinalized, comm != chrono_mpi_comm_null() else { return nil }
        var inter: Int32 = 1
        guard MPI_Comm_test_inter(comm, &inter) == 0, inter == 0 else { return nil }
        return Communicator(handle: comm, owned: false)
    }

    /// Runs this service rank's role until the clients have finished, then leaves the job
    /// (collective over `MPI_COMM_WORLD`, with the clients' `chronolog_finalize`).
    /// - Returns: `CL_SUCCESS`, or `CL_ERR_UNKNOWN` when the job ended with a failure.
    static func serve(_ job: ChronoJob, _ m: JobMembership) -> Int32 {
        if m.assignment.role == .visor {
            print("chronolog_init: \(m.layout.plan.assignments.count) ranks, \(m.layout.plan.groupCount) recording group(s)")
            print(m.layout.plan.renderedMap())
            fflush(nil)
        }
        let counters: Counters
        let status: Int32
        do {
            (counters, status) = try job.serve(m)
        } catch {
            // As chronolog-job does: a failed control plane cannot be left collectively.
            printError("chronolog_init: rank \(m.layout.worldRank) (\(m.assignment.role)) failed: \(error)")
            MPIRuntime.abort(code: 1)
        }
        return job.leave(m, counters: counters, status: status) == 0 ? ReturnCode.success.rawValue : ReturnCode.unknown.rawValue
    }
}
