import ChronoModel
import Foundation
import Synchronization

/// One connect at a time per run directory, across processes: an exclusive `flock` on the run
/// directory, held from before `MPI_Lookup_name` until `MPI_Comm_connect` has returned.
///
/// Open MPI 4.1 names the rendezvous of a connect/accept (the process lists, then each round of
/// the context-id agreement) after the port alone (`<port>:nextcid:send:<round>` in the name
/// server), not after the connecting process. Two processes connecting to the gateway's port at
/// once publish and read each other's keys: the gateway's accept ends up waiting in
/// `ompi_comm_nextcid` for a key nobody publishes (for Open MPI's 600 s), every later connect
/// fails, and while it waits the gateway's accept thread holds MPI's progress (docs/ATTACH.md).
/// The kernel drops the lock when its holder exits, killed or not.
final class AttachTurn: @unchecked Sendable {
    private let fd: Int32
    private let released = Mutex<Bool>(false)

    private init(fd: Int32) { self.fd = fd }

    /// Waits for the run directory's turn until `deadline`.
    /// - Returns: the turn, or `nil` when the directory cannot be locked (a file system without
    ///   `flock`): then the connect goes ahead unserialised.
    /// - Throws: `.noConnection` when another process still holds the turn at `deadline`.
    static func take(_ runDirectory: RunDirectory, until deadline: ContinuousClock.Instant) throws(ChronoLogError) -> AttachTurn? {
        let fd = open(runDirectory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return AttachTurn(fd: fd) }
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                return nil
            }
            guard ContinuousClock.now < deadline else {
                close(fd)
                throw .noConnection("an earlier connect to the service of \(runDirectory.path) (this or another program's) did not finish in time")
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
    }

    /// Gives the turn up (closing the descriptor drops the lock). Idempotent; any thread.
    func release() {
        guard !released.withLock({ let was = $0; $0 = true; return was }) else { return }
        close(fd)
    }

    deinit { release() }
}
