/// Every counter of the job summary, declared once with its aggregation: the roles count with
/// these, the summary adds them up (``Counter/Aggregation``) and the tests read them. The printed
/// name is the summary's key (`chronolog-job` output and `--summary-json`); names ending in `.max`
/// are maxima over ranks, every other counter is a sum.
extension Counter {
    // MARK: recording: Every recording process (keeper, grapher, player) counts these for its stories.

    /// `events.duplicates`.
    public static let eventsDuplicates = Counter("events.duplicates")
    /// `events.late`.
    public static let eventsLate = Counter("events.late")
    /// `events.rejected.late`.
    public static let eventsRejectedLate = Counter("events.rejected.late")
    /// `ranges.split`.
    public static let rangesSplit = Counter("ranges.split")
    /// `stories.recording`.
    public static let storiesRecording = Counter("stories.recording")
    /// `stories.started`.
    public static let storiesStarted = Counter("stories.started")
    /// `stories.stopped`.
    public static let storiesStopped = Counter("stories.stopped")

    // MARK: keeper: Counted by keepers.

    /// `acks.held`.
    public static let acksHeld = Counter("acks.held")
    /// `acks.releasedAtBound` (keeper): acknowledgements given at the memory bound to a writer whose
    /// watermark holds its story's ranges open, when nothing else could free memory.
    public static let acksReleasedAtBound = Counter("acks.releasedAtBound")
    /// `batches.received`.
    public static let batchesReceived = Counter("batches.received")
    /// `bytes.received`.
    public static let bytesReceived = Counter("bytes.received")
    /// `chunkAcks.refused`.
    public static let chunkAcksRefused = Counter("chunkAcks.refused")
    /// `chunkAcks.unknown`.
    public static let chunkAcksUnknown = Counter("chunkAcks.unknown")
    /// `chunks.durable`.
    public static let chunksDurable = Counter("chunks.durable")
    /// `chunks.failed`.
    public static let chunksFailed = Counter("chunks.failed")
    /// `chunks.orphaned`.
    public static let chunksOrphaned = Counter("chunks.orphaned")
    /// `chunks.shipped`.
    public static let chunksShipped = Counter("chunks.shipped")
    /// `durable.refused`.
    public static let durableRefused = Counter("durable.refused")
    /// `durable.requests`.
    public static let durableRequests = Counter("durable.requests")
    /// `events.durable`.
    public static let eventsDurable = Counter("events.durable")
    /// `events.failed`.
    public static let eventsFailed = Counter("events.failed")
    /// `events.received` (keeper, grapher).
    public static let eventsReceived = Counter("events.received")
    /// `events.rejected` (keeper, grapher, client).
    public static let eventsRejected = Counter("events.rejected")
    /// `events.rejected.notRecorded`.
    public static let eventsRejectedNotRecorded = Counter("events.rejected.notRecorded")
    /// `events.shipped`.
    public static let eventsShipped = Counter("events.shipped")
    /// `memory.peak.bytes.max`.
    public static let memoryPeakBytes = Counter("memory.peak.bytes.max", .max)
    /// `replays.answered`.
    public static let replaysAnswered = Counter("replays.answered")
    /// `replays.events`.
    public static let replaysEvents = Counter("replays.events")
    /// `replays.refused` (keeper, visor).
    public static let replaysRefused = Counter("replays.refused")
    /// `slots.exhausted`: a keeper had chunks waiting while every piece it may offer at once was unread.
    public static let slotsExhausted = Counter("slots.exhausted")
    /// `loans.unclosed`: a keeper's lent chunk, or a player's lent archive payload, whose
    /// registration would not close (its storage is not reused; the player keeps the file mapped).
    public static let loansUnclosed = Counter("loans.unclosed")
    /// `watermarkSets.received`.
    public static let watermarkSetsReceived = Counter("watermarkSets.received")
    /// `watermarks.refused`.
    public static let watermarksRefused = Counter("watermarks.refused")
    /// `watermarks.released`.
    public static let watermarksReleased = Counter("watermarks.released")
    /// `watermarks.reported`.
    public static let watermarksReported = Counter("watermarks.reported")

