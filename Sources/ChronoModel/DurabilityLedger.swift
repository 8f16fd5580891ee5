/// A keeper's account of which events of each writer are durable, and the durable flushes
/// (``DurableRequest``) waiting for theirs.
///
/// Per (story, client) it counts the events the keeper accepted, and how many of them the
/// grapher has since acknowledged durable or failed. Each event travels in exactly one shipped
/// piece and each piece is acknowledged exactly once. A request waits until the events the client
/// had sent before it — those with an index below the next one expected then — are all settled:
/// counting every settled event would not do, as a later event can become durable before an
/// earlier one (a late event travels in a revision of its range, archived after later ranges).
/// The cost on the data path is one pass over a piece's records when it is staged
/// (``eventsByClient(_:)``), none per batch beyond an addition; a piece settled while flushes
/// wait on its story is passed over once more.
public struct DurabilityLedger: Sendable {
    struct Key: Hashable {
        let story: StoryID
        let client: UInt64
    }

    struct Counts {
        var accepted: UInt64 = 0
        var durable: UInt64 = 0
        var failed: UInt64 = 0
        /// Just past the highest event index accepted (a client's indices rise batch by batch).
        var nextIndex: UInt64 = 0
        var settled: UInt64 { durable &+ failed }
    }

    /// A durable flush waiting: `target` events with an index below `bound` were accepted before
    /// it, `settledBelow` of them are settled.
    struct Wait {
        let rank: Int
        let request: DurableRequest
        let target: UInt64
        let bound: UInt64
        var settledBelow: UInt64
    }

    /// A reply ready to go to the client at `rank`.
    public struct Answer: Sendable {
        /// World rank of the asking client.
        public let rank: Int
        /// The reply.
        public let reply: DurableReply
    }

    private var counts: [Key: Counts] = [:]
    private var waits: [Wait] = []

    /// An empty ledger.
    public init() {}

    /// Durable flushes not answered yet.
    public var pendingRequests: Int { waits.count }

    /// Notes `events` events of `client` accepted into `story`'s pipeline, from a batch whose
    /// indices end just before `nextIndex`.
    public mutating func received(_ events: UInt64, story: StoryID, client: UInt64, nextIndex: UInt64) {
        guard events > 0 else { return }
        let key = Key(story: story, client: client)
        counts[key, default: Counts()].accepted &+= events
        counts[key, default: Counts()].nextIndex = max(counts[key]?.nextIndex ?? 0, nextIndex)
    }

    /// A durable flush: answered now when the client's accepted events are all settled,
    /// otherwise kept until they are.
    /// - Returns: the reply to send now, or nil when it waits.
    public mutating func request(_ request: DurableRequest, from rank: Int) -> DurableReply? {
        let c = counts[Key(story: request.storyId, client: request.clientId.rawValue)] ?? Counts()
        if c.settled >= c.accepted { return Self.reply(request, c) }
        // Everything settled so far was accepted before, so lies below the bound.
        waits.append(Wait(rank: rank, request: request, target: c.accepted, bound: c.nextIndex, settledBelow: c.settled))
        return nil
    }

    /// A shipped piece was acknowledged: its events (`records`, counted per client by
    /// ``eventsByClient(_:)`` in `byClient`) are durable, or failed.
    /// - Returns: the flushes this settles.
    public mutating func settled(_ byClient: [(client: UInt64, events: UInt64)], records: ArraySlice<EventRecord>,
                                 story: StoryID, durable: Bool) -> [Answer] {
        for (client, n) in byClient {
            let key = Key(story: story, client: client)
            if durable { counts[key, default: Counts()].durable &+= n } else { counts[key, default: Counts()].failed &+= n }
        }
        guard waits.contains(where: { $0.request.storyId == story }) else { return [] }
        var answers: [Answer] = []
        for i in waits.indices where waits[i].request.storyId == story {
            let client = waits[i].request.clientId.rawValue, bound = waits[i].bound
            guard byClient.contains(where: { $0.client == client }) else { continue }
            var below: UInt64 = 0
            for r in records where r.clientId == client && UInt64(r.index) < bound { below &+= 1 }
            waits[i].settledBelow &+= below
        }
        waits.removeAll { w in
            guard w.request.storyId == story, w.settledBelow >= w.target else { return false }
            let c = counts[Key(story: story, client: w.request.clientId.rawValue)] ?? Counts()
            answers.append(Answer(rank: w.rank, reply: Self.reply(w.request, c)))
            return true
        }
        return answers
    }

    /// Answers every waiting flush as things stand (the keeper has nothing left in flight): a
    /// flush whose events are not all settled gets `unknown`.
    public mutating func closeAll() -> [Answer] {
        let answers = waits.map { w in
            let c = counts[Key(story: w.request.storyId, client: w.request.clientId.rawValue)] ?? Counts()
            var reply = Self.reply(w.request, c)
            if w.settledBelow < w.target { reply.rc = .unknown }
            return Answer(rank: w.rank, reply: reply)
        }
        waits.removeAll()
        return answers
    }

    private static func reply(_ request: DurableRequest, _ c: Counts) -> DurableReply {
        DurableReply(storyId: request.storyId, clientId: request.clientId, sequence: request.sequence,
                     durableEvents: c.durable, failedEvents: c.failed, rc: c.failed > 0 ? .unknown : .success)
    }

    /// The events of `records` per client, in order of first appearance. A merged chunk holds
    /// few writers, interleaved: the last client found is tried first, then the short list; past
    /// 16 writers a dictionary finds them.
    public static func eventsByClient(_ records: ArraySlice<EventRecord>) -> [(client: UInt64, events: UInt64)] {
        var out: [(client: UInt64, events: UInt64)] = []
        var positions: [UInt64: Int] = [:]
        var last = -1
        for r in records {
            if last >= 0 && out[last].client == r.clientId {
                out[last].events &+= 1
                continue
            }
            let found = out.count > 16 ? positions[r.clientId] : out.firstIndex(where: { $0.client == r.clientId })
            if let i = found {
                out[i].events &+= 1
                last = i
            } else {
                out.append((r.clientId, 1))
                last = out.count - 1
                if out.count > 16 {
                    if positions.isEmpty { for (i, e) in out.enumerated() { positions[e.client] = i } }
                    positions[r.clientId] = last
                }
            }
        }
        return out
    }
}
