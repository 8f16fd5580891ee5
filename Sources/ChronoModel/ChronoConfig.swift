/// The whole configuration of a ChronoLog-Swift job: one Codable tree, **every default in this file**.
///
/// Load it with ``load(file:environment:overrides:)`` (JSON file, then `CHRONOLOG_*` environment
/// variables, then command-line `key=value` overrides); print it with ``effectiveDescription()``.
/// Keys are dotted paths such as `client.batchEvents`; docs/MODEL.md lists them all.
public struct ChronoConfig: Codable, Sendable, Hashable {
    /// How ranks are laid out.
    public struct Deployment: Codable, Sendable, Hashable {
        /// Keepers in each recording group (one group per node). Default 1.
        public var keepersPerNode: Int = 1
        /// Graphers per node. Default 1.
        public var graphersPerNode: Int = 1
        /// Players per node. Default 1.
        public var playersPerNode: Int = 1
        /// Split one machine into this many virtual nodes (for tests); 0 = off. Default 0.
        public var virtualNodes: Int = 0
    }

    /// Story pipeline settings.
    public struct Story: Codable, Sendable, Hashable {
        /// Length of a chunk's time range, in ms. Default 100.
        public var chunkDurationMs: Int = 100
        /// Largest event record accepted, in bytes. Default 65536 (64 KiB).
        public var maxEventBytes: Int = 65536
        /// What happens to an event whose range is already sealed. Default `revise`.
        public var latePolicy: LatePolicy = .revise
    }

    /// Client-side batching.
    public struct Client: Codable, Sendable, Hashable {
        /// A batch ships at this many events. Default 1024.
        public var batchEvents: Int = 1024
        /// A batch ships at this many payload bytes. Default 1048576 (1 MiB).
        public var batchBytes: Int = 1 << 20
        /// A non-empty batch ships at the latest this long after its oldest event, in µs. Default 1000.
        public var lingerMicroseconds: Int = 1000
        /// Batches in flight per story before `log_event` waits (back-pressure). Default 8.
        public var maxPendingBatches: Int = 8
        /// Test knob: skews this client's raw clock by this many milliseconds (a node whose
        /// clock is off); the offset measured at connect corrects it. Default 0.
        public var testClockSkewMs: Int = 0
        /// Test knob: shifts event times by this many milliseconds after the correction (a clock
        /// that drifted after connect), which makes events late. Default 0.
        public var testClockDriftMs: Int = 0
    }

    /// Keeper settings.
    public struct Keeper: Codable, Sendable, Hashable {
        /// Bytes a keeper may buffer (pipelines, sealed chunks, RMA slots in flight) before it slows
        /// its writers. Everything buffered is waiting to become durable, so under saturation it
        /// bounds the time from log to durable as well. Default 100663296 (96 MiB).
        public var memoryLimitBytes: Int = 96 << 20
        /// Size of one slot of the keeper's registered (RMA) memory pool; a sealed chunk larger
        /// than a slot travels in several pieces. Default 4194304 (4 MiB).
        public var transferSlotBytes: Int = 4 << 20
        /// Test knob: delay, in microseconds, before each batch acknowledgement (simulates a slow keeper). Default 0.
        public var ackDelayMicroseconds: Int = 0
    }

    /// Grapher settings.
    public struct Grapher: Codable, Sendable, Hashable {
        /// Bytes a grapher may buffer before it slows its keepers. Default 1073741824 (1 GiB).
        public var memoryLimitBytes: Int = 1 << 30
        /// Interval between the graphers' collective archive rounds (write + flush). Default 100.
        public var archiveIntervalMs: Int = 100
        /// Test knob: extra delay, in milliseconds, in every archive round (simulates a slow archive). Default 0.
        public var archiveDelayMs: Int = 0
    }