    // MARK: grapher: Counted by graphers.

    /// `archive.closeFailed`.
    public static let archiveCloseFailed = Counter("archive.closeFailed")
    /// `archive.failed`.
    public static let archiveFailed = Counter("archive.failed")
    /// `bulk.refused`.
    public static let bulkRefused = Counter("bulk.refused")
    /// `bytes.archived`.
    public static let bytesArchived = Counter("bytes.archived")
    /// `bytes.transferred`.
    public static let bytesTransferred = Counter("bytes.transferred")
    /// `chunks.malformed`.
    public static let chunksMalformed = Counter("chunks.malformed")
    /// `chunks.readFailed`.
    public static let chunksReadFailed = Counter("chunks.readFailed")
    /// `chunks.received`.
    public static let chunksReceived = Counter("chunks.received")
    /// `chunks.unknownKeeper`.
    public static let chunksUnknownKeeper = Counter("chunks.unknownKeeper")
    /// `chunks.unknownStory`.
    public static let chunksUnknownStory = Counter("chunks.unknownStory")
    /// `durable.latency.p50.us.max`.
    public static let durableLatencyP50Us = Counter("durable.latency.p50.us.max", .max)
    /// `durable.latency.p99.us.max`.
    public static let durableLatencyP99Us = Counter("durable.latency.p99.us.max", .max)
    /// `events.archived`.
    public static let eventsArchived = Counter("events.archived")
    /// `events.notArchived`.
    public static let eventsNotArchived = Counter("events.notArchived")
    /// `leases.expired`.
    public static let leasesExpired = Counter("leases.expired")
    /// `leases.granted`.
    public static let leasesGranted = Counter("leases.granted")
    /// `leases.recalled` (grapher, player).
    public static let leasesRecalled = Counter("leases.recalled")
    /// `read.busy.us`.
    public static let readBusyUs = Counter("read.busy.us")
    /// `reads.atBound`.
    public static let readsAtBound = Counter("reads.atBound")
    /// `round.ms.max`.
    public static let roundMs = Counter("round.ms.max", .max)
    /// `rounds` (grapher, client).
    public static let rounds = Counter("rounds")
    /// `watermarks.ahead`.
    public static let watermarksAhead = Counter("watermarks.ahead")
    /// `watermarks.stale`.
    public static let watermarksStale = Counter("watermarks.stale")
    /// `watermarks.unknownStory`.
    public static let watermarksUnknownStory = Counter("watermarks.unknownStory")

    // MARK: player: Counted by players.

    /// `bytes.rma`.
    public static let bytesRma = Counter("bytes.rma")
    /// `events.replayed`.
    public static let eventsReplayed = Counter("events.replayed")
    /// `keeperPieces.stray`.
    public static let keeperPiecesStray = Counter("keeperPieces.stray")
    /// `leases.stray`.
    public static let leasesStray = Counter("leases.stray")
    /// `leases.used`.
    public static let leasesUsed = Counter("leases.used")
    /// `leases.wait.us`.
    public static let leasesWaitUs = Counter("leases.wait.us")
    /// `pieces.rma`.
    public static let piecesRma = Counter("pieces.rma")
    /// `pieces.sent`.
    public static let piecesSent = Counter("pieces.sent")
    /// `pieces.straight`.
    public static let piecesStraight = Counter("pieces.straight")
    /// `pieces.mapped`: a player's pieces whose payload its client read where it lies in the
    /// mapped archive file (only the header and records were copied into the slot).
    public static let piecesMapped = Counter("pieces.mapped")
    /// `pieces.lendRefused`: a player's pieces whose payload it meant to lend where it lies in the
    /// mapped archive file, but the transport refused a part: the payload was copied into the slot.
    public static let piecesLendRefused = Counter("pieces.lendRefused")
    /// `queries.cancelled`.
    public static let queriesCancelled = Counter("queries.cancelled")
    /// `queries.duplicate`.
    public static let queriesDuplicate = Counter("queries.duplicate")
    /// `queries.failed`.
    public static let queriesFailed = Counter("queries.failed")
    /// `queries.partial`.
    public static let queriesPartial = Counter("queries.partial")
    /// `queries.tailMissing`: replay answers partial because an earlier job's writer's tail is
    /// missing from the archive (or unknown) where the range reaches.
    public static let queriesTailMissing = Counter("queries.tailMissing")
    /// `queries.received`.
    public static let queriesReceived = Counter("queries.received")
    /// `queries.refused`.
    public static let queriesRefused = Counter("queries.refused")
    /// `queries.served`.
    public static let queriesServed = Counter("queries.served")
    /// `queries.timedOut`.
    public static let queriesTimedOut = Counter("queries.timedOut")
    /// `slots.reclaimed`.
    public static let slotsReclaimed = Counter("slots.reclaimed")
    /// `windows.partial`.
    public static let windowsPartial = Counter("windows.partial")

