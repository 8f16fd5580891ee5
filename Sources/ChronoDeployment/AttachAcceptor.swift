import Foundation
import Logging
import MPI
import Synchronization

/// Accepts attached clients on a port of its own thread (`MPI_Comm_accept` blocks and Open MPI
/// 4.1 has none that does not), publishing the port under the run directory's service name, and
/// hands each intercommunicator to the gateway's loop. The thread stays blocked in its last accept
/// when stopped (waking it with a self-connect deadlocks Open MPI 4.1.4; `MPI_Finalize` returns
/// with it blocked): ``stop()`` withdraws the name and closes the port, and later connections are freed.
final class AttachAcceptor: @unchecked Sendable {
    let port: String
    let serviceName: String
    private let accepted = Mutex<[Communicator]>([])
    private let stopped = Atomic<Bool>(false)
    private let logger: Logger
    /// How long this process's `MPI_Finalize` may take once it accepted (``BoundedFinalize``): an
    /// idle accept lets it return in well under a second.
    static let finalizeBound: Duration = .seconds(10)

    /// Opens and publishes the port. - Throws: `MPIError` (no name server: start the job with
    /// `mpirun --ompi-server file:URI`).
    init(serviceName: String, logger: Logger) throws {
        self.serviceName = serviceName
        self.logger = logger
        port = try MPIPort.open()
        try MPIPort.publish(serviceName, port: port)
    }

    /// Starts the accepting thread.
    func start() {
        let thread = Thread { [self] in self.acceptLoop() }
        thread.name = "chronolog-attach-accept"
        thread.start()
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .acquiring) {
            do {
                let comm = try MPIPort.accept(port)
                if stopped.load(ordering: .acquiring) {
                    comm.freeLocal()
                    return
                }
                accepted.withLock { $0.append(comm) }
            } catch {
                // One failed handshake (a client killed while connecting) must not end accepting.
                guard !stopped.load(ordering: .acquiring) else { return }
                logger.error("accepting an attached client failed: \(error)")
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    /// The intercommunicators accepted since the last call.
    func takeAccepted() -> [Communicator] {
        accepted.withLock { list in
            defer { list = [] }
            return list
        }
    }

    /// Withdraws the published name and closes the port, waiting at most `timeout` for it: once
    /// mpirun was signalled it no longer serves name requests, and the unpublish would wait forever
    /// (the name dies with `ompi-server`, which the service script stops).
    func stop(timeout: Duration = .milliseconds(500)) {
        stopped.store(true, ordering: .releasing)
        // The accept thread may be stuck inside Open MPI on a connect that never completed.
        BoundedFinalize.require(Self.finalizeBound)
        let done = Atomic<Bool>(false)
        let (service, port, logger) = (serviceName, self.port, self.logger)
        let thread = Thread {
            do { try MPIPort.unpublish(service, port: port) } catch { logger.warning("unpublishing \(service): \(error)") }
            do { try MPIPort.close(port) } catch { logger.warning("closing the attach port: \(error)") }
            done.store(true, ordering: .releasing)
        }
        thread.start()
        let deadline = ContinuousClock.now + timeout
        while !done.load(ordering: .acquiring) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
        if !done.load(ordering: .acquiring) { logger.notice("the attach port's name was not withdrawn (mpirun is stopping)") }
        for comm in takeAccepted() { comm.freeLocal() }
    }
}
