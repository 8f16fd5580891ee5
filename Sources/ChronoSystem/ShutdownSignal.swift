import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Process-wide record of SIGTERM/SIGINT, polled by the loops of every role.
///
/// mpirun forwards SIGTERM (and Ctrl-C as SIGINT) to every rank; the handler only sets a flag
/// (async-signal-safe), and each loop notices it on its next round, stops accepting new work,
/// drains what it holds, and exits.
public enum ShutdownSignal {
    private static let received = Atomic<Int32>(0)

    /// Installs the handlers for SIGTERM and SIGINT. Call once at start-up.
    public static func install() {
        signal(SIGTERM, ShutdownSignal_handler)
        signal(SIGINT, ShutdownSignal_handler)
    }

    /// The signal received, or `nil` if none.
    public static var signalNumber: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Whether a termination signal arrived.
    public static var isRequested: Bool { received.load(ordering: .relaxed) != 0 }

    /// Marks shutdown as requested (used by the handler, and by tests to simulate a signal).
    public static func request(_ signal: Int32) {
        received.store(signal, ordering: .relaxed)
    }
}

private func ShutdownSignal_handler(_ sig: Int32) {
    ShutdownSignal.request(sig)
}

/// SIGPIPE, ignored by a job's ranks: a peer that died (an attached client killed while the
/// gateway wrote to it over MPI's TCP transport) makes the write fail with `EPIPE`, which the
/// transport reports as that peer's failure, instead of killing the writing rank and the job with it.
public enum BrokenPipes {
    /// Ignores SIGPIPE in this process. Not for tools whose output may go to a closed pipe (they
    /// rely on it to stop).
    public static func ignore() {
        signal(SIGPIPE, SIG_IGN)
    }
}

