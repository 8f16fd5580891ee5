import ChronoModel
import DequeModule
import MPI

/// One attached client as its gateway sees it: the intercommunicator, what it may do, the client
/// ids the visor gave it, its sends in flight and its lease.
final class AttachedPeer {
    /// The gateway's number for it (in logs and routing tables).
    let number: Int
    let comm: Communicator
    /// Whether the hello was accepted.
    var greeted = false
    /// Whether it presented the read-only token.
    var readOnly = false
    /// Client ids the visor gave it (connect replies routed to it).
    var clientIds: Set<ClientID> = []
    /// The stories its clients hold ("chronicle/story"), with where they are recorded: when it is
    /// dropped, the gateway ends their contribution at these keepers.
    var held: [String: HeldStory] = [:]
    /// When it last sent anything.
    var lastHeard: ContinuousClock.Instant
    /// Events it said it had logged (its last keep-alive).
    var reportedLogged: UInt64 = 0
    /// Events of the batches relayed for it.
    var relayedEvents: UInt64 = 0
    /// Sends to it not yet complete, with when each was posted.
    var sends: [(request: Request, at: ContinuousClock.Instant)] = []
    /// Its messages being received (matched, their data still arriving), in the order it sent
    /// them: handled in that order as each completes.
    var receiving = Deque<(request: Request, tag: Int)>()
    /// Set once it is to be dropped after its last sends complete (a refused hello).
    var closing = false

    init(number: Int, comm: Communicator, now: ContinuousClock.Instant) {
        self.number = number
        self.comm = comm
        self.lastHeard = now
    }

    /// Posts `bytes` to the client on `tag` (never blocks).
    func post(_ bytes: [UInt8], tag: Int, now: ContinuousClock.Instant) throws {
        sends.append((try comm.isend(bytes, to: 0, tag: tag), now))
    }

    /// Completes finished sends. - Returns: when the oldest still in flight was posted.
    func progress() throws -> ContinuousClock.Instant? {
        guard !sends.isEmpty else { return nil }
        // One MPI_Testsome for all of them (one pass of MPI's progress, ControlChannel.progress).
        let done = try Request.testSome(sends.map(\.request))
        sends = zip(sends, done).filter { !$0.1 }.map(\.0)
        return sends.first?.at
    }

    /// Events it logged that never reached the service (its last report minus what was relayed).
    var unflushedEvents: UInt64 { reportedLogged > relayedEvents ? reportedLogged - relayedEvents : 0 }
}

/// A story an attached client holds, as its acquire answer said.
struct HeldStory {
    let client: ClientID
    let storyId: StoryID
    let keeperRanks: [Int]
}
