import ChronoModel

/// Where the archived events of some writers of a story end: each writer's highest archived index
/// and its time. With the archive catalog's record of what a writer logged (its event count, or
/// none when it never released the story) this says whether the writer's tail is missing, and from
/// which time on: a writer's events come in index order with non-decreasing times, so events it
/// logged after its last archived one have times at or after that one's.
public struct ArchivedWriterEnds: Sendable, Equatable {
    /// A writer's last archived event.
    public struct End: Sendable, Equatable {
        /// Its index (the highest archived).
        public var index: UInt64
        /// Its time.
        public var time: UInt64

        /// Creates the entry.
        public init(index: UInt64, time: UInt64) {
            self.index = index
            self.time = time
        }
    }

    /// The writers looked for.
    public let clients: Set<UInt64>
    /// The last archived event of each writer found (absent: none of its events is archived).
    public private(set) var ends: [UInt64: End]

    /// Events read per window of the backward scan.
    static let windowEvents = 65_536

    /// The ends of `clients` as given (no archive read).
    public init(clients: Set<UInt64>, ends: [UInt64: End] = [:]) {
        self.clients = clients
        self.ends = ends
    }

    /// Reads the story's archive backwards, window by window (about ``windowEvents`` events each),
    /// until the last event of every writer in `clients` was seen, or the story's start: cheap when
    /// every writer wrote up to the end, a whole read when one has no event archived. Damaged rows
    /// are left out (their events count as not archived).
    /// - Throws: read errors; a story not in the archive has no ends (no error).
    public static func scan(_ source: any ArchiveSource, chronicle: String, story: String,
                            clients: Set<UInt64>) throws(ArchiveError) -> ArchivedWriterEnds {
        var result = ArchivedWriterEnds(clients: clients)
        var pending = clients
        var end = UInt64.max
        do {
            while !pending.isEmpty {
                let range = TimeRange(start: 0, end: end)
                let start = try source.lastWindowStart(chronicle: chronicle, story: story, range: range, count: windowEvents)
                let events = try source.read(chronicle: chronicle, story: story,
                                             range: TimeRange(start: start, end: end)).events
                var found: Set<UInt64> = []
                for r in events.records where pending.contains(r.clientId) {
                    let index = UInt64(r.index)
                    if let e = result.ends[r.clientId], e.index >= index { continue }
                    result.ends[r.clientId] = End(index: index, time: r.time)
                    found.insert(r.clientId)
                }
                pending.subtract(found)
                if start == 0 { break }
                end = start
            }
        } catch {
            guard case .storyNotFound = error else { throw error }
        }
        return result
    }

    /// Why writers' tails are missing from an answer ending at `rangeEnd` (exclusive), one reason
    /// per writer, worded as `chronolog verify` words them: a writer whose recorded events
    /// `first..<count` are not all archived (tail missing), or that never released the story (tail
    /// unknown), when its missing events could fall before `rangeEnd` — that is, when none of its
    /// events at or after `rangeEnd` is archived. Writers not in ``clients`` are not judged.
    public func missingTails(of writers: [ReplayRequest.EarlierWriter], before rangeEnd: UInt64) -> [String] {
        var reasons: [String] = []
        for w in writers where clients.contains(w.client) {
            let last = ends[w.client]
            let archivedUpTo = max(w.first, last.map { $0.index + 1 } ?? 0)
            if let count = w.count, archivedUpTo >= count { continue }
            if let last, last.time >= rangeEnd { continue }  // what is missing lies after the range
            let since = last.map { "its last archived event: index \($0.index), time \($0.time)" } ?? "none of its events is archived"
            if let count = w.count {
                reasons.append("client \(w.client) tail missing: indexes \(archivedUpTo)..<\(count) of its \(count - w.first) events "
                    + "never archived (\(since))")
            } else {
                reasons.append("client \(w.client) never released the story: its tail is unknown (\(since))")
            }
        }
        return reasons
    }
}
