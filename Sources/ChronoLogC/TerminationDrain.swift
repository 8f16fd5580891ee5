import CChronoShims
import ChronoDeployment
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM for the ranks of a C, C++ or Fortran application (scancel, a job's time limit, a
/// signalled mpirun, which forwards it to every rank).
///
/// By default SIGTERM kills the process at once: the events it logged and not yet flushed were
/// lost, and the service waited for a rank that never said it was done, so the job printed no
/// summary. Where the program left SIGTERM's default, the library takes it instead: a thread of
/// its own leaves the job as `chronolog_finalize` would (flushing and releasing every story, the
/// service told this rank is done; detaching an attached process), without `MPI_Finalize`, which
/// the program's own threads may be inside; then the process ends of SIGTERM, as it would have. A
/// rank already leaving (in `chronolog_finalize`) ends of it once it left; once it left, SIGTERM
/// has its default again. A program with a SIGTERM handler of its own keeps it (it should call
/// `chronolog_finalize` and exit).
enum TerminationDrain {
    /// Set once the process left (``leftTheJob()``).
    private static let left = Atomic<Bool>(false)

    /// The process has left the job (or detached): SIGTERM has its default again, unless the
    /// program installed a handler of its own meanwhile.
    static func leftTheJob() {
        left.store(true, ordering: .releasing)
        chrono_sigterm_pipe_uninstall()
    }

    /// Installs it, once per process; nothing when the program handles SIGTERM itself.
    static let install: Void = {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        guard chrono_sigterm_to_pipe(fds[1]) == 1 else {
            close(fds[0])
            close(fds[1])
            return
        }
        let reader = fds[0]
        let thread = Thread {
            var byte: UInt8 = 0
            while read(reader, &byte, 1) < 0 && errno == EINTR {}
            if CABIRuntime.shared.isJoined {
                ChronoJob.endsAbnormallyAfterLeaving.store(true, ordering: .relaxed)
                _ = leaveTheJob(mayFinalizeMPI: false)
            } else {
                // The program is leaving already (chronolog_finalize): the signal takes effect once it left.
                while !left.load(ordering: .acquiring) { usleep(10_000) }
            }
            chrono_die_of_sigterm()
        }
        thread.name = "chronolog-sigterm"
        thread.start()
    }()
}
