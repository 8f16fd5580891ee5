import ChronoModel

/// The visor's registry of recording groups: which keepers, grapher and player each group has,
/// when each last sent a heartbeat, and its statistics. Pure state, no MPI.
public struct RecordingGroupRegistry: Sendable {
    /// One recording group.
    public struct Group: Sendable, Equatable {
        /// Group id (one per node).
        public let id: UInt32
        /// World ranks of registered keepers, sorted.
        public var keepers: [Int32] = []
        /// World rank of the registered grapher.
        public var grapher: Int32?
        /// World rank of the registered player.
        public var player: Int32?
        /// Last heartbeat time (monotonic ns) per rank.
        public var lastSeen: [Int32: UInt64] = [:]
        /// Latest statistics per rank.
        public var counters: [Int32: Counters] = [:]

        /// A group can record when it has a grapher and at least one keeper.
        public var isActive: Bool { grapher != nil && !keepers.isEmpty }

        /// Every registered process of the group.
        public var members: [Int32] { keepers + [grapher, player].compactMap { $0 } }
    }

    /// Groups by id.
    public private(set) var groups: [UInt32: Group] = [:]

    public init() {}

    /// Records a registration (idempotent).
    public mutating func register(_ r: Registration, now: UInt64) {
        var g = groups[r.groupId] ?? Group(id: r.groupId)
        switch r.role {
        case .keeper:
            if !g.keepers.contains(r.rank) { g.keepers.append(r.rank); g.keepers.sort() }
        case .grapher: g.grapher = r.rank
        case .player: g.player = r.rank
        case .visor, .client: return  // not a recording role (registrations never decode with one)
        }
        g.lastSeen[r.rank] = now
        groups[r.groupId] = g
    }

    /// Records a heartbeat and its statistics.
    public mutating func heartbeat(_ h: Heartbeat, now: UInt64) {
        guard var g = groups[h.groupId] else { return }
        g.lastSeen[h.rank] = now
        g.counters[h.rank] = h.counters
        groups[h.groupId] = g
    }

    /// Removes a process (it stopped, or stopped answering); its group may become inactive.
    public mutating func unregister(rank: Int32) {
        for (id, var g) in groups {
            g.keepers.removeAll { $0 == rank }
            if g.grapher == rank { g.grapher = nil }
            if g.player == rank { g.player = nil }
            g.lastSeen[rank] = nil
            groups[id] = g
        }
    }

    /// Active groups, by id.
    public var activeGroups: [Group] {
        groups.values.filter(\.isActive).sorted { $0.id < $1.id }
    }

    /// Picks the group to record a story: the group that recorded it last while that group is
    /// active, else one uniformly at random among the active ones (ChronoLog's policy). A story
    /// recorded again stays in its group: the old group's keepers and grapher may still hold events
    /// of it that are not archived, which only that group's keepers answer for (a replay goes to
    /// one group), and its keepers know the completeness they already answered for it.
    /// - Parameter last: the group that recorded the story last, if any.
    /// - Throws: `.noKeepers` (−7) when none is active.
    public func chooseGroup<R: RandomNumberGenerator>(preferring last: UInt32? = nil,
                                                      using rng: inout R) throws(ChronoLogError) -> Group {
        if let last, let g = groups[last], g.isActive { return g }
        let active = activeGroups
        guard let g = active.randomElement(using: &rng) else { throw .noKeepers }
        return g
    }

    /// Ranks that have not been seen since `deadline` (monotonic ns).
    public func silentRanks(since deadline: UInt64) -> [Int32] {
        groups.values.flatMap { g in g.lastSeen.filter { $0.value < deadline }.map(\.key) }.sorted()
    }
}