    // MARK: visor: Counted by the visor.

    /// `catalog.write.errors`.
    public static let catalogWriteErrors = Counter("catalog.write.errors")
    /// `catalog.writes`.
    public static let catalogWrites = Counter("catalog.writes")
    /// `chronicles`.
    public static let chronicles = Counter("chronicles")
    /// `chronicles.created` (visor, client).
    public static let chroniclesCreated = Counter("chronicles.created")
    /// `chronicles.destroyed`.
    public static let chroniclesDestroyed = Counter("chronicles.destroyed")
    /// `clients.abandoned`.
    public static let clientsAbandoned = Counter("clients.abandoned")
    /// `clients.connects`.
    public static let clientsConnects = Counter("clients.connects")
    /// `clock.pings`.
    public static let clockPings = Counter("clock.pings")
    /// `messages.forged`.
    public static let messagesForged = Counter("messages.forged")
    /// `messages.malformed`.
    public static let messagesMalformed = Counter("messages.malformed")
    /// `messages.unexpected`.
    public static let messagesUnexpected = Counter("messages.unexpected")
    /// `recordings.started`.
    public static let recordingsStarted = Counter("recordings.started")
    /// `recordings.stopped`.
    public static let recordingsStopped = Counter("recordings.stopped")
    /// `replays.acrossNodes`.
    public static let replaysAcrossNodes = Counter("replays.acrossNodes")
    /// `replays.routed`.
    public static let replaysRouted = Counter("replays.routed")
    /// `stories.acquired` (visor, client).
    public static let storiesAcquired = Counter("stories.acquired")
    /// `stories.destroyed`.
    public static let storiesDestroyed = Counter("stories.destroyed")
    /// `stories.released` (visor, client).
    public static let storiesReleased = Counter("stories.released")
    /// `unauthorized.acquire`.
    public static let unauthorizedAcquire = Counter("unauthorized.acquire")
    /// `unauthorized.destroy`.
    public static let unauthorizedDestroy = Counter("unauthorized.destroy")
    /// `unauthorized.replay`.
    public static let unauthorizedReplay = Counter("unauthorized.replay")
    /// `undrained.events`.
    public static let undrainedEvents = Counter("undrained.events")

    // MARK: client: Counted by clients (the ingest and replay paths of a session, and the demo workload).

