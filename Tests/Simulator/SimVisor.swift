import ChronoModel
import ChronoRuntime

/// The visor's side of the recording protocol, scripted: it starts each story on the group
/// (start notices naming the first holder, holder notices for the others), answers a client once
/// every member acknowledged, stops a story when its last holder released it, and shuts the
/// group down in the real visor's order (keepers, then the grapher, then the player) once every
/// client finished; it forwards readers' queries to the player.
/// (The real ``VisorService`` needs a catalog file and the client's metadata calls; it is not
/// simulated yet.)
final class SimVisor {
    private let channel: SimControlTransport
    private let world: SimWorld
    private var ticket: UInt64 = 0
    /// Acknowledgements awaited per ticket, and the client to tell once they are all in.
    private var awaiting: [UInt64: (members: Set<Int>, client: SimClient?)] = [:]
    private var holders: [StoryID: Set<Int>] = [:]
    private var started: Set<StoryID> = []
    private var finishedClients = 0
    enum Phase { case running, drainingKeepers, drainingGrapher, drainingPlayer, done }
    private(set) var phase = Phase.running
    private var awaitingShutdown: Set<Int> = []
    /// Events each recording process reported undrained at its end.
    private(set) var undrained: UInt64 = 0

    init(channel: SimControlTransport, world: SimWorld) {
        self.channel = channel
        self.world = world
    }

    private func notify(_ m: ControlMessage, to ranks: [Int]) throws {
        for r in ranks { try channel.post(m.encode(), to: r, tag: .service) }
    }

    private func nextTicket() -> UInt64 {
        ticket += 1
        return ticket
    }

    /// A client acquires its story: the group starts recording it, or learns the new holder.
    func acquire(_ c: SimClient) throws {
        let t = nextTicket()
        let members = world.keeperRanks + [world.grapherRank, world.playerRank]
        let writerKeeper = world.mutation == .keeperWaitsForFirstBatch ? -1 : Int32(c.keeperRank)
        if started.insert(c.storyId).inserted {
            let n = RecordingNotice(storyId: c.storyId, chronicle: SimWorld.chronicle, story: c.storyName, groupId: 0, ticket: t,
                                    holder: c.clientId, holderRank: Int32(c.rank), holderKeeper: writerKeeper)
            try notify(.startRecording(n), to: members)
        } else {
            let n = HolderNotice(ticket: t, storyId: c.storyId, clientId: c.clientId, clientRank: Int32(c.rank), holds: true,
                                 writerKeeper: writerKeeper)
            try notify(.holder(n), to: members)
        }
        holders[c.storyId, default: []].insert(c.rank)
        awaiting[t] = (Set(members), c)
    }

    /// Forwards a reader's query to the group's player, naming the keepers to ask (as the visor does).
    func replay(_ request: ReplayRequest) {
        var forwarded = request
        forwarded.keeperRanks = world.keeperRanks.map { Int32($0) }
        forwarded.storyKnown = true
        try? channel.post(ControlMessage.replayRequest(forwarded).encode(), to: world.playerRank, tag: .replay)
    }

    /// A client flushed and released its story (`last`: it is done, else it acquires it again).
    func released(_ c: SimClient, last: Bool) {
        holders[c.storyId]?.remove(c.rank)
        if last { finishedClients += 1 }
        let t = nextTicket()
        if holders[c.storyId]?.isEmpty ?? true {
            started.remove(c.storyId)
            let n = RecordingNotice(storyId: c.storyId, chronicle: SimWorld.chronicle, story: c.storyName, groupId: 0, ticket: t)
            try? notify(.stopRecording(n), to: world.keeperRanks + [world.grapherRank, world.playerRank])
        } else {
            let n = HolderNotice(ticket: t, storyId: c.storyId, clientId: c.clientId, clientRank: Int32(c.rank), holds: false)
            try? notify(.holder(n), to: world.keeperRanks)
        }
    }

    /// Takes what the recording processes sent (acknowledgements, registrations, heartbeats,
    /// shutdown reports) and moves the shutdown on. - Returns: whether anything happened.
    func step() throws -> Bool {
        var did = false
        while let (bytes, source) = try channel.poll(tag: .service) {
            did = true
            switch try ControlMessage.decode(bytes) {
            case .recordingAck(let ack):
                guard var a = awaiting[ack.ticket] else { continue }
                a.members.remove(source)
                if a.members.isEmpty {
                    awaiting[ack.ticket] = nil
                    try a.client?.started()
                } else {
                    awaiting[ack.ticket] = a
                }
            case .shutdownComplete(let c):
                undrained += c.undrainedEvents
                awaitingShutdown.remove(source)
            default:
                continue
            }
        }
        switch phase {
        case .running where finishedClients == world.clients.count && world.reader.finished && world.follower.finished:
            try beginDrain(world.keeperRanks, next: .drainingKeepers)
            did = true
        case .drainingKeepers where awaitingShutdown.isEmpty:
            try beginDrain([world.grapherRank], next: .drainingGrapher)
            did = true
        case .drainingGrapher where awaitingShutdown.isEmpty:
            try beginDrain([world.playerRank], next: .drainingPlayer)
            did = true
        case .drainingPlayer where awaitingShutdown.isEmpty:
            phase = .done
            did = true
        default:
            break
        }
        return did
    }

    private func beginDrain(_ ranks: [Int], next: Phase) throws {
        phase = next
        awaitingShutdown = Set(ranks)
        try notify(.shutdown(ShutdownRequest(drain: true, deadlineMilliseconds: 0, reason: "all clients finished")), to: ranks)
    }
}
