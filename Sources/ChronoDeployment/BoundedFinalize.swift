import Dispatch
import Foundation
import MPI
import Synchronization

/// `MPI_Finalize` with a bound, for a process whose attach gateway accepted clients.
///
/// The gateway's accept thread stays in `MPI_Comm_accept` when the service stops. Idle, that is
/// harmless (`MPI_Finalize` returns). But a connect abandoned half-way (its process killed, or
/// several processes connecting to the port at once without ``AttachTurn``) leaves the thread
/// inside Open MPI waiting on the name server for a peer that is gone, holding locks
/// `MPI_Finalize` needs (the TCP transport's, measured with Open MPI 4.1.4). When the bound is set,
/// a finalize that has not returned within it ends the process with the job's status: the summary
/// is out by then and every other rank has passed the finalize fence.
enum BoundedFinalize {
    private static let bound = Mutex<Duration?>(nil)

    /// Bounds this process's later ``finalize(exitStatus:)`` by `limit`.
    static func require(_ limit: Duration) {
        bound.withLock { $0 = limit }
    }

    /// Finalises MPI (collective over all processes, as `MPI_Finalize`); past the bound, if one
    /// was required, writes why to standard error and exits with `exitStatus` at once.
    /// - Throws: `MPIError` from `MPI_Finalize`.
    static func finalize(exitStatus: Int32) throws {
        guard let limit = bound.withLock({ $0 }) else { return try MPIRuntime.finalize() }
        let done = DispatchSemaphore(value: 0)
        let watchdog = Thread {
            let (seconds, attoseconds) = limit.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            guard done.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut else { return }
            printError("chronolog: MPI_Finalize did not return within \(limit) (the attach port's accept is stuck in Open MPI "
                       + "on a connect that never completed); exiting with status \(exitStatus)")
            fflush(nil)
            _exit(exitStatus)
        }
        watchdog.name = "chronolog-finalize-bound"
        watchdog.start()
        defer { done.signal() }
        try MPIRuntime.finalize()
    }
}