    /// `acks.malformed`.
    public static let acksMalformed = Counter("acks.malformed")
    /// `acks.outOfOrder`.
    public static let acksOutOfOrder = Counter("acks.outOfOrder")
    /// `acks.stray`.
    public static let acksStray = Counter("acks.stray")
    /// `batches.acked`.
    public static let batchesAcked = Counter("batches.acked")
    /// `batches.sent`.
    public static let batchesSent = Counter("batches.sent")
    /// `bytes.logged`.
    public static let bytesLogged = Counter("bytes.logged")
    /// `chronicles.existed`.
    public static let chroniclesExisted = Counter("chronicles.existed")
    /// `clock.offset.errorBound.ns.max`.
    public static let clockOffsetErrorBoundNs = Counter("clock.offset.errorBound.ns.max", .max)
    /// `connects`.
    public static let connects = Counter("connects")
    /// `disconnects`.
    public static let disconnects = Counter("disconnects")
    /// `events.acked`.
    public static let eventsAcked = Counter("events.acked")
    /// `events.logged`.
    public static let eventsLogged = Counter("events.logged")
    /// `events.refused`.
    public static let eventsRefused = Counter("events.refused")
    /// `events.refused.unauthorized`.
    public static let eventsRefusedUnauthorized = Counter("events.refused.unauthorized")
    /// `ingest.windowWait.us`.
    public static let ingestWindowWaitUs = Counter("ingest.windowWait.us")
    /// `ingest.windowWaits`.
    public static let ingestWindowWaits = Counter("ingest.windowWaits")
    /// `replay.pieces.decoded`.
    public static let replayPiecesDecoded = Counter("replay.pieces.decoded")
    /// `replay.pieces.inPlace`.
    public static let replayPiecesInPlace = Counter("replay.pieces.inPlace")
    /// `replay.pieces.fromFile`: pieces whose payload a reader on the player's node copied from the
    /// archive file it mapped (also counted `inPlace` or `decoded`, by where the payload went).
    public static let replayPiecesFromFile = Counter("replay.pieces.fromFile")
    /// `replay.pieces.fileRefused`: pieces naming an archive file the reader could not map as named
    /// (another host's, another file at its path, no permission); their payload was read by RMA.
    public static let replayPiecesFileRefused = Counter("replay.pieces.fileRefused")
    /// `replay.pieces.lentByRma`: pieces whose payload the player lent where it lies in its archive
    /// file, read by RMA (a reader on another node, or one that could not or would not map the file).
    public static let replayPiecesLentByRma = Counter("replay.pieces.lentByRma")
    /// `stories.listed`.
    public static let storiesListed = Counter("stories.listed")

    // MARK: job: Counted by any rank: workload outcome and the test programs' checks.

    /// `batches.forged`.
    public static let batchesForged = Counter("batches.forged")
    /// `batches.unauthorized`.
    public static let batchesUnauthorized = Counter("batches.unauthorized")
    /// `events.refused.forged`.
    public static let eventsRefusedForged = Counter("events.refused.forged")
    /// `memory.resident.bytes`: a recording process's resident memory, sent with its heartbeats
    /// for the progress lines only (not one of the role's summary counters).
    public static let memoryResidentBytes = Counter("memory.resident.bytes")
    /// `orders.refused`.
    public static let ordersRefused = Counter("orders.refused")
    /// `workload.failed`.
    public static let workloadFailed = Counter("workload.failed")

    // MARK: cost: Every rank counts these from the moment it joined the job.

    /// `faults.minor`: minor page faults (pages mapped for the first time).
    public static let faultsMinor = Counter("faults.minor")
    /// `cpu.us`: user plus system CPU time, every thread.
    public static let cpuUs = Counter("cpu.us")

    // MARK: attach: Counted by the gateway of attached clients.

    /// `attach.accepted` (the attach gateway, docs/ATTACH.md).
    public static let attachAccepted = Counter("attach.accepted")
    /// `attach.answers.unclaimed` (the attach gateway, docs/ATTACH.md).
    public static let attachAnswersUnclaimed = Counter("attach.answers.unclaimed")
    /// `attach.clients` (the attach gateway, docs/ATTACH.md).
    public static let attachClients = Counter("attach.clients")
    /// `attach.clients.disconnected` (the attach gateway, docs/ATTACH.md).
    public static let attachClientsDisconnected = Counter("attach.clients.disconnected")
    /// `attach.clients.readOnly` (the attach gateway, docs/ATTACH.md).
    public static let attachClientsReadOnly = Counter("attach.clients.readOnly")
    /// `attach.dropped` (the attach gateway, docs/ATTACH.md).
    public static let attachDropped = Counter("attach.dropped")
    /// `attach.events.unflushed` (the attach gateway, docs/ATTACH.md).
    public static let attachEventsUnflushed = Counter("attach.events.unflushed")
    /// `attach.goodbyes` (the attach gateway, docs/ATTACH.md).
    public static let attachGoodbyes = Counter("attach.goodbyes")
    /// `attach.messages.forged` (the attach gateway, docs/ATTACH.md).
    public static let attachMessagesForged = Counter("attach.messages.forged")
    /// `attach.messages.refused` (the attach gateway, docs/ATTACH.md).
    public static let attachMessagesRefused = Counter("attach.messages.refused")
    /// `attach.refused` (the attach gateway, docs/ATTACH.md).
    public static let attachRefused = Counter("attach.refused")
    /// `attach.refused.readOnly` (the attach gateway, docs/ATTACH.md).
    public static let attachRefusedReadOnly = Counter("attach.refused.readOnly")

