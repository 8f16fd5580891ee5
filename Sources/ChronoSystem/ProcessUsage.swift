#if canImport(Glibc)
import Glibc
#endif

/// What this process has cost the machine so far, as the kernel counts it (`getrusage`): minor
/// page faults (each a page mapped for the first time: on a VM a host fault too, so the figure
/// shows how much fresh memory a role touches) and CPU time of every thread.
public struct ProcessUsage: Equatable, Sendable {
    /// Minor page faults so far.
    public var minorFaults: UInt64
    /// User plus system CPU time so far, in microseconds.
    public var cpuMicroseconds: UInt64

    /// The usage now, or zeros where `getrusage` fails (it does not for `RUSAGE_SELF`).
    public static func now() -> ProcessUsage {
        var u = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &u) == 0 else { return ProcessUsage(minorFaults: 0, cpuMicroseconds: 0) }
        func micros(_ t: timeval) -> UInt64 { UInt64(max(0, t.tv_sec)) * 1_000_000 + UInt64(max(0, t.tv_usec)) }
        return ProcessUsage(minorFaults: UInt64(max(0, u.ru_minflt)), cpuMicroseconds: micros(u.ru_utime) + micros(u.ru_stime))
    }

    /// The usage between `earlier` and this one.
    public func since(_ earlier: ProcessUsage) -> ProcessUsage {
        ProcessUsage(minorFaults: minorFaults &- min(minorFaults, earlier.minorFaults),
                     cpuMicroseconds: cpuMicroseconds &- min(cpuMicroseconds, earlier.cpuMicroseconds))
    }
}
