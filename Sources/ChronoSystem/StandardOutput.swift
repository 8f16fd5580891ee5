#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The process's standard output as seen by a rank under `mpirun`.
public enum StandardOutput {
    /// Makes standard output line-buffered. mpirun merges every rank's output into one stream; a
    /// line a rank writes in two pieces (its buffer filled mid-line) can be split there by another
    /// rank's. Call at start-up, before anything is printed.
    public static func lineBuffered() {
        setvbuf(stdout, nil, _IOLBF, 0)
    }
}
