import Foundation

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
        /// Length of a chunk's time range, in ms. Default 50: a keeper ships a range once its
        /// writers have passed it, so under a steady stream events wait about half a range there,
        /// and the memory that waiting holds bounds ingest (issue 17: 100 ms gave 1.2–1.3 M 256-B
        /// events/s here, 50 ms 1.7–1.8 M).
        public var chunkDurationMs: Int = 50
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
        /// Whether a replay reader on its player's node copies the payloads the player lends from
        /// the archive file by mapping that file read-only, rather than reading them by RMA (it
        /// reads by RMA anyway where it cannot map the file as named). Default true.
        public var mapArchiveFiles: Bool = true
    }

    /// Keeper settings.
    public struct Keeper: Codable, Sendable, Hashable {
        /// Bytes a keeper may buffer (pipelines, sealed chunks, chunks shipped and not yet durable) before it slows
        /// its writers. Everything buffered is waiting to become durable, so under saturation it
        /// bounds the time from log to durable as well. Default 134217728 (128 MiB: under a
        /// saturating stream a keeper's bound divided by the time from receipt to durable, about
        /// 0.1 s, is its throughput; 96 MiB held 2 writers of 256-B events to 2.8–3.1 M events/s,
        /// 128 MiB let them reach 3.1–3.45 M on the development machine, and larger bounds gained
        /// no more but took longer to warm up and made durability wait longer); 1 MiB … the
        /// machine's physical memory. It also sets how many pieces a keeper offers its grapher
        /// before they are read (``ChronoConfig/keeperTransferSlots``).
        public var memoryLimitBytes: Int = 128 << 20
        /// The largest piece of a sealed chunk a grapher reads by RMA at once (the size of its read
        /// slots); a larger chunk travels in several pieces, each read where it lies in the keeper's
        /// memory. Default 4194304 (4 MiB); 64 KiB … 256 MiB.
        public var transferSlotBytes: Int = 4 << 20
    }

    /// Grapher settings.
    public struct Grapher: Codable, Sendable, Hashable {
        /// Bytes a grapher may buffer before it slows its keepers. Default 1073741824 (1 GiB); 1 MiB … the
        /// machine's physical memory.
        public var memoryLimitBytes: Int = 1 << 30
        /// Interval between the starts of the graphers' collective archive rounds (write + flush),
        /// in ms; a round that wrote 4 MiB or more is followed at once by the next, and while such
        /// a round is less than an interval ago one with less is followed 5 ms later (a pause in a
        /// stream). Default 100; 1 … 600000 (ten minutes).
        public var archiveIntervalMs: Int = 100
    }

    /// Player settings.
    public struct Player: Codable, Sendable, Hashable {
        /// Replay queries served at once; more wait their turn (within their timeout). Default 64; 1 … 65536.
        public var maxConcurrentQueries: Int = 64
        /// Largest piece of a replay answer, in encoded bytes (a larger answer travels in several
        /// pieces; a single event larger than this travels alone). Default 4194304 (4 MiB); 4096 … 64 MiB.
        public var pieceBytes: Int = 4 << 20
        /// Pieces of one query sent before the client acknowledged them. Default 4; 1 … 1024.
        public var piecesInFlight: Int = 4
    }

    /// Bulk-transfer fabric.
    public struct Fabric: Codable, Sendable, Hashable {
        /// libfabric provider: `shm` (default, within a node), `tcp;ofi_rxm`, `tcp` or `sockets`.
        public var provider: String = "shm"
        /// Whether the provider reaches ranks on other nodes: `shm` does not. The recorders' plane
        /// never crosses a node (a recording group lives on one); a replay reader on another node
        /// than the story's player then gets its pieces inline over MPI instead of by RMA.
        public var reachesOtherNodes: Bool { provider != "shm" }
    }

    /// Archive settings.
    public struct Archive: Codable, Sendable, Hashable {
        /// Directory of the HDF5 archive. Default `chronolog-archive`.
        public var directory: String = "chronolog-archive"
        /// Largest index row of the archive, in bytes of records (32 each) plus payload: a sealed
        /// range larger than this is archived as several rows, cut where event time advances. A row
        /// is what a replay reads and checks in one go (keep it at most `player.pieceBytes` so a
        /// replay piece is read straight from the file). Default 4 MiB; 4096 … 256 MiB.
        public var maxRowBytes: Int = 4 << 20
        /// Bytes at the end of the archive file that each grapher leaves in its node's page cache
        /// after a round is flushed: the pages of older parts, written and synced, are dropped
        /// (`posix_fadvise` `DONTNEED`), so the next writes take those pages again instead of new
        /// ones and the archive does not fill the node's memory. Replays of older data then read
        /// the file. Default 256 MiB; 0 … 1 TiB (a value above the file's size keeps everything).
        public var pageCacheBytes: Int = 256 << 20
    }

    /// Logging.
    public struct Log: Codable, Sendable, Hashable {
        /// swift-log level: trace, debug, info, notice, warning, error or critical. Default `info`.
        public var level: String = "info"
    }

    /// Timeouts, in ms.
    public struct Timeouts: Codable, Sendable, Hashable {
        /// Connecting to the visor. Default 10000; 1 … 3600000 (one hour).
        public var connectMs: Int = 10_000
        /// Acquiring a story. Default 10000; 1 … 3600000.
        public var acquireMs: Int = 10_000
        /// A replay query. Default 30000; 1 … 86400000 (one day).
        public var replayQueryMs: Int = 30_000
        /// How long the visor keeps serving clients after SIGTERM/SIGINT before it drains the recording
        /// processes without them. Recording processes never drop what they hold when it passes:
        /// keepers ship and graphers archive everything accepted. Default 30000; 0 … 3600000 (one hour).
        public var shutdownDrainMs: Int = 30_000
        /// The longest an archive round may take. A round that has not finished by then is stuck in
        /// a collective HDF5 or MPI-IO call (a hung file system or I/O server on one node, a grapher
        /// failing inside the call): it is given up as a failed round (archiving stops, the job
        /// drains, counts what was not made durable as lost and exits 1) instead of hanging; rounds
        /// acknowledged before stay durable. A warning comes at half of it. Default 300000 (five
        /// minutes); 1000 … 86400000 (one day).
        public var archiveRoundMs: Int = 300_000
    }

    /// Heartbeats of recording processes.
    public struct Heartbeat: Codable, Sendable, Hashable {
        /// Interval between heartbeats, in ms. Default 1000; 1 … 3600000.
        public var intervalMs: Int = 1000
    }

    /// The visor's progress lines during a job.
    public struct Progress: Codable, Sendable, Hashable {
        /// Whether the visor prints progress lines (`chronolog-job --quiet` turns them off). Default true.
        public var enabled: Bool = true
        /// Interval between progress lines, in ms (a job shorter than this prints none).
        /// Default 5000; 100 … 3600000 (one hour).
        public var intervalMs: Int = 5000
    }

    /// Attaching separately started programs to a serving job (docs/ATTACH.md).
    public struct Attach: Codable, Sendable, Hashable {
        /// The run directory of the service to attach to (written by `jobs/chronolog-service.sh`);
        /// empty: `/tmp/chronolog-<uid>/service-<port>` with the portal conf's port (5555 by default).
        public var runDirectory: String = ""
        /// The token file an attached client presents; empty: the run directory's `token`, else its
        /// `token.read` (the read-only one).
        public var tokenFile: String = ""
        /// A client silent this long (no message, no keep-alive) is dropped by the gateway and its
        /// stories released, in ms. Default 5000; 100 … 3600000.
        public var leaseMs: Int = 5000
        /// How long an attaching client waits for the service's name lookup, connect and hello, in
        /// ms (then −8). Default 5000; 100 … 3600000.
        public var connectTimeoutMs: Int = 5000
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
    /// Progress lines.
    public var progress = Progress()
    /// Attached clients.
    public var attach = Attach()

    /// The defaults.
    public init() {}

    /// The accepted values of `fabric.provider`.
    public static let fabricProviders: [String] = ["shm", "tcp;ofi_rxm", "tcp", "sockets"]
    /// The accepted values of `log.level`.
    public static let logLevels: [String] = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// `story.chunkDurationMs` in nanoseconds.
    public var chunkDurationNanoseconds: UInt64 { UInt64(max(story.chunkDurationMs, 0)) &* 1_000_000 }

    /// One numeric setting with the range ``validate(physicalMemoryBytes:)`` enforces.
    public struct NumericBound: Sendable, Hashable, CustomStringConvertible {
        /// The dotted key.
        public let key: String
        /// The configured value.
        public let value: Int
        /// The accepted values.
        public let range: ClosedRange<Int>
        /// Why the upper bound is what it is, for the error message (empty when obvious).
        public let reason: String
        /// `key: lower … upper`.
        public var description: String { "\(key): \(range.lowerBound) … \(range.upperBound)" }
    }

    /// The physical memory of this machine in bytes (the bound of the memory settings).
    public static var physicalMemoryBytes: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

    /// Every integer setting with its accepted range (docs/MODEL.md lists the same ranges). Memory
    /// bounds may not exceed `physicalMemoryBytes`.
    public func numericBounds(physicalMemoryBytes: Int = ChronoConfig.physicalMemoryBytes) -> [NumericBound] {
        let day = 86_400_000, hour = 3_600_000, tenMinutes = 600_000, memory = max(physicalMemoryBytes, 1 << 20)
        let ram = "the physical memory of this machine (\(memory) bytes)"
        func b(_ key: String, _ value: Int, _ range: ClosedRange<Int>, _ reason: String = "") -> NumericBound {
            NumericBound(key: key, value: value, range: range, reason: reason)
        }
        return [
            b("deployment.keepersPerNode", deployment.keepersPerNode, 1...64),
            b("deployment.graphersPerNode", deployment.graphersPerNode, 1...1, "a recording group has exactly one grapher"),
            b("deployment.playersPerNode", deployment.playersPerNode, 0...64),
            b("deployment.virtualNodes", deployment.virtualNodes, 0...1024),
            b("story.chunkDurationMs", story.chunkDurationMs, 1...day, "one day"),
            b("story.maxEventBytes", story.maxEventBytes, 0...Int(WireLimits.default.maxEventBytes), "the wire limit of one event"),
            b("client.batchEvents", client.batchEvents, 1...(1 << 20)),
            b("client.batchBytes", client.batchBytes, 1...(256 << 20)),
            b("client.lingerMicroseconds", client.lingerMicroseconds, 0...60_000_000, "one minute"),
            b("client.maxPendingBatches", client.maxPendingBatches, 1...1024),
            b("keeper.memoryLimitBytes", keeper.memoryLimitBytes, (1 << 20)...memory, ram),
            b("keeper.transferSlotBytes", keeper.transferSlotBytes, (64 << 10)...(256 << 20)),
            b("grapher.memoryLimitBytes", grapher.memoryLimitBytes, (1 << 20)...memory, ram),
            b("grapher.archiveIntervalMs", grapher.archiveIntervalMs, 1...tenMinutes, "ten minutes"),
            b("player.maxConcurrentQueries", player.maxConcurrentQueries, 1...65_536),
            b("player.pieceBytes", player.pieceBytes, 4096...(64 << 20)),
            b("player.piecesInFlight", player.piecesInFlight, 1...1024),
            b("archive.maxRowBytes", archive.maxRowBytes, 4096...(256 << 20)),
            b("archive.pageCacheBytes", archive.pageCacheBytes, 0...(1 << 40), "1 TiB"),
            b("timeouts.connectMs", timeouts.connectMs, 1...hour, "one hour"),
            b("timeouts.acquireMs", timeouts.acquireMs, 1...hour, "one hour"),
            b("timeouts.replayQueryMs", timeouts.replayQueryMs, 1...day, "one day"),
            b("timeouts.shutdownDrainMs", timeouts.shutdownDrainMs, 0...hour, "one hour"),
            b("timeouts.archiveRoundMs", timeouts.archiveRoundMs, 1000...day, "one day"),
            b("heartbeat.intervalMs", heartbeat.intervalMs, 1...hour, "one hour"),
            b("progress.intervalMs", progress.intervalMs, 100...hour, "one hour"),
            b("attach.leaseMs", attach.leaseMs, 100...hour, "one hour"),
            b("attach.connectTimeoutMs", attach.connectTimeoutMs, 100...hour, "one hour"),
        ]
    }

    /// Checks every value's range; called by the loaders.
    /// - Parameter physicalMemoryBytes: the bound of `keeper.memoryLimitBytes` and
    ///   `grapher.memoryLimitBytes` (this machine's memory unless a test says otherwise).
    /// - Throws: ``ChronoLogError/invalidConfiguration(_:)`` naming the first bad key and its range.
    public func validate(physicalMemoryBytes: Int = ChronoConfig.physicalMemoryBytes) throws(ChronoLogError) {
        for bound in numericBounds(physicalMemoryBytes: physicalMemoryBytes) where !bound.range.contains(bound.value) {
            let side = bound.value < bound.range.lowerBound ? "≥ \(bound.range.lowerBound)" : "≤ \(bound.range.upperBound)"
            let why = bound.reason.isEmpty || bound.value < bound.range.lowerBound ? "" : " (\(bound.reason))"
            throw .invalidConfiguration(ConfigError(key: bound.key, problem: .invalidValue(
                "must be \(side)\(why), got \(bound.value); accepted: \(bound.range.lowerBound) … \(bound.range.upperBound)")))
        }
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
    }
}
