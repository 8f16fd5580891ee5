import ChronoDeployment
import MPI
import ChronoClient
import ChronoModel
import Synchronization

/// The process-wide state behind the C interface (chronolog.h): the job membership made by
/// `chronolog_join`, and every handle given out since, kept alive until `chronolog_finalize` so
/// that a handle passed after disconnect, release or close is still safe to look at.
///
/// Thread-safe. The phase is an atomic read by every call (the event path reads nothing else of
/// this type); the membership and the handle lists sit behind one lock taken by calls that are
/// not on the event path.
final class CABIRuntime: @unchecked Sendable {
    /// The one instance of the process.
    static let shared = CABIRuntime()

    /// Where the process is in its life in the job.
    enum Phase: Int {
        case idle = 0, joined = 1, finalized = 2
    }

    private struct State {
        var job: ChronoJob?
        var membership: JobMembership?
        var attached: AttachedService?
        var clients: [ClientBox] = []
        var stories: [ObjectIdentifier: StoryBox] = [:]
        var cursors: [ReplayCursor] = []
    }

    private let phaseValue = Atomic<Int>(Phase.idle.rawValue)
    private let state = Mutex(State())

    /// The current phase.
    var phase: Phase { Phase(rawValue: phaseValue.load(ordering: .acquiring)) ?? .finalized }

    /// Whether calls other than join may run (joined and not finalized).
    var isJoined: Bool { phaseValue.load(ordering: .acquiring) == Phase.joined.rawValue }

    /// Records a successful join.
    func joined(job: ChronoJob, membership: JobMembership) {
        state.withLock {
            $0.job = job
            $0.membership = membership
        }
        phaseValue.store(Phase.joined.rawValue, ordering: .releasing)
        Self.leaveInMPIFinalize
        TerminationDrain.install
    }

    /// Records a successful attach (docs/ATTACH.md).
    func attached(_ service: AttachedService) {
        state.withLock { $0.attached = service }
        phaseValue.store(Phase.joined.rawValue, ordering: .releasing)
        Self.leaveInMPIFinalize
        TerminationDrain.install
    }

    /// A rank that calls `MPI_Finalize` while still joined or attached leaves first, as
    /// `chronolog_finalize` would: otherwise the service waits for it for ever (a joined rank), or
    /// holds its lease until it expires (an attached one). Registered once, at the first join or
    /// attach; does nothing once the process has left.
    private static let leaveInMPIFinalize: Void = {
        do {
            try MPIRuntime.callBeforeFinalize { CABIRuntime.shared.leaveBeforeMPIFinalize() }
        } catch {
            printError("chronolog: cannot hook MPI_Finalize (\(error)); call chronolog_finalize before it")
        }
    }()

    /// Inside `MPI_Finalize`: leaves the job or detaches if the program did not.
    private func leaveBeforeMPIFinalize() {
        guard isJoined else { return }
        _ = leaveTheJob(mayFinalizeMPI: false)
    }

    /// Takes the attached service and what must be closed before detaching; nil when not attached.
    func takeForDetaching() -> (service: AttachedService, clients: [ClientBox], cursors: [ReplayCursor])? {
        state.withLock { s in
            guard let service = s.attached else { return nil }
            defer { s = State() }
            return (service, s.clients, s.cursors)
        }
    }

    /// Marks the process finalized (a refused join, or after leaving).
    func markFinalized() {
        phaseValue.store(Phase.finalized.rawValue, ordering: .releasing)
    }

    /// After a join refused alike on every rank (the job too small, the archive directory
    /// unusable): the process may try again (another communicator, another configuration) while
    /// MPI is still running, which it is unless the refused join had started it and so ended it.
    func markRefused() {
        if MPIRuntime.isInitialized && !MPIRuntime.isFinalized {
            phaseValue.store(Phase.idle.rawValue, ordering: .releasing)
        } else {
            markFinalized()
        }
    }

    /// The session of this rank, while joined.
    var session: ChronoSession? {
        guard isJoined else { return nil }
        return state.withLock { $0.membership?.session ?? $0.attached?.session }
    }

    /// Keeps a client box alive until finalize; returns it.
    func keep(_ box: ClientBox) -> ClientBox {
        state.withLock { $0.clients.append(box) }
        return box
    }

    /// The box of a story handle: the same box for the same handle (acquiring twice gives the
    /// same C pointer), kept alive until finalize.
    func box(for handle: StoryHandle) -> StoryBox {
        state.withLock { s in
            if let existing = s.stories[ObjectIdentifier(handle)] { return existing }
            let made = StoryBox(handle: handle)
            s.stories[ObjectIdentifier(handle)] = made
            return made
        }
    }

    /// Keeps a cursor alive until finalize; returns it.
    func keep(_ cursor: ReplayCursor) -> ReplayCursor {
        state.withLock { $0.cursors.append(cursor) }
        return cursor
    }

    /// Takes everything `chronolog_finalize` needs and empties the state: the job, the
    /// membership, the clients and cursors to close. Handles die when the caller drops them.
    func takeForLeaving() -> (job: ChronoJob, membership: JobMembership, clients: [ClientBox], cursors: [ReplayCursor],
                              stories: [StoryBox])? {
        state.withLock { s in
            guard let job = s.job, let m = s.membership else { return nil }
            defer { s = State() }
            return (job, m, s.clients, s.cursors, Array(s.stories.values))
        }
    }
}

/// What a `chronolog_client *` points to.
final class ClientBox: Sendable {
    let client: ChronoLogClient
    init(client: ChronoLogClient) { self.client = client }
}

/// What a `chronolog_story *` points to.
final class StoryBox: Sendable {
    let handle: StoryHandle
    init(handle: StoryHandle) { self.handle = handle }
}
