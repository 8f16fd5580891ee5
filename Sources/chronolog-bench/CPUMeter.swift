import Foundation
import MPI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// CPU time of every rank of the job, service ranks included, read at the same moments.
///
/// Made collectively by every rank of `MPI_COMM_WORLD` right after the job is joined (it
/// duplicates `MPI_COMM_WORLD`). The client ranks call ``round(last:)`` at the boundaries of each
/// phase; on service ranks, which are busy in their role, a helper thread answers those rounds
/// (``serveInBackground()``), polling a non-blocking barrier every 2 ms so that it neither spins nor
/// delays the role. Each round is an `MPI_Ibarrier` followed by an `MPI_Allgather` of every
/// rank's process CPU seconds (`CLOCK_PROCESS_CPUTIME_ID`, all threads). The clients' last round
/// releases the helpers; both sides then free the communicator.
final class CPUMeter: @unchecked Sendable {
    private let comm: Communicator
    private let served = Atomic<Bool>(false)

    private struct Sample: BitwiseCopyable {
        var cpuSeconds: Double
        var last: Double
    }

    /// Duplicates `MPI_COMM_WORLD`. Collective over `MPI_COMM_WORLD`.
    init() throws {
        comm = try Communicator.world.duplicate()
    }

    /// This process's CPU seconds so far, every thread included.
    static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Client side: one round. Collective over `MPI_COMM_WORLD` (service ranks take part through
    /// their helper thread). With `last`, releases the helpers and frees the communicator.
    /// - Returns: CPU seconds of all ranks together.
    func round(last: Bool = false) throws -> Double {
        try Self.quietBarrier(comm, pollMicroseconds: 100)
        let all = try comm.allgather(Sample(cpuSeconds: Self.processCPUSeconds(), last: last ? 1 : 0))
        if last { try comm.free() }
        return all.reduce(0) { $0 + $1.cpuSeconds }
    }

    /// Service side: answers the clients' rounds on a helper thread until their last round.
    func serveInBackground() {
        let thread = Thread { [self] in
            do {
                while true {
                    try Self.quietBarrier(comm, pollMicroseconds: 2000)
                    let all = try comm.allgather(Sample(cpuSeconds: Self.processCPUSeconds(), last: 0))
                    if all.contains(where: { $0.last != 0 }) { break }
                }
                try comm.free()
            } catch {
                FileHandle.standardError.write(Data("chronolog-bench: CPU meter: \(error)\n".utf8))
            }
            served.store(true, ordering: .releasing)
        }
        thread.name = "cpu-meter"
        thread.start()
    }

    /// Service side: waits (at most `seconds`) for the helper to finish, after the role has ended.
    /// - Returns: whether it finished (if not, the communicator stays allocated).
    @discardableResult
    func waitServed(seconds: Double) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !served.load(ordering: .acquiring) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(1000)
        }
        return true
    }

    /// A barrier that sleeps between tests instead of spinning in `MPI_Wait` (so waiting ranks
    /// use no CPU the meter would count). Collective over `comm`.
    static func quietBarrier(_ comm: Communicator, pollMicroseconds: UInt32) throws {
        let request = try comm.ibarrier()
        while try request.test() == nil { usleep(pollMicroseconds) }
    }
}
