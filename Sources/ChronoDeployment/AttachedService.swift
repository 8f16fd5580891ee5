import ChronoClient
import ChronoModel
import ChronoRuntime
import Foundation
import MPI
import Synchronization

/// A process attached to a serving job from outside it (docs/ATTACH.md): a singleton
/// (`./app`, `python3 script.py`) or a rank of its own `mpirun --ompi-server file:URI`.
///
/// ``session`` behaves as an in-job client rank's: `ChronoLogClient(session:)` connects, logs and
/// replays with the same semantics and codes. A keep-alive thread tells the gateway the client is
/// alive (and how many events it logged). ``detach()`` says goodbye; MPI is finalised only if
/// ``attach(to:config:)`` initialised it.
public final class AttachedService: @unchecked Sendable {
    /// The session over the gateway.
    public let session: ChronoSession
    /// Whether the gateway accepted the read-only token.
    public let isReadOnly: Bool
    /// The run directory attached to.
    public let runDirectory: RunDirectory
    /// How long the lookup, connect and hello took.
    public let attachDuration: Duration
    private let gateway: Communicator
    private let weInitializedMPI: Bool
    private let stopped = Atomic<Bool>(false)
    private let keepAliveDone = Mutex<Bool>(false)

    private init(session: ChronoSession, readOnly: Bool, runDirectory: RunDirectory, gateway: Communicator,
                 weInitializedMPI: Bool, took: Duration) {
        self.session = session
        self.isReadOnly = readOnly
        self.runDirectory = runDirectory
        self.gateway = gateway
        self.weInitializedMPI = weInitializedMPI
        self.attachDuration = took
    }

    /// Attaches to the service of `runDirectory`, presenting `tokenFile` (default: the run
    /// directory's `token`, else its `token.read`).
    ///
    /// Starts MPI (`MPI_THREAD_MULTIPLE`) when it is not running, pointing a singleton at the run
    /// directory's `ompi-server` first; an MPI started by the application must have been told the
    /// name server by its launcher (`mpirun --ompi-server file:URI`).
    /// - Throws: `.noConnection` (−8) within a second when the run directory is missing or its
    ///   name server does not answer, or when lookup, connect or hello exceed
    ///   `attach.connectTimeoutMs`; `.notAuthorized` (−9) for a wrong or missing token;
    ///   `.invalidArgument` (−2) when MPI runs below `MPI_THREAD_MULTIPLE`.
    public static func attach(to runDirectory: RunDirectory, tokenFile: String? = nil,
                              config: ChronoConfig) throws(ChronoLogError) -> AttachedService {
        let started = ContinuousClock.now
        try runDirectory.checkNameServer()
        let token = (try? RunDirectory.token(at: tokenFile ?? runDirectory.tokenFile))
            ?? (tokenFile == nil ? (try? RunDirectory.token(at: runDirectory.readTokenFile)) : nil) ?? ""
        let service = try runDirectory.serviceName()
        let weInitialized = try startMPI(runDirectory)
        let deadline = started + .milliseconds(config.attach.connectTimeoutMs)
        let turn = try AttachTurn.take(runDirectory, until: deadline)
        let gateway: Communicator
        do {
            gateway = try connect(service: service, deadline: deadline, turn: turn)
        } catch {
            // A program under an mpirun of its own reaches the service's name only through the
            // name server given to that mpirun: say so, the lookup's own error does not.
            guard case .noConnection(let detail) = error else { throw error }
            throw .noConnection(detail + " (a program started by an mpirun of its own finds the service only when that mpirun "
                                + "names its name server: mpirun --ompi-server file:\(runDirectory.uriFile) …)")
        }
        let answer: AttachWire.HelloAnswer
        do {
            answer = try hello(gateway, token: token, deadline: deadline)
        } catch {
            gateway.freeLocal()
            throw error
        }
        let layout = JobLayout(plan: RolePlan(assignments: answer.assignments), worldRank: answer.gatewayRank)
        let session = ChronoSession(layout: layout, channel: ControlChannel(attachedThrough: gateway), config: config)
        let attached = AttachedService(session: session, readOnly: answer.readOnly, runDirectory: runDirectory, gateway: gateway,
                                       weInitializedMPI: weInitialized, took: ContinuousClock.now - started)
        attached.startKeepAlive(every: .milliseconds(max(50, config.attach.leaseMs / 4)))
        MPIStartedByAttach.live.withLock { $0[ObjectIdentifier(attached)] = attached }
        MPIStartedByAttach.detachInMPIFinalize
        return attached
    }

    private static func startMPI(_ runDirectory: RunDirectory) throws(ChronoLogError) -> Bool {
        if MPIRuntime.isInitialized {
            guard MPIRuntime.threadLevel >= .multiple else {
                throw .invalidArgument("MPI was initialised with \(MPIRuntime.threadLevel); attaching needs MPI_THREAD_MULTIPLE")
            }
            do { try Communicator.setErrorsReturnOnWorld() } catch { throw .noConnection("\(error)") }
            return false
        }
        setenv("OMPI_MCA_pmix_server_uri", "file:" + runDirectory.uriFile, 1)
        do {
            try MPIRuntime.initialize(requiring: .multiple)
        } catch {
            throw .noConnection("starting MPI to attach failed: \(error)")
        }
        MPIStartedByAttach.endAtExit
        return true
    }

