import ChronoDeployment
import CChronoLog
import ChronoClient
import ChronoModel
import CMPI
import Foundation
import MPI

// chronolog_join / chronolog_finalize: the application rank's part in the job (chronolog.h).

/// `chronolog_join`: see chronolog.h. Collective over `MPI_COMM_WORLD` (except when refused at
/// once because the process joined before).
@_cdecl("chronolog_join")
public func cabiJoin(_ configPath: UnsafePointer<CChar>?, _ appComm: UnsafeMutablePointer<MPI_Comm?>?) -> Int32 {
    let runtime = CABIRuntime.shared
    guard runtime.phase == .idle else { return ReturnCode.invalidArgument.rawValue }
    let (config, problem) = JoinPreflight.check(configPath: configPath)
    let job = ChronoJob(config: config, minimumClients: 0)
    let membership: JobMembership
    do {
        membership = try job.join(asService: false)
    } catch ChronoJob.JoinError.layout(let error) {
        runtime.markRefused()
        if LaunchEnvironment.isFirstRankOfApplication { printError("chronolog_join: \(error)") }
        return ReturnCode.noKeepers.rawValue
    } catch let error as ChronoJob.JoinError where error.isAgreed {
        runtime.markRefused()
        if LaunchEnvironment.isFirstRankOfApplication { printError("chronolog_join: \(error)") }
        return ReturnCode.unknown.rawValue
    } catch {
        runtime.markFinalized()
        printError("chronolog_join: \(error)")
        return ReturnCode.unknown.rawValue
    }
    // Every application rank learns whether any of them cannot go on, so they all leave together
    // instead of leaving the service waiting for the ones that refused.
    let worst: Int64
    do {
        worst = try membership.application.allreduce(Int64(problem?.returnCode.rawValue ?? 0), op: .min)
    } catch {
        worst = Int64(ReturnCode.unknown.rawValue)
    }
    guard worst == 0 else {
        if let problem { printError("chronolog_join: \(problem)") }
        runtime.markFinalized()
        _ = job.leave(membership, counters: [:], status: 1)
        return Int32(worst)
    }
    runtime.joined(job: job, membership: membership)
    appComm?.pointee = membership.application.handle
    return ReturnCode.success.rawValue
}

/// `chronolog_finalize`: see chronolog.h. Collective over `MPI_COMM_WORLD`.
@_cdecl("chronolog_finalize")
public func cabiFinalize() -> Int32 {
    leaveTheJob(mayFinalizeMPI: true)
}

/// Leaves the job (or detaches) as `chronolog_finalize` does, which finalises MPI when the join
/// or attach started it (`mayFinalizeMPI`). Inside `MPI_Finalize` (a rank that finalises MPI
/// without `chronolog_finalize`: ``CABIRuntime/leaveBeforeMPIFinalize()``) and on SIGTERM
/// (``TerminationDrain``) MPI is not finalised here.
func leaveTheJob(mayFinalizeMPI: Bool) -> Int32 {
    let runtime = CABIRuntime.shared
    guard runtime.isJoined else { return ReturnCode.noConnection.rawValue }
    if let detaching = runtime.takeForDetaching() {
        defer { TerminationDrain.leftTheJob() }
        return detach(detaching, finalizingMPI: mayFinalizeMPI)
    }
    guard let leaving = runtime.takeForLeaving() else { return ReturnCode.noConnection.rawValue }
    defer { TerminationDrain.leftTheJob() }
    runtime.markFinalized()
    for cursor in leaving.cursors { cursor.close() }
    var status: Int32 = 0
    for box in leaving.clients where box.client.isConnected {
        do throws(ChronoLogError) { try box.client.disconnect() } catch {
            printError("chronolog_finalize: disconnecting a client failed: \(error)")
            status = 1
        }
    }
    let jobStatus = leaving.job.leave(leaving.membership, counters: [:], status: status,
                                      finalizeMPI: mayFinalizeMPI ? nil : false)
    return jobStatus == 0 ? ReturnCode.success.rawValue : ReturnCode.unknown.rawValue
}

/// What `chronolog_join` checks on each rank before joining: the configuration and MPI's thread
/// level. A problem does not stop the join (the service waits for every rank); it makes every
/// application rank leave again at once.
enum JoinPreflight {
    /// The configuration to join with (the defaults when the given one is invalid) and the
    /// problem found, if any.
    static func check(configPath: UnsafePointer<CChar>?) -> (ChronoConfig, ChronoLogError?) {
        var problem: ChronoLogError?
        var config = ChronoConfig()
        let environment = ProcessInfo.processInfo.environment
        do throws(ChronoLogError) {
            let path = try configPath.map { (p) throws(ChronoLogError) in try CInput.string(p, "config_path") }
            config = try ChronoConfig.load(file: path, environment: environment)
        } catch {
            problem = .invalidArgument("configuration: \(error)")
        }
        if MPIRuntime.isInitialized && MPIRuntime.threadLevel < .multiple {
            problem = problem ?? .invalidArgument(
                "MPI was initialised with \(MPIRuntime.threadLevel); libchronolog needs MPI_THREAD_MULTIPLE (MPI_Init_thread)")
        }
        return (config, problem)
    }
}

/// `chronolog_attach`: see chronolog.h. Not collective.
@_cdecl("chronolog_attach")
public func cabiAttach(_ runDir: UnsafePointer<CChar>?, _ portalPort: Int32) -> Int32 {
    let runtime = CABIRuntime.shared
    guard runtime.phase == .idle else { return ReturnCode.invalidArgument.rawValue }
    return returnCode { () throws(ChronoLogError) in
        let environment = ProcessInfo.processInfo.environment
        let config: ChronoConfig
        do throws(ChronoLogError) { config = try ChronoConfig.load(environment: environment) } catch {
            throw .invalidArgument("configuration: \(error)")
        }
        let explicit = try runDir.map { (p) throws(ChronoLogError) in try CInput.string(p, "run_dir") }
        let directory = RunDirectory.resolve(explicit: explicit, config: config, portalPort: Int(portalPort))
        let tokenFile = config.attach.tokenFile.isEmpty ? nil : config.attach.tokenFile
        do throws(ChronoLogError) {
            runtime.attached(try AttachedService.attach(to: directory, tokenFile: tokenFile, config: config))
        } catch {
            printError("chronolog_attach: \(error)")
            throw error
        }
    }
}

/// Detaches an attached process (chronolog_finalize after chronolog_attach).
private func detach(_ d: (service: AttachedService, clients: [ClientBox], cursors: [ReplayCursor]),
                    finalizingMPI: Bool) -> Int32 {
    CABIRuntime.shared.markFinalized()
    for cursor in d.cursors { cursor.close() }
    var status = ReturnCode.success.rawValue
    if d.service.serviceStopped { return detachFromStoppedService(d.service, finalizingMPI: finalizingMPI) }
    for box in d.clients where box.client.isConnected {
        do throws(ChronoLogError) { try box.client.disconnect() } catch {
            printError("chronolog_finalize: disconnecting a client failed: \(error)")
            status = ReturnCode.unknown.rawValue
        }
    }
    do throws(ChronoLogError) { try d.service.detach(finalizingMPI: finalizingMPI) } catch {
        printError("chronolog_finalize: detaching failed: \(error)")
        status = ReturnCode.unknown.rawValue
    }
    return status
}

/// Detaching after the service stopped: nothing to tell it; −8 says so.
private func detachFromStoppedService(_ service: AttachedService, finalizingMPI: Bool) -> Int32 {
    try? service.detach(finalizingMPI: finalizingMPI)
    return ReturnCode.noConnection.rawValue
}