    /// `queries.last.memory` (player): "last N" queries answered from the keepers' memory alone.
    public static let lastFromMemory = Counter("queries.last.memory")
    /// `queries.last.archive` (player): "last N" queries that also read the part before what the
    /// keepers hold (keepers again, then the archive).
    public static let lastFromArchive = Counter("queries.last.archive")
    /// `storage.reused` (keeper, grapher): range, chunk and merge storage handed out again by the
    /// role's ``ChunkStoragePool``.
    public static let storageReused = Counter("storage.reused")
    /// `storage.fresh` (keeper, grapher): such storage newly allocated because no idle array fitted.
    public static let storageFresh = Counter("storage.fresh")
    /// `storage.shared` (keeper, grapher): storage given back to the ``ChunkStoragePool`` while
    /// something else still held it, so not kept (emptying it would have copied it).
    public static let storageShared = Counter("storage.shared")
    /// `pieces.kept.dropped` (keeper): a story's latest durable piece, kept for "last N" queries,
    /// let go (or not kept) to stay within `keeper.memoryLimitBytes`.
    public static let keptPiecesDropped = Counter("pieces.kept.dropped")

    /// `reads.granted` (visor): read routes granted (the story's keepers took a ``ReadGrant``).
    public static let readsGranted = Counter("reads.granted")
    /// `reads.declined` (visor): read routes asked for a story that is not recorded (or has hidden
    /// events): the client reads it through the player.
    public static let readsDeclined = Counter("reads.declined")
    /// `replays.direct` (keeper): "last N" queries answered straight to a reader holding a grant.
    public static let replaysDirect = Counter("replays.direct")
    /// `replays.direct.refused` (keeper): "last N" queries sent straight by a reader without a grant
    /// for the story, from its rank (answered −9).
    public static let replaysDirectRefused = Counter("replays.direct.refused")
    /// `replay.last.direct` (client): "last N" queries answered by the story's keepers directly.
    public static let replayLastDirect = Counter("replay.last.direct")
    /// `replay.last.player` (client): "last N" queries sent through the visor to the player.
    public static let replayLastPlayer = Counter("replay.last.player")
    /// `replay.routes` (client): read routes asked of the visor.
    public static let replayRoutes = Counter("replay.routes")
    /// `replies.stale` (client): answers of the visor dropped because they carried another request's
    /// id (late answers to requests that timed out; ``ReplyMatcher``).
    public static let repliesStale = Counter("replies.stale")
    /// `replay.last.direct.timedOut` (client): "last N" queries the keepers asked directly did not
    /// answer within half the query's timeout; they went through the player (in `replay.last.player`).
    public static let replayLastDirectTimedOut = Counter("replay.last.direct.timedOut")
    /// `replay.last.belowKeepers` (client): "last N" queries the keepers asked directly answered in
    /// part; the player read only the part below theirs (in `replay.last.player`).
    public static let replayLastBelowKeepers = Counter("replay.last.belowKeepers")
    /// `reads.revoked` (visor): read grants withdrawn from keepers because their reader disconnected
    /// (or was disconnected: its rank finished, or its attach gateway dropped it).
    public static let readsRevoked = Counter("reads.revoked")
    /// `replays.direct.revoked` (keeper): read grants withdrawn by the visor.
    public static let replaysDirectRevoked = Counter("replays.direct.revoked")

    // MARK: overlap: Counted by keepers and graphers (issue 17).

    /// `chunks.read` (keeper): chunks whose slot came back when the grapher had read them.
    public static let chunksRead = Counter("chunks.read")
    /// `chunks.receivedDuringRounds` (grapher): chunks read while a round was being written.
    public static let chunksReceivedDuringRounds = Counter("chunks.receivedDuringRounds")

