import Fabric
import ChronoModel
import ChronoRoles
import MPI
import Synchronization

/// A rank's connection to the ChronoLog-Swift service of its job: where the visor and the
/// recording groups are (from the job layout) and the MPI channel to reach them.
///
/// One session per process. Clients created on it share it; at most one request to the visor is
/// in flight per session at a time (the visor answers in order), so any number of threads may
/// use clients of the same session.
public final class ChronoSession: @unchecked Sendable {
    /// The job layout every rank agreed on.
    public let layout: JobLayout
    /// The effective configuration.
    public let config: ChronoConfig
    /// The communicator of the job's client ranks (for workloads that coordinate), if any.
    public let peers: Communicator?
    let channel: Mutex<ControlChannel>
    private let finished = Atomic<Bool>(false)

    /// Creates a session over an existing control channel. Not collective.
    public init(layout: JobLayout, channel: sending ControlChannel, config: ChronoConfig, peers: Communicator? = nil) {
        self.layout = layout
        self.channel = Mutex(channel)
        self.config = config
        self.peers = peers
    }

    /// The visor's world rank.
    public var visorRank: Int { layout.plan.ranks(of: .visor).first ?? 0 }

    /// Sends a request to the visor and waits for its answer, backing off while waiting.
    /// - Throws: `.noConnection` if the visor does not answer within `timeoutMs`, or the channel fails;
    ///   `.malformedMessage` if the answer does not decode.
    func call(_ request: ControlMessage, timeoutMs: Int) throws(ChronoLogError) -> ControlMessage {
        let visor = visorRank
        let result: Result<ControlMessage, ChronoLogError> = channel.withLock { channel in
            do {
                try channel.post(request.encode(), to: visor, tag: .service)
                let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
                var backoff = IdleBackoff.replyWait
                while true {
                    if let (bytes, _) = try channel.poll(tag: .reply, from: visor) {
                        try channel.progress()
                        return .success(try ControlMessage.decode(bytes))
                    }
                    let progressed = try channel.progress()
                    if ContinuousClock.now >= deadline {
                        return .failure(.noConnection("the visor (rank \(visor)) did not answer within \(timeoutMs) ms"))
                    }
                    backoff.step(didWork: progressed)
                }
            } catch let error as ChronoLogError {
                return .failure(error)
            } catch {
                return .failure(.noConnection("control channel failed: \(error)"))
            }
        }
        return try result.get()
    }

    /// Sends a one-way notice to the visor.
    func notifyVisor(_ message: ControlMessage) throws(ChronoLogError) {
        let visor = visorRank
        let result: Result<Void, ChronoLogError> = channel.withLock { channel in
            do {
                try channel.post(message.encode(), to: visor, tag: .service)
                try channel.drainSends()
                return .success(())
            } catch {
                return .failure(.noConnection("control channel failed: \(error)"))
            }
        }
        try result.get()
    }

    /// Tells the visor this rank has finished with the service, so the job can end once every
    /// client rank has. Idempotent. Clients should be disconnected first.
    public func finish() throws(ChronoLogError) {
        guard !finished.exchange(true, ordering: .relaxed) else { return }
        try notifyVisor(.shutdownComplete(ShutdownComplete(rank: Int32(layout.worldRank), rc: .success)))
    }
}
