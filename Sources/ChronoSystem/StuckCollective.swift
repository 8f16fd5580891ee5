import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Whether this process has given up on a collective MPI-IO / parallel-HDF5 call that a thread of
/// its own is stuck in for good (a grapher's archive round that never finished on some grapher).
///
/// Such a process must not finalize MPI, nor run its exit handlers: `MPI_Finalize` (through the
/// callback HDF5 attaches to `MPI_COMM_SELF`) and HDF5's `atexit` handler both close the open
/// parallel file, collectively, and would wait for ever. It ends with ``leave(status:)`` instead,
/// once the job's summary is out (``ChronoJob/leave``).
public enum StuckCollective {
    private static let given = Atomic<Bool>(false)

    /// Records that this process gave up on a collective call (the call is never returned to).
    public static func giveUp() {
        given.store(true, ordering: .releasing)
    }

    /// Whether ``giveUp()`` was called.
    public static var isGivenUp: Bool { given.load(ordering: .acquiring) }

    /// Flushes standard output and standard error, then ends the process at once with `status`
    /// (`_exit`): no `atexit` handlers, no `MPI_Finalize`; the stuck thread ends with the process.
    public static func leave(status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }
}