    /// Looks the service up and connects, on a helper thread: a port whose job died can leave
    /// `MPI_Comm_connect` waiting, and the caller gets −8 at the deadline instead. The helper
    /// gives `turn` up only once the connect returned, so a connect the caller stopped waiting for
    /// still keeps the next process from connecting alongside it (``AttachTurn``).
    private static func connect(service: String, deadline: ContinuousClock.Instant,
                                turn: AttachTurn?) throws(ChronoLogError) -> Communicator {
        let result = Mutex<Result<Communicator, ChronoLogError>?>(nil)
        MPIStartedByAttach.connectsInFlight.add(1, ordering: .sequentiallyConsistent)
        let thread = Thread {
            let r: Result<Communicator, ChronoLogError>
            do {
                let port = try MPIPort.lookup(service)
                r = .success(try MPIPort.connect(port))
            } catch {
                r = .failure(.noConnection("no service \(service) to attach to: \(error)"))
            }
            MPIStartedByAttach.connectsInFlight.subtract(1, ordering: .sequentiallyConsistent)
            turn?.release()
            result.withLock { $0 = r }
        }
        thread.start()
        while ContinuousClock.now < deadline {
            if let r = result.withLock({ $0 }) { return try r.get() }
            Thread.sleep(forTimeInterval: 0.002)
        }
        throw .noConnection("attaching to \(service) did not complete in time")
    }

    private static func hello(_ gateway: Communicator, token: String,
                              deadline: ContinuousClock.Instant) throws(ChronoLogError) -> AttachWire.HelloAnswer {
        let channel = ControlChannel(attachedThrough: gateway)
        do {
            try channel.postToGateway(Array(token.utf8), tag: .hello)
            while ContinuousClock.now < deadline {
                _ = try channel.progress()
                if let bytes = try channel.pollGateway(tag: .hello) {
                    let answer = try AttachWire.HelloAnswer.decode(bytes)
                    if answer.rc == .notAuthorized { throw ChronoLogError.notAuthorized("the service refused the token") }
                    if let error = ChronoLogError(code: answer.rc, detail: "the gateway refused the hello") { throw error }
                    return answer
                }
                Thread.sleep(forTimeInterval: 0.0005)
            }
        } catch let error as ChronoLogError {
            throw error
        } catch {
            throw .noConnection("the hello to the gateway failed: \(error)")
        }
        throw .noConnection("the gateway did not answer the hello in time")
    }

    private func startKeepAlive(every interval: Duration) {
        let thread = Thread { [self] in
            var last = ContinuousClock.now
            while !stopped.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 0.01)
                try? session.withControlChannel("watching for the gateway's goodbye") { channel in
                    if try channel.pollGateway(tag: .goodbye) != nil { channel.markGatewayGone() }
                }
                guard ContinuousClock.now - last >= interval, !stopped.load(ordering: .acquiring) else { continue }
                last = ContinuousClock.now
                let logged = session.ingestCounters[.eventsLogged] ?? 0
                var bytes: [UInt8] = []
                for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: logged >> (8 * UInt64(i)))) }
                try? session.withControlChannel("keep-alive") { channel in try channel.postToGateway(bytes, tag: .keepAlive) }
            }
            keepAliveDone.withLock { $0 = true }
        }
        thread.name = "chronolog-attach-keepalive"
        thread.start()
    }

    /// Whether the gateway said the service stopped (every call of the session then fails with −8).
    public var serviceStopped: Bool {
        var gone = false
        try? session.withControlChannel("reading the channel's state") { channel in gone = channel.gatewayGone }
        return gone
    }

    /// Says goodbye to the gateway (clients should be disconnected first: the session's
    /// ``ChronoSession/finish()`` closes what they still hold), frees the intercommunicator, and
    /// finalises MPI if attaching started it and `finalizingMPI` (false inside `MPI_Finalize`).
    /// Idempotent.
    public func detach(finalizingMPI: Bool = true) throws(ChronoLogError) {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        MPIStartedByAttach.live.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(self)) }
        while !keepAliveDone.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.002) }
        let finished: ChronoLogError?
        do throws(ChronoLogError) { try session.finish(); finished = nil } catch { finished = error }
        gateway.freeLocal()
        if weInitializedMPI && finalizingMPI { try? MPIRuntime.finalize() }
        if let finished { throw finished }
    }
}

/// An MPI that attaching started ends when the process exits, if the program did not end it: a
/// program whose attach failed (it may try again while MPI runs, so MPI is not ended at the
/// failure), or that exits still attached, would otherwise leave without `MPI_Finalize`, which its
/// own `mpirun` reports as an abnormal end. Attachments still live are detached first.
enum MPIStartedByAttach {
    /// Connects whose helper thread is still inside `MPI_Comm_connect` (given up at the deadline):
    /// `MPI_Finalize` could wait for them for ever, so the exit then skips it.
    static let connectsInFlight = Atomic<Int>(0)
    /// Attachments not yet detached.
    static let live = Mutex<[ObjectIdentifier: AttachedService]>([:])

    /// Registers the exit handler, once per process.
    static let endAtExit: Void = { atexit { MPIStartedByAttach.end() } }()

    /// Makes `MPI_Finalize` (the program's or the exit handler's) detach what is still attached
    /// first, so the service does not hold the process's stories until its lease expires.
    /// Registered once, at the first attach; the C interface's own leave, registered after it,
    /// runs before it and disconnects its clients first.
    static let detachInMPIFinalize: Void = {
        try? MPIRuntime.callBeforeFinalize {
            for service in MPIStartedByAttach.live.withLock({ Array($0.values) }) { try? service.detach(finalizingMPI: false) }
        }
    }()

    private static func end() {
        guard MPIRuntime.isInitialized, !MPIRuntime.isFinalized,
              connectsInFlight.load(ordering: .sequentiallyConsistent) == 0 else { return }
        try? MPIRuntime.finalize()
    }
}