    /// Player settings.
    public struct Player: Codable, Sendable, Hashable {
        /// Replay queries served at once; more wait their turn (within their timeout). Default 64.
        public var maxConcurrentQueries: Int = 64
        /// Largest piece of a replay answer, in encoded bytes (a larger answer travels in several
        /// pieces; a single event larger than this travels alone). Default 4194304 (4 MiB).
        public var pieceBytes: Int = 4 << 20
        /// Pieces of one query sent before the client acknowledged them. Default 4.
        public var piecesInFlight: Int = 4
        /// Test knob: every query waits this many milliseconds before it is served (a slow
        /// player; makes queries time out). Default 0.
        public var testQueryDelayMs: Int = 0
    }

    /// Bulk-transfer fabric.
    public struct Fabric: Codable, Sendable, Hashable {
        /// libfabric provider: `shm` (default, within a node), `tcp;ofi_rxm`, `tcp` or `sockets`.
        public var provider: String = "shm"
        /// Test knob: clients read replay pieces whole into their registered buffer and decode them
        /// from there, as with a provider that requires registered local memory (`FI_MR_LOCAL`),
        /// instead of reading the payload straight into the caller's chunk. Default false.
        public var testRegisteredReads: Bool = false
    }

    /// Archive settings.
    public struct Archive: Codable, Sendable, Hashable {
        /// Directory of the HDF5 archive. Default `chronolog-archive`.
        public var directory: String = "chronolog-archive"
        /// Largest index row of the archive, in bytes of records (32 each) plus payload: a sealed
        /// range larger than this is archived as several rows, cut where event time advances. A row
        /// is what a replay reads and checks in one go (keep it at most `player.pieceBytes` so a
        /// replay piece is read straight from the file). Default 4 MiB.
        public var maxRowBytes: Int = 4 << 20
    }

    /// Logging.
    public struct Log: Codable, Sendable, Hashable {
        /// swift-log level: trace, debug, info, notice, warning, error or critical. Default `info`.
        public var level: String = "info"
    }

    /// Timeouts, in ms.
    public struct Timeouts: Codable, Sendable, Hashable {
        /// Connecting to the visor. Default 10000.
        public var connectMs: Int = 10_000
        /// Acquiring a story. Default 10000.
        public var acquireMs: Int = 10_000
        /// A replay query. Default 30000.
        public var replayQueryMs: Int = 30_000
        /// Draining at shutdown. Default 30000.
        public var shutdownDrainMs: Int = 30_000
    }

    /// Heartbeats of recording processes.
    public struct Heartbeat: Codable, Sendable, Hashable {
        /// Interval between heartbeats, in ms. Default 1000.
        public var intervalMs: Int = 1000
    }

    /// Rank layout.
    public var deployment = Deployment()
    /// Story pipeline.
    public var story = Story()
    /// Client batching.
    public var client = Client()
    /// Keepers.
    public var keeper = Keeper()
    /// Graphers.
    public var grapher = Grapher()
    /// Players.
    public var player = Player()
    /// Fabric.
    public var fabric = Fabric()
    /// Archive.
    public var archive = Archive()
    /// Logging.
    public var log = Log()
    /// Timeouts.
    public var timeouts = Timeouts()
    /// Heartbeats.
    public var heartbeat = Heartbeat()

    /// The defaults.
    public init() {}

    /// The accepted values of `fabric.provider`.
    public static let fabricProviders: [String] = ["shm", "tcp;ofi_rxm", "tcp", "sockets"]
    /// The accepted values of `log.level`.
    public static let logLevels: [String] = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// `story.chunkDurationMs` in nanoseconds.
    public var chunkDurationNanoseconds: UInt64 { UInt64(max(story.chunkDurationMs, 0)) &* 1_000_000 }

