import ChronoArchive
import Foundation
import Synchronization

/// Writes the grapher's archive rounds on a thread of their own, so that the grapher goes on
/// reading and merging its keepers' chunks while a round is written and flushed (issue 17: the
/// write, mostly the kernel copying into new page-cache pages, used to stop everything else).
///
/// One round at a time: ``submit(_:)`` hands a round over, ``takeOutcome()`` returns its outcome
/// once written (nil before). Between the two only this thread touches the writer (HDF5 is not
/// used from two threads at once); before the first submit and after an outcome was taken the
/// grapher's thread may use it (open, close). The writer's MPI calls go over a communicator of
/// its own, so they never meet the grapher's own collectives (MPI_THREAD_MULTIPLE is required).
final class ArchiveRoundThread: @unchecked Sendable {
    /// A round's outcome: its report, or why it failed (the writer agreed the failure with every grapher).
    typealias Outcome = Result<ArchiveRoundReport, ArchiveError>

    private struct State {
        var round: [ArchiveChunk]?
        var faults: (any RoleFaults)?
        var outcome: Outcome?
        var stopping = false
    }

    // Only the thread uses the writer while a round is submitted and not taken back: see the type's doc.
    private let writer: any ArchiveStore
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Whether ``stop()`` ran (used by the grapher's thread only).
    private var stopped = false

    /// Starts the thread.
    init(writer: any ArchiveStore) {
        self.writer = writer
        let thread = Thread { [self] in run() }
        thread.name = "chronolog-archive"
        thread.start()
    }

    /// Hands a round over to the thread. Call only when no round is outstanding.
    /// - Parameter faults: the grapher's test faults (a slow archive delays the write here).
    func submit(_ chunks: [ArchiveChunk], faults: any RoleFaults) {
        state.withLock {
            $0.round = chunks
            $0.faults = faults
        }
        wake.signal()
    }

    /// The outcome of the submitted round once it was written (then the round is over), else nil.
    func takeOutcome() -> Outcome? {
        state.withLock { s in
            defer { s.outcome = nil }
            return s.outcome
        }
    }

    /// Ends the thread after the round it writes (if any) and waits for it; again, does nothing.
    func stop() {
        guard !stopped else { return }
        stopped = true
        state.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }

    private func run() {
        while true {
            wake.wait()
            var (round, faults) = state.withLock { s -> ([ArchiveChunk]?, (any RoleFaults)?) in
                defer { s.round = nil }
                return (s.round, s.faults)
            }
            guard round != nil else {
                if state.withLock({ $0.stopping }) { break }
                continue
            }
            faults?.archiveRoundStarts(events: round?.reduce(0) { $0 + $1.chunk.count } ?? 0)
            faults = nil
            let outcome = write(round ?? [])
            // Released before the outcome is published: the grapher then holds the only reference to
            // the chunks' storage and reuses it for its next reads.
            round = nil
            state.withLock { $0.outcome = outcome }
        }
        finished.signal()
    }

    private func write(_ chunks: [ArchiveChunk]) -> Outcome {
        do {
            return .success(try writer.writeRound(chunks))
        } catch {
            return .failure(error)
        }
    }
}
