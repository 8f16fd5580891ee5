import ChronoModel
import Testing

/// The numbers roles agree on (`ChronoConfig+Agreements.swift`) keep their relations for every
/// shape of configuration: what one role sends always fits what the other receives into, and a
/// player always lets go of a lease before its grapher would take it away.
@Suite struct ChronoConfigAgreementTests {
    /// Configurations at the corners of the accepted ranges.
    static let configs: [ChronoConfig] = {
        var out = [ChronoConfig()]
        let corners: [[Int]] = [  // keeper slot, largest event, replay piece, keeper memory, grapher memory
            [64 << 10, 16 << 20, 4096, 1 << 20, 1 << 20],
            [256 << 20, 0, 64 << 20, 1 << 40, 1 << 40],
            [64 << 10, 64 << 10, 4096, 96 << 20, 1 << 30],
            [4 << 20, 1, 4 << 20, 3 << 20, 5 << 20],
        ]
        for corner in corners {
            let (slot, event, piece, keeperMemory, grapherMemory) = (corner[0], corner[1], corner[2], corner[3], corner[4])
            var c = ChronoConfig()
            c.keeper.transferSlotBytes = slot
            c.story.maxEventBytes = event
            c.player.pieceBytes = piece
            c.keeper.memoryLimitBytes = keeperMemory
            c.grapher.memoryLimitBytes = grapherMemory
            out.append(c)
        }
        return out
    }()

    /// The encoded size of a chunk holding one event of `bytes`.
    static func oneEventChunkBytes(_ bytes: Int) throws -> Int {
        let event = Event(time: 10, clientId: ClientID(1), index: 0, record: [UInt8](repeating: 7, count: bytes))
        return try StoryChunk(storyId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: 100), events: [event]).encodedByteCount
    }

    @Test("a keeper's transfer slot holds the largest event as a chunk, and the grapher reads into slots of that size",
          arguments: configs)
    func transferSlots(config: ChronoConfig) throws {
        #expect(try Self.oneEventChunkBytes(config.story.maxEventBytes) <= config.transferSlotBytes)
        #expect(config.transferSlotBytes >= config.keeper.transferSlotBytes)
        let pool = config.keeperTransferSlots * config.transferSlotBytes
        #expect(config.keeperTransferSlots >= 4)
        #expect(config.keeperTransferSlots == 4 || pool <= min(config.keeper.memoryLimitBytes / 2, ChronoConfig.maxKeeperPoolBytes))
        #expect((4...64).contains(config.grapherReadSlots))
    }

    @Test("a replay piece slot holds a full piece or the largest event alone, with its header", arguments: configs)
    func replaySlots(config: ChronoConfig) throws {
        #expect(try Self.oneEventChunkBytes(config.story.maxEventBytes) <= config.replayPieceSlotBytes)
        #expect(config.player.pieceBytes + StoryChunk.headerByteCount <= config.replayPieceSlotBytes)
    }

    @Test("a player releases its archive lease well before the grapher would expire it")
    func leases() {
        #expect(ChronoConfig.archiveLeaseHold > .zero)
        #expect(ChronoConfig.archiveLeaseHold * 2 <= ChronoConfig.archiveLeaseExpiry)
    }

    @Test("watermarks move several times per chunk; the visor answers held acquires before the client's timeout",
          arguments: [1, 3, 100, 86_400_000])
    func cadences(milliseconds: Int) {
        var c = ChronoConfig()
        c.story.chunkDurationMs = milliseconds
        c.timeouts.acquireMs = milliseconds
        // A quarter chunk, at most 100 ms (a durable flush waits for the other writers' watermarks).
        let quarter = min(.milliseconds(milliseconds) / 4, .milliseconds(100))
        #expect(c.watermarkInterval <= quarter && c.watermarkInterval > quarter - .nanoseconds(1))
        #expect(c.visorRegistrationWait < .milliseconds(milliseconds))
        #expect(milliseconds < 4 || c.visorRegistrationWait >= .milliseconds(milliseconds) / 2)
    }
}