    /// Checks every value's range; called by the loaders.
    /// - Throws: ``ChronoLogError/invalidConfiguration(_:)`` naming the first bad key.
    public func validate() throws(ChronoLogError) {
        func atLeast(_ value: Int, _ minimum: Int, _ key: String) throws(ChronoLogError) {
            if value < minimum { throw .invalidConfiguration(ConfigError(key: key, problem: .invalidValue("must be ≥ \(minimum), got \(value)"))) }
        }
        try atLeast(deployment.keepersPerNode, 1, "deployment.keepersPerNode")
        try atLeast(deployment.graphersPerNode, 1, "deployment.graphersPerNode")
        try atLeast(deployment.playersPerNode, 0, "deployment.playersPerNode")
        try atLeast(deployment.virtualNodes, 0, "deployment.virtualNodes")
        try atLeast(story.chunkDurationMs, 1, "story.chunkDurationMs")
        if story.chunkDurationMs > 86_400_000 {
            throw .invalidConfiguration(ConfigError(key: "story.chunkDurationMs", problem: .invalidValue("must be ≤ 86400000 (one day)")))
        }
        try atLeast(story.maxEventBytes, 0, "story.maxEventBytes")
        if story.maxEventBytes > Int(WireLimits.default.maxEventBytes) {
            throw .invalidConfiguration(ConfigError(key: "story.maxEventBytes",
                                                    problem: .invalidValue("must be ≤ \(WireLimits.default.maxEventBytes)")))
        }
        try atLeast(client.batchEvents, 1, "client.batchEvents")
        try atLeast(client.batchBytes, 1, "client.batchBytes")
        try atLeast(client.lingerMicroseconds, 0, "client.lingerMicroseconds")
        try atLeast(client.maxPendingBatches, 1, "client.maxPendingBatches")
        try atLeast(keeper.memoryLimitBytes, 1 << 20, "keeper.memoryLimitBytes")
        try atLeast(grapher.memoryLimitBytes, 1 << 20, "grapher.memoryLimitBytes")
        try atLeast(keeper.transferSlotBytes, 64 << 10, "keeper.transferSlotBytes")
        try atLeast(keeper.ackDelayMicroseconds, 0, "keeper.ackDelayMicroseconds")
        try atLeast(grapher.archiveIntervalMs, 1, "grapher.archiveIntervalMs")
        try atLeast(grapher.archiveDelayMs, 0, "grapher.archiveDelayMs")
        try atLeast(player.maxConcurrentQueries, 1, "player.maxConcurrentQueries")
        try atLeast(player.pieceBytes, 4096, "player.pieceBytes")
        try atLeast(archive.maxRowBytes, 4096, "archive.maxRowBytes")
        try atLeast(player.piecesInFlight, 1, "player.piecesInFlight")
        try atLeast(player.testQueryDelayMs, 0, "player.testQueryDelayMs")
        if !Self.fabricProviders.contains(fabric.provider) {
            throw .invalidConfiguration(ConfigError(key: "fabric.provider", problem: .invalidValue(
                "\(fabric.provider.debugDescription) is not one of \(Self.fabricProviders.joined(separator: ", "))")))
        }
        if archive.directory.isEmpty || archive.directory.utf8.contains(0) {
            throw .invalidConfiguration(ConfigError(key: "archive.directory", problem: .invalidValue("must be a non-empty path without NUL")))
        }
        if !Self.logLevels.contains(log.level) {
            throw .invalidConfiguration(ConfigError(key: "log.level", problem: .invalidValue(
                "\(log.level.debugDescription) is not one of \(Self.logLevels.joined(separator: ", "))")))
        }
        try atLeast(timeouts.connectMs, 1, "timeouts.connectMs")
        try atLeast(timeouts.acquireMs, 1, "timeouts.acquireMs")
        try atLeast(timeouts.replayQueryMs, 1, "timeouts.replayQueryMs")
        try atLeast(timeouts.shutdownDrainMs, 0, "timeouts.shutdownDrainMs")
        try atLeast(heartbeat.intervalMs, 1, "heartbeat.intervalMs")
    }
}
