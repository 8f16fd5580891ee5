import ChronoModel

/// The client-side ingest parameters, derived from a ``ChronoConfig``.
@_spi(IngestTesting)
public struct IngestSettings: Sendable, Hashable {
    /// A batch ships at this many events (`client.batchEvents`).
    public var batchEvents: Int
    /// … or this many payload bytes (`client.batchBytes`).
    public var batchBytes: Int
    /// Largest accepted record (`story.maxEventBytes`); larger events are rejected.
    public var maxEventBytes: Int
    /// A non-empty batch ships at the latest this long after its oldest event (`client.lingerMicroseconds`).
    public var lingerNanoseconds: UInt64
    /// Unacknowledged batches per story before a writer waits (`client.maxPendingBatches`).
    public var maxPendingBatches: Int
    /// An idle held story sends its watermark (in a ``WatermarkSet``) this often: max(linger,
    /// `story.chunkDurationMs` / 4), spaced out further when the session holds many stories
    /// (`StoryIngest.idleWatermarkInterval(storiesHeld:)`).
    public var watermarkIntervalNanoseconds: UInt64
    /// A keeper that acknowledges nothing for this long while batches are outstanding is considered
    /// gone: the waiting call fails with `.noConnection`. max(`timeouts.shutdownDrainMs`, `timeouts.connectMs`).
    public var stallLimit: Duration
    /// How long a durable flush waits for the keeper's answer before `.noConnection`: the stall
    /// limit plus what durability itself may take: every other writer's watermark passing the
    /// request's, so the keeper cuts the range (``watermarkIntervalNanoseconds``; not the range's
    /// end, `story.chunkDurationMs`), and the grapher's next round (`grapher.archiveIntervalMs`).
    public var durableLimit: Duration

    /// The settings of `config`.
    public init(config: ChronoConfig) {
        batchEvents = max(1, config.client.batchEvents)
        batchBytes = max(1, config.client.batchBytes)
        maxEventBytes = max(0, config.story.maxEventBytes)
        lingerNanoseconds = UInt64(max(0, config.client.lingerMicroseconds)) &* 1000
        maxPendingBatches = max(1, config.client.maxPendingBatches)
        watermarkIntervalNanoseconds = max(lingerNanoseconds, config.watermarkIntervalNanoseconds)
        stallLimit = .milliseconds(max(config.timeouts.shutdownDrainMs, config.timeouts.connectMs, 1))
        // Other writers' watermarks (every max(100 ms, client.lingerMicroseconds)) let the range close.
        durableLimit = stallLimit + .milliseconds(max(0, config.grapher.archiveIntervalMs))
            + .nanoseconds(Int64(clamping: watermarkIntervalNanoseconds))
    }

    /// The settings of `config` for a client of a service whose graphers archive every
    /// `serviceArchiveIntervalMs` (its connect reply says; 0: unknown): a durable flush waits for
    /// the service's round, the larger of the two intervals.
    public init(config: ChronoConfig, serviceArchiveIntervalMs: UInt32) {
        self.init(config: config)
        if Int(serviceArchiveIntervalMs) > config.grapher.archiveIntervalMs {
            durableLimit += .milliseconds(Int(serviceArchiveIntervalMs) - config.grapher.archiveIntervalMs)
        }
    }
}
