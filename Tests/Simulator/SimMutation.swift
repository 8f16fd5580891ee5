/// A deliberate bug the simulator must catch: each breaks one promise the invariants check, so
/// a run with it shows that the invariant (and the simulator's reach) is real.
public enum SimMutation: String, CaseIterable, Sendable {
    /// No bug.
    case none
    /// The archive reports a round durable but lost its last chunk (every third round):
    /// acknowledged events missing from the archive.
    case archiveDropsChunk
    /// The archive stores a chunk twice (every third round): events archived twice.
    case archiveDuplicatesChunk
    /// The network loses the grapher's last acknowledgements of a chunk to a keeper (from the
    /// fifth chunk acknowledgement on, one in five is lost): the keeper keeps the chunk for ever and
    /// the drain never ends.
    case networkLosesChunkAcks
    /// A round that failed on a full disk kept its data after all: the summary's `lost` counts
    /// events that are in the archive.
    case failedRoundKeepsData
    /// The network breaks MPI's order between two ranks under one tag (a keeper's descriptors
    /// and watermarks overtake each other, so a watermark can pass a chunk still on its way).
    case networkReordersLanes
    /// Writers ship without waiting for acknowledgements (with keepers' memory bounds at 16 KiB):
    /// a keeper's memory passes its bound by more than flow control allows.
    case writersIgnoreFlowControl
    /// The archive reports a round durable but stores it only with the next round (a write-back
    /// cache): durable flushes return before their events are in the archive.
    case archiveAcksBeforeStoring
    /// The archive's reads leave a story's first archived chunk out: replay answers miss events.
    case archiveReadsSkipChunk
    /// The visor's notices do not name the holder's keeper (the network rewrites them), so that keeper waits for a writer only
    /// from its first batch: a writer that logs before its registration batch arrived (half the
    /// simulated clients do not wait for it) sees its first events fall in a range the keeper
    /// already sealed by its clock alone, late while every clock is aligned.
    case keeperWaitsForFirstBatch
    /// The visor's catalog store reports every second snapshot written but keeps the one before:
    /// the catalog at the job's end misses the last changes (a writer's release and its count).
    case catalogSkipsSnapshots
    /// The follower yields each answer whole, not only its part below `completeBefore` (the part
    /// complete so far), and asks again from `completeBefore`: the events past it come twice.
    case followYieldsIncomplete
    /// Keepers answer a query complete up to their clock, not up to their writers' low watermark:
    /// events still on their way from a writer fall behind a follow's cursor and are never yielded.
    case keepersCompleteByClock
    /// After a kill and restart, the player ignores the writers of earlier jobs the visor sends
    /// with each query (a rewrite of the forwarded query on the network): an answer reaching past
    /// a killed writer's last archived event is called complete.
    case playerIgnoresEarlierWriters
    /// The grapher acknowledges a round's chunks as soon as it wrote them, before the round's
    /// flush and commit returned: a kill inside the round destroys events a writer saw durable.
    case roundAcksBeforeCommit
    /// The first group's grapher takes its own value as the graphers' agreement after a round,
    /// not the maximum over every grapher: done before the others, it closes the archive and
    /// leaves while they still have rounds to write, which then wait for it for ever. Only a job
    /// of several recording groups can show it.
    case grapherAgreesAlone
    /// Keepers' answers to "last N" queries readers send them directly lose their newest event
    /// (the network rewrites them): the answer misses a complete event.
    case keepersLastDropNewest
    /// The visor's catalog store keeps every snapshot with its destroyed marks cleared (a destroyed
    /// story is written back as live): a destroyed story is still in the catalog.
    case catalogForgetsDestroys
    /// The visor's listings lose their last name on the way (the network rewrites them): a
    /// chronicle or story that exists is missing from them.
    case listingsDropLastName
    /// The visor stamps its clock pongs 50 ms late (the network rewrites them): a client's measured
    /// clock offset is off by more than its error bound.
    case pongsStampedLate
    /// Every fifth chunk descriptor a keeper sends its grapher claims a slot's worth more payload
    /// than its piece has (the network rewrites it): the grapher refuses it (−2 to the keeper,
    /// `chunks.malformed`) and the keeper counts its events failed. Lost, not archived: the loss
    /// must show. (The job must still end, and the summary count exactly the refused events:
    /// ``SimulatorTests`` checks that too.)
    case descriptorsOverstatePayload
    /// Keepers' clock watermarks stand at their clocks, not `StoryPipeline.writerClockMargin`
    /// behind: a writer whose clock lags its keeper's by less than the margin, joining a story
    /// whose other writers' watermarks have passed its first events' range, makes them late. Its
    /// scenarios skew clocks by up to ±9 ms (``SimScenario/wideSkews``): at ±3 ms no seed of 500
    /// caught it.
    case keeperClockWithoutMargin

    /// The invariant that must catch it (the start of its violation line).
    public var caughtBy: String {
        switch self {
        case .none: ""
        case .archiveDropsChunk, .archiveDuplicatesChunk: "exactly once"
        case .networkLosesChunkAcks, .grapherAgreesAlone: "deadline"
        case .failedRoundKeepsData, .descriptorsOverstatePayload: "lost"
        case .networkReordersLanes, .keeperWaitsForFirstBatch, .keeperClockWithoutMargin: "late"
        case .writersIgnoreFlowControl: "memory"
        case .archiveReadsSkipChunk: "replay"
        case .archiveAcksBeforeStoring: "durable"
        case .followYieldsIncomplete, .keepersCompleteByClock: "follow"
        case .catalogSkipsSnapshots: "catalog"
        case .playerIgnoresEarlierWriters: "restart"
        case .roundAcksBeforeCommit: "durable"
        case .keepersLastDropNewest: "last"
        case .catalogForgetsDestroys: "destroy"
        case .listingsDropLastName: "listings"
        case .pongsStampedLate: "clock"
        }
    }
}
