/// The numbers two or more roles must agree on, each derived here, once, from the configuration
/// (or fixed here when no setting governs it). Roles and clients read these instead of computing
/// their own copy; `ChronoConfigAgreementTests` checks the relations between them.
extension ChronoConfig {
    // MARK: Keeper → grapher transfer (RMA)

    /// The largest piece a keeper ships (encoded: header, records, payload): `keeper.transferSlotBytes`,
    /// or one event of `story.maxEventBytes` with its chunk header when that is larger. The grapher
    /// reads into slots of this size, so every piece fits one.
    public var transferSlotBytes: Int {
        max(keeper.transferSlotBytes, story.maxEventBytes + StoryChunk.headerByteCount + 64)
    }

    /// The most bytes of pieces a keeper offers at once, however large `keeper.memoryLimitBytes`
    /// is: 1 GiB (at least four pieces).
    public static let maxKeeperPoolBytes = 1 << 30

    /// Pieces a keeper offers its grapher before they are read (each lent in place, read into one
    /// of the grapher's slots): half of `keeper.memoryLimitBytes` worth of ``transferSlotBytes``,
    /// at least 4, and at most ``maxKeeperPoolBytes`` worth.
    public var keeperTransferSlots: Int {
        let slot = transferSlotBytes
        return max(4, min(keeper.memoryLimitBytes / 2 / slot, Self.maxKeeperPoolBytes / slot))
    }

    /// Slots (of ``transferSlotBytes``) a grapher reads its keepers' chunks into: a quarter of
    /// `grapher.memoryLimitBytes`, at least 4 and at most 64.
    public var grapherReadSlots: Int {
        max(4, min(64, grapher.memoryLimitBytes / 4 / transferSlotBytes))
    }

    // MARK: Player → client replay pieces

    /// Bytes of one replay piece slot: the player's registered pieces and every client's receive
    /// buffer. A piece holds up to `player.pieceBytes` of encoded events, or one event of
    /// `story.maxEventBytes` alone, plus the chunk header.
    public var replayPieceSlotBytes: Int {
        max(player.pieceBytes, story.maxEventBytes + 64) + StoryChunk.headerByteCount
    }

    // MARK: Archive leases (player ↔ grapher)

    /// A grapher expires an archive lease not released within this long (a player that died or
    /// hangs must not stall the archive).
    public static let archiveLeaseExpiry: Duration = .seconds(5)

    /// The longest a player keeps an archive lease without being recalled before it releases it
    /// and asks again: a fifth of ``archiveLeaseExpiry``, so a live player always releases well
    /// before its grapher would expire the lease under it.
    public static var archiveLeaseHold: Duration { archiveLeaseExpiry / 5 }

    // MARK: Watermarks (clients → keepers → grapher)

    /// How often watermarks move on without events: a quarter of `story.chunkDurationMs`, at most
    /// ``watermarkIntervalLimitNanoseconds``. Clients send theirs at least this often (or after
    /// `client.lingerMicroseconds`, when longer) and keepers report theirs to the grapher as often,
    /// so a range seals about a quarter chunk after it ends, and a durable flush, which cuts its
    /// story's open range once every watermark has passed the point it asks for, waits at most
    /// about this long for the other writers' and keepers' watermarks, however long the ranges.
    public var watermarkIntervalNanoseconds: UInt64 { min(chunkDurationNanoseconds / 4, Self.watermarkIntervalLimitNanoseconds) }

    /// The longest ``watermarkIntervalNanoseconds``: 100 ms.
    public static let watermarkIntervalLimitNanoseconds: UInt64 = 100_000_000

    /// ``watermarkIntervalNanoseconds`` as a duration.
    public var watermarkInterval: Duration { .nanoseconds(Int64(clamping: watermarkIntervalNanoseconds)) }

    // MARK: Visor ↔ client acquire

    /// How long after start the visor holds acquires back waiting for every recording process to
    /// register: 3/4 of `timeouts.acquireMs`, so a client waiting on an acquire gets its answer
    /// (possibly "no keepers", −7) before its own timeout.
    public var visorRegistrationWait: Duration { .milliseconds(max(0, timeouts.acquireMs) * 3 / 4) }
}