    /// Every declared counter (names are unique; a test checks it).
    public static let all: [Counter] = [
        .acksHeld, .acksMalformed, .acksReleasedAtBound, .acksOutOfOrder, .acksStray, .archiveCloseFailed, .archiveFailed, .batchesAcked,
        .batchesForged, .batchesReceived, .batchesSent, .batchesUnauthorized, .bulkRefused, .bytesArchived,
        .bytesLogged, .bytesReceived, .bytesRma, .bytesTransferred, .catalogWriteErrors, .catalogWrites, .chronicles,
        .chroniclesCreated, .chroniclesDestroyed, .chroniclesExisted, .chunkAcksRefused, .chunkAcksUnknown,
        .chunksDurable, .chunksFailed, .chunksMalformed, .chunksOrphaned, .chunksReadFailed, .chunksReceived,
        .chunksShipped, .chunksUnknownKeeper, .chunksUnknownStory, .clientsAbandoned, .clientsConnects,
        .clockOffsetErrorBoundNs, .clockPings, .connects, .disconnects, .durableLatencyP50Us, .durableLatencyP99Us,
        .durableRefused, .durableRequests, .eventsAcked, .eventsArchived, .eventsDuplicates, .eventsDurable,
        .eventsFailed, .eventsLate, .eventsLogged, .eventsNotArchived, .eventsReceived, .eventsRefused,
        .eventsRefusedForged, .eventsRefusedUnauthorized, .eventsRejected, .eventsRejectedLate,
        .eventsRejectedNotRecorded, .eventsReplayed, .eventsShipped, .ingestWindowWaitUs, .ingestWindowWaits,
        .keeperPiecesStray, .leasesExpired, .leasesGranted, .leasesRecalled, .leasesStray, .leasesUsed, .leasesWaitUs,
        .memoryPeakBytes, .memoryResidentBytes, .messagesForged, .messagesMalformed, .messagesUnexpected,
        .ordersRefused, .piecesRma, .piecesSent, .piecesStraight, .piecesMapped, .piecesLendRefused, .queriesCancelled, .queriesDuplicate, .queriesFailed,
        .queriesPartial, .queriesTailMissing, .queriesReceived, .queriesRefused, .queriesServed, .queriesTimedOut, .rangesSplit, .readBusyUs,
        .readsAtBound, .recordingsStarted, .recordingsStopped, .replayPiecesDecoded, .replayPiecesInPlace, .replayPiecesFromFile, .replayPiecesFileRefused, .replayPiecesLentByRma,
        .replaysAcrossNodes, .replaysAnswered, .replaysEvents, .replaysRefused, .replaysRouted, .roundMs, .rounds,
        .slotsExhausted, .loansUnclosed, .slotsReclaimed, .storiesAcquired, .storiesDestroyed, .storiesListed, .storiesRecording,
        .storiesReleased, .storiesStarted, .storiesStopped, .unauthorizedAcquire, .unauthorizedDestroy,
        .unauthorizedReplay, .undrainedEvents, .watermarkSetsReceived, .watermarksAhead, .watermarksRefused,
        .watermarksReleased, .watermarksReported, .watermarksStale, .watermarksUnknownStory, .windowsPartial,
        .workloadFailed, .faultsMinor, .cpuUs, .chunksRead, .chunksReceivedDuringRounds,
        .attachAccepted, .attachAnswersUnclaimed, .attachClients, .attachClientsDisconnected, .attachClientsReadOnly, .attachDropped, .attachEventsUnflushed, .attachGoodbyes, .attachMessagesForged, .attachMessagesRefused, .attachRefused, .attachRefusedReadOnly,
        .lastFromMemory, .lastFromArchive, .keptPiecesDropped, .storageReused, .storageFresh, .storageShared,
        .readsGranted, .readsDeclined, .replaysDirect, .replaysDirectRefused, .replayLastDirect, .replayLastPlayer, .replayRoutes,
        .replayLastDirectTimedOut, .replayLastBelowKeepers, .readsRevoked, .replaysDirectRevoked, .repliesStale,
    ]
}
