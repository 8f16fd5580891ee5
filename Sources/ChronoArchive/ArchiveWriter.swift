import ChronoModel
import HDF5
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// Writes the archive collectively: every grapher of a job holds one `ArchiveWriter` over the
/// graphers' communicator, and they all write ONE file through parallel HDF5 (MPI-IO driver).
///
/// Use it from one thread (HDF5 is not thread-safe) and make every collective call on every rank
/// of the communicator in the same order: `open`, each `writeRound`, `close`.
///
/// Durability: `writeRound` returns only after `H5Fflush` (which syncs the MPI-IO file), so every
/// chunk passed to a call that returned is durable: the file opens afterwards (even if the job is
/// then killed) and holds those chunks' events. Each round is then committed (`ArchiveWriter+Commit.swift`:
/// rank 0 writes the commit record, a second flush), so readers never take its rows for a crash tail.
///
/// Errors: input refused on any rank (`.invalidChunk`) is detected before any file change and
/// thrown on every rank alike; the writer stays usable. Before changing the file, rank 0 reserves
/// room for the round past the file's end; a full file system fails the round there, with the file
/// as the last flush left it. Every later step's outcome (structure changes, rows, flush) is agreed
/// between ranks too: a failure anywhere is `.writeFailed` on all, nothing of that round is
/// acknowledged, and the writer becomes unusable (call `close()`). The collective HDF5 calls of a
/// round do no file I/O except `H5Fflush` (and `H5Fclose`): rows are independent writes, the
/// datasets are created without fill (`fillsNewChunks: false`, so `H5Dset_extent` only allocates),
/// and metadata is written at flush (``HDF5File``). Only a write failing on some ranks inside
/// `H5Fflush` or `H5Fclose` (HDF5 then leaves its closing barrier on those ranks alone) can still
/// leave the others waiting: after `timeouts.archiveRoundMs` the grapher gives the round up as a
/// failed one and never calls the writer again (the job drains without it; the file keeps what the
/// rounds that returned made durable). Files
/// created before datasets were made without fill keep filling when their stories are extended.
public final class ArchiveWriter {
    /// The archive file's path.
    public let path: String
    /// The communicator the file is shared over.
    public let communicator: Communicator

    let file: HDF5File
    let chronicles: HDF5Group
    let rounds: HDF5Dataset
    var roundCount: Int
    /// The commit record (`ArchiveWriter+Commit.swift`); nil only while opening.
    var commitLog: ArchiveCommitLog?
    private var stories: [StoryKey: StoryFiles] = [:]
    private var chronicleGroups: [[UInt8]: HDF5Group] = [:]
    private var unusableReason: String?
    /// The largest room reserved past the file's end by one round (rank 0), given back at `close()`.
    private var reservedBytes = 0

    /// The open datasets of one story and their extents, the same on every rank.
    private final class StoryFiles {
        let group: HDF5Group
        let events: HDF5Dataset
        let payload: HDF5Dataset
        let index: HDF5Dataset
        var eventRows: Int
        var payloadBytes: Int
        var indexRows: Int

        init(group: HDF5Group, events: HDF5Dataset, payload: HDF5Dataset, index: HDF5Dataset) throws {
            self.group = group
            self.events = events
            self.payload = payload
            self.index = index
            eventRows = try events.extent
            payloadBytes = try payload.extent
            indexRows = try index.extent
        }
    }

    private init(path: String, communicator: Communicator, file: HDF5File, chronicles: HDF5Group,
                 rounds: HDF5Dataset) throws {
        self.path = path
        self.communicator = communicator
        self.file = file
        self.chronicles = chronicles
        self.rounds = rounds
        self.roundCount = try rounds.extent
    }

    /// Largest index row, in bytes of records plus payload (`archive.maxRowBytes`): a larger chunk
    /// is archived as several rows (``ArchiveRowCut``). Same value on every rank.
    public var maxRowBytes = 4 << 20

    /// Bytes at the file's end left in the page cache after each round; the pages of older parts
    /// (flushed, so clean) are dropped, and the next rounds' writes reuse them instead of taking
    /// new pages (`archive.pageCacheBytes`). `nil` (the default): the page cache is left alone.
    public var pageCacheBytes: Int?

    /// Rounds recorded in the file so far (rows of `/rounds`), including earlier jobs' rounds.
    public var roundsInFile: Int { roundCount }

    /// Opens the archive `<directory>/<fileName>` collectively, creating the directory and the
    /// file if needed. An existing archive is opened read-write and appended to: a new job run
    /// adds its chunks to the same stories (readers merge revisions and duplicates).
    ///
    /// Collective over `communicator` (the graphers' communicator): every member calls it with
    /// the same directory and file name. The communicator must stay valid until `close()`.
    /// - Throws: `ArchiveError.incompatibleLayout` if the existing file is not an archive of this
    ///   layout version, `.unreadableFile` if it is not HDF5, `.hdf5` / `.mpi` for library failures.
    public static func open(directory: String, fileName: String = ArchiveLayout.defaultFileName,
                            communicator: Communicator) throws(ArchiveError) -> ArchiveWriter {
        let path = directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
        return try archiveCall {
            let made = makeDirectories(directory)
            let madeEverywhere = try communicator.allreduce(Int64(made ? 1 : 0), op: .min) == 1
            guard madeEverywhere else {
                throw ArchiveError.writeFailed(rank: communicator.rank, detail: "cannot create directory \(directory) on every rank")
            }
            let exists = try communicator.allreduce(Int64(access(path, F_OK) == 0 ? 1 : 0), op: .max) == 1
            let file: HDF5File
            if exists {
                do {
                    file = try HDF5File.open(path: path, mode: .readWrite, communicator: communicator)
                } catch let error as HDF5Error {
                    if case .notAnHDF5File = error { throw ArchiveError.unreadableFile(path: path, reason: "\(error)") }
                    throw error
                }
                do {
                    let root = try file.root
                    try checkLayout(root, path: path)
                    let chronicles = try root.openGroup(ArchiveLayout.chroniclesGroup)
                    let rounds = try root.openDataset(ArchiveLayout.roundsDataset)
                    guard rounds.elementType == .uint64, rounds.columns == ArchiveRoundRow.columnCount else {
                        throw ArchiveError.incompatibleLayout(path: path, detail: "/rounds has the wrong shape")
                    }
                    let writer = try ArchiveWriter(path: path, communicator: communicator, file: file,
                                                   chronicles: chronicles, rounds: rounds)
                    let record = try ArchiveCommitRecord.read(root)
                    let totals = try writer.repairAfterCrash(record)
                    try writer.startCommitLog(root: root, after: record, totals: totals)
                    return writer
                } catch {
                    try? file.close()
                    throw error
                }
            }
            try checkRoomForNewFile(directory: directory, communicator: communicator)
            file = try HDF5File.create(path: path, communicator: communicator, overwrite: false)
            do {
                return try initialize(file, path: path, communicator: communicator)
            } catch {
                // Never flushed, so it holds nothing: close it and remove it rather than leave a
                // file that does not open.
                try? file.close()
                if communicator.rank == 0 { unlink(path) }
                throw error
            }
        }
    }

    /// Writes the root attributes, `/chronicles` and `/rounds` of a new file and flushes it.
    private static func initialize(_ file: HDF5File, path: String, communicator: Communicator) throws -> ArchiveWriter {
        let root = try file.root
        try root.attributes.set(ArchiveLayout.versionAttribute, .uint64(ArchiveLayout.version))
        try root.attributes.set(ArchiveLayout.creatorAttribute, .string(ArchiveLayout.creator))
        let chronicles = try root.createGroup(ArchiveLayout.chroniclesGroup)
        let rounds = try root.createDataset(ArchiveLayout.roundsDataset, of: UInt64.self,
                                            columns: ArchiveRoundRow.columnCount,
                                            chunkRows: ArchiveLayout.roundsChunkRows, fillsNewChunks: false)
        try rounds.attributes.set(ArchiveLayout.columnsAttribute,
                                  .string(ArchiveLayout.roundsColumns.joined(separator: ",")))
        try file.flush()
        let writer = try ArchiveWriter(path: path, communicator: communicator, file: file, chronicles: chronicles,
                                       rounds: rounds)
        try writer.startCommitLog(root: root, after: nil, totals: ArchiveCommitTotals())
        return writer
    }

    /// Fails alike on every rank, before a file is created, when `directory`'s file system has less
    /// than ``metadataSlackBytes`` available (rank 0 checks with `statvfs`).
    private static func checkRoomForNewFile(directory: String, communicator: Communicator) throws {
        var available: UInt64 = .max
        var info = statvfs()
        if communicator.rank == 0, statvfs(directory, &info) == 0 {
            available = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        }
        let least = try communicator.allreduce(Int64(clamping: available), op: .min)
        guard least >= metadataSlackBytes else {
            throw ArchiveError.writeFailed(rank: 0, detail: "No space left on device: \(least) B available in \(directory), "
                                           + "a new archive file needs \(metadataSlackBytes) B")
        }
    }

    /// Checks the root attributes of an existing file.
    static func checkLayout(_ root: HDF5Group, path: String) throws {
        guard try root.attributes.contains(ArchiveLayout.versionAttribute),
              try root.attributes.contains(ArchiveLayout.creatorAttribute) else {
            throw ArchiveError.foreignFile(path: path, detail: "no layout_version/creator attributes")
        }
        let version = try root.attributes.value(ArchiveLayout.versionAttribute)
        guard version == .uint64(ArchiveLayout.version) else {
            throw ArchiveError.incompatibleLayout(
                path: path, detail: "layout_version \(version), this code reads \(ArchiveLayout.version)")
        }
        let creator = try root.attributes.value(ArchiveLayout.creatorAttribute)
        guard creator == .string(ArchiveLayout.creator) else {
            throw ArchiveError.foreignFile(path: path, detail: "creator \(creator)")
        }
        guard try root.exists(ArchiveLayout.chroniclesGroup), try root.exists(ArchiveLayout.roundsDataset) else {
            throw ArchiveError.incompatibleLayout(path: path, detail: "no /chronicles group or /rounds dataset")
        }
    }

    // MARK: Rounds

    /// What one rank contributes to one story in a round.
    private struct Share {
        var eventRows: UInt64 = 0
        var payloadBytes: UInt64 = 0
        var indexRows: UInt64 = 0
    }

    /// Archives this rank's chunks together with the other ranks' and makes them durable.
    ///
    /// Collective over the writer's communicator: every rank calls it once per round with its own
    /// list (possibly empty). Steps: the ranks exchange (chronicle, story, row counts) with
    /// `allgatherv` and agree on the round's stories in byte order of their names; stories new to
    /// the file get their groups and datasets (collective creates); each touched story's
    /// `events`, `payload` and `index` are extended by the total of all ranks' rows (collective);
    /// each rank writes its rows at its offsets (independent transfers) — event offsets rewritten
    /// to story-global positions — plus one index row per chunk; rank 0 appends the `/rounds`
    /// manifest row; the ranks agree that every write succeeded; then `H5Fflush` (collective), and
    /// they agree that it succeeded; then the commit (rank 0 writes the commit record, a second
    /// `H5Fflush`), agreed too. Before the structure changes, rank 0 reserves room past the
    /// file's end for everything the round can add (``HDF5File/reserveSpace(bytes:)``), agreed.
    /// When it returns, every chunk passed in on any rank is durable. When no rank passes a chunk,
    /// nothing is written (the report's `round` is `nil`).
    /// - Throws: `ArchiveError.invalidChunk` on every rank when any rank's input is refused (the
    ///   writer stays usable); `.writeFailed` on every rank when the room cannot be reserved
    ///   (`No space left on device`, naming the file) or any rank's write or flush failed (the
    ///   writer is then unusable); `.writerUnusable` after `close()` or such a failure.
    public func writeRound(_ chunks: [ArchiveChunk]) throws(ArchiveError) -> ArchiveRoundReport {
        if let unusableReason { throw .writerUnusable(reason: unusableReason) }
        let started = MPIRuntime.wtime()
        // 1–2. Local checks and row cuts (no file change yet), then every rank's plan.
        let local = Self.localPlan(of: chunks, maxRowBytes: maxRowBytes)
        let shares = try exchangePlans(local, chunks)
        if shares.isEmpty {
            return ArchiveRoundReport(round: nil, chunks: 0, events: 0, payloadBytes: 0, bytesWritten: 0, totalEvents: 0,
                                      totalBytesWritten: 0, storiesCreated: 0,
                                      elapsedSeconds: MPIRuntime.wtime() - started, flushSeconds: 0)
        }
        let order = shares.keys.sorted()
        let round = UInt64(roundCount)

        // 3. Room for everything the round can add, reserved past the file's end before anything
        //    changes (agreed): a full file system fails the round here, and the file keeps its
        //    last flushed state.
        try agree(reserveRoom(for: order, shares: shares))

        // 4–5. Collective structure changes, then this rank's rows; a failure of either is agreed
        //      with the other ranks' outcome below, so that none waits in a later collective.
        var layout = RoundLayout()
        var mineWritten = RowsWritten()
        var localFailure: String?
        do {
            layout = try extendStories(order, shares: shares)
        } catch {
            localFailure = "\(ArchiveError.wrap(error))"
        }
        if localFailure == nil {
            do {
                mineWritten = try writeRows(order, local: local, chunks, into: layout, round: round)
            } catch {
                localFailure = "\(error)"
            }
        }

        // 6. Agree, then flush, and agree that the flush succeeded everywhere; then the commit.
        try agree(localFailure.map { $0 + spaceNote() })
        let flushStart = MPIRuntime.wtime()
        try makeDurable(round, adding: layout.totals)
        let end = MPIRuntime.wtime()
        let totals = layout.totals
        let totalBytes = Int(totals.eventRows) * EventRecord.byteSize + Int(totals.payloadBytes)
            + Int(totals.indexRows) * ArchiveIndexRow.columnCount * 8
        return ArchiveRoundReport(
            round: round, chunks: chunks.count, events: mineWritten.events, payloadBytes: mineWritten.payloadBytes,
            bytesWritten: mineWritten.bytes, totalEvents: Int(totals.eventRows), totalBytesWritten: totalBytes,
            storiesCreated: layout.created, elapsedSeconds: end - started, flushSeconds: end - flushStart)
    }

    /// This rank's part of a round, before any rank changes the file: its chunks by story, each
    /// chunk's index-row cuts, or why a chunk is refused.
    private struct LocalPlan {
        var mine: [StoryKey: [Int]] = [:]
        var rowsOf: [[ArchiveRowCut]] = []
        var refusal: String?
    }

    /// Where this rank writes each story's rows in a round, and the round's totals.
    private struct RoundLayout {
        var targets: [StoryKey: (files: StoryFiles, events: Int, payload: Int, index: Int)] = [:]
        var totals = Share()
        var created = 0
    }

    /// What this rank wrote in a round.
    private struct RowsWritten {
        var bytes = 0
        var events = 0
        var payloadBytes = 0
    }

    /// Step 1: checks `chunks`, groups them by story and cuts their index rows (no file change).
    private static func localPlan(of chunks: [ArchiveChunk], maxRowBytes: Int) -> LocalPlan {
        var plan = LocalPlan()
        plan.rowsOf.reserveCapacity(chunks.count)
        for (i, c) in chunks.enumerated() {
            if let problem = refusal(of: c) {
                plan.refusal = "chunk \(i): \(problem)"
                break
            }
            plan.mine[StoryKey(chronicle: c.chronicle, story: c.story), default: []].append(i)
            plan.rowsOf.append(ArchiveRowCut.cuts(of: c.chunk, maxBytes: maxRowBytes))
        }
        return plan
    }

    /// Step 2: every rank's (chronicle, story, row counts), by `allgatherv`: each story's shares
    /// by rank. - Throws: `.invalidChunk` naming the rank when any rank refused its input.
    private func exchangePlans(_ local: LocalPlan, _ chunks: [ArchiveChunk]) throws(ArchiveError) -> [StoryKey: [Share]] {
        var plan = PlanWriter()
        if let refusal = local.refusal {
            plan.u8(1)
            plan.blob(Array(refusal.utf8))
        } else {
            plan.u8(0)
            plan.u32(UInt32(local.mine.count))
            for (key, positions) in local.mine {
                plan.blob(key.chronicle)
                plan.blob(key.story)
                var share = Share()
                for p in positions {
                    share.eventRows += UInt64(chunks[p].chunk.count)
                    share.payloadBytes += UInt64(chunks[p].chunk.payload.count)
                    share.indexRows += UInt64(local.rowsOf[p].count)
                }
                plan.u64(share.eventRows)
                plan.u64(share.payloadBytes)
                plan.u64(share.indexRows)
            }
        }
        let pieces = try archiveCall { try communicator.allgatherv(plan.bytes) }
        var shares: [StoryKey: [Share]] = [:]
        for (r, piece) in pieces.enumerated() {
            var reader = PlanReader(piece)
            guard let status = reader.u8() else { throw fail(.writeFailed(rank: r, detail: "empty round plan")) }
            if status != 0 {
                let text = reader.blob().map { String(decoding: $0, as: UTF8.self) } ?? "unreadable reason"
                throw ArchiveError.invalidChunk(rank: r, detail: text)
            }
            guard let n = reader.u32() else { throw fail(.writeFailed(rank: r, detail: "truncated round plan")) }
            for _ in 0..<n {
                guard let c = reader.blob(), let s = reader.blob(), let e = reader.u64(), let p = reader.u64(),
                      let x = reader.u64() else {
                    throw fail(.writeFailed(rank: r, detail: "truncated round plan"))
                }
                let key = StoryKey(chronicleBytes: c, storyBytes: s)
                shares[key, default: [Share](repeating: Share(), count: communicator.size)][r] =
                    Share(eventRows: e, payloadBytes: p, indexRows: x)
            }
        }
        return shares
    }

    /// Step 4 (collective): creates the stories new to the file and extends each story's datasets
    /// by all ranks' rows, then the `/rounds` manifest by one; returns where this rank's rows go
    /// (after the lower ranks') and the round's totals.
    private func extendStories(_ order: [StoryKey], shares: [StoryKey: [Share]]) throws -> RoundLayout {
        var layout = RoundLayout()
        for key in order {
            let (files, isNew) = try storyFiles(for: key)
            if isNew { layout.created += 1 }
            let perRank = shares[key]!
            var before = Share()
            for r in 0..<communicator.rank {
                before.eventRows += perRank[r].eventRows
                before.payloadBytes += perRank[r].payloadBytes
                before.indexRows += perRank[r].indexRows
            }
            let sum = perRank.reduce(into: Share()) {
                $0.eventRows += $1.eventRows
                $0.payloadBytes += $1.payloadBytes
                $0.indexRows += $1.indexRows
            }
            layout.totals.eventRows += sum.eventRows
            layout.totals.payloadBytes += sum.payloadBytes
            layout.totals.indexRows += sum.indexRows
            layout.targets[key] = (files, files.eventRows + Int(before.eventRows), files.payloadBytes + Int(before.payloadBytes),
                                   files.indexRows + Int(before.indexRows))
            if sum.eventRows > 0 { try files.events.extend(to: files.eventRows + Int(sum.eventRows)) }
            if sum.payloadBytes > 0 { try files.payload.extend(to: files.payloadBytes + Int(sum.payloadBytes)) }
            try files.index.extend(to: files.indexRows + Int(sum.indexRows))
            files.eventRows += Int(sum.eventRows)
            files.payloadBytes += Int(sum.payloadBytes)
            files.indexRows += Int(sum.indexRows)
        }
        try rounds.extend(to: roundCount + 1)
        roundCount += 1
        return layout
    }

    /// Step 5 (independent transfers): this rank's event rows (offsets rewritten to story-global
    /// positions), payload and index rows at the places `layout` gives, and on rank 0 the round's
    /// manifest row.
    private func writeRows(_ order: [StoryKey], local: LocalPlan, _ chunks: [ArchiveChunk], into layout: RoundLayout,
                           round: UInt64) throws -> RowsWritten {
        var done = RowsWritten()
        for key in order {
            guard let positions = local.mine[key], let target = layout.targets[key] else { continue }
            var rows: [EventRecord] = []
            rows.reserveCapacity(positions.reduce(0) { $0 + chunks[$1].chunk.count })
            var index: [UInt64] = []
            var eventRow = target.events, payloadAt = target.payload
            for p in positions {
                let chunk = chunks[p].chunk
                let first = rows.count
                let base = UInt64(payloadAt)
                for var r in chunk.records {
                    r.offset &+= base
                    rows.append(r)
                }
                if !chunk.payload.isEmpty {
                    try chunk.payload.withUnsafeBytes { raw in
                        try target.files.payload.write(bytes: raw, at: payloadAt, transfer: .independent)
                    }
                    // The disk starts on it while the next chunks are copied: the flush then waits
                    // for the rest only (a round's flush and commit took about 70 % less).
                    file.startWriteback()
                }
                for cut in local.rowsOf[p] {
                    let bytes = cut.payloadBytes(in: chunk)
                    let payloadHash = chunk.payload.withUnsafeBytes { raw in
                        ArchiveChecksum.hash(UnsafeRawBufferPointer(rebasing: raw[bytes]))
                    }
                    let row = ArchiveIndexRow(
                        range: cut.range, revision: chunk.revision, firstEvent: UInt64(eventRow + cut.positions.lowerBound),
                        eventCount: UInt64(cut.positions.count), payloadStart: base + UInt64(bytes.lowerBound),
                        payloadBytes: UInt64(bytes.count),
                        minTime: cut.positions.isEmpty ? 0 : chunk.records[cut.positions.lowerBound].time,
                        maxTime: cut.positions.isEmpty ? 0 : chunk.records[cut.positions.upperBound - 1].time,
                        round: round,
                        eventsHash: RecordRows.hash(rows, (first + cut.positions.lowerBound)..<(first + cut.positions.upperBound)),
                        payloadHash: payloadHash)
                    index += row.columns
                }
                eventRow += chunk.count
                payloadAt += chunk.payload.count
                done.events += chunk.count
                done.payloadBytes += chunk.payload.count
            }
            if !rows.isEmpty {
                try RecordRows.withStoredBytes(rows) { raw in
                    try target.files.events.write(bytes: raw, at: target.events, transfer: .independent)
                }
            }
            try target.files.index.write(index, at: target.index, transfer: .independent)
            done.bytes += rows.count * EventRecord.byteSize + index.count * 8
        }
        done.bytes += done.payloadBytes
        if communicator.rank == 0 {
            let totals = layout.totals
            let row = ArchiveRoundRow(
                round: round, unixTimeNs: Self.unixTimeNs(), ranks: UInt64(communicator.size), stories: UInt64(order.count),
                indexRows: totals.indexRows, events: totals.eventRows, payloadBytes: totals.payloadBytes)
            try rounds.write(row.columns, at: Int(round), transfer: .independent)
        }
        return done
    }

    /// Step 6 (collective): `H5Fflush`, agreed; then the commit (``commitRound(_:adding:)``: the
    /// commit record and a second flush), agreed; then the file's cached pages above the kept tail
    /// are dropped.
    private func makeDurable(_ round: UInt64, adding totals: Share) throws(ArchiveError) {
        var flushFailure: String?
        do { try file.flush() } catch { flushFailure = "\(error)" + spaceNote() }
        try agree(flushFailure)
        let added = ArchiveCommitTotals(indexRows: totals.indexRows, events: totals.eventRows, payloadBytes: totals.payloadBytes)
        var commitFailure: String?
        do { try commitRound(round, adding: added) } catch { commitFailure = "\(error)" + spaceNote() }
        try agree(commitFailure)
        if let keep = pageCacheBytes { HDF5File.dropCachedPages(path: path, keepingLast: keep) }
    }

    /// Closes the file (`H5Fclose` after closing every group and dataset). Later calls do nothing.
    /// A writer that did not fail first marks the file closed cleanly in its commit record (readers
    /// then treat any unreadable index row as damage, never as a crash tail); after a failed round
    /// the file stays marked "not closed".
    ///
    /// Collective over the writer's communicator; call it also after a failed round.
    /// - Throws: `.hdf5` if closing failed (data of rounds that returned is durable regardless).
    public func close() throws(ArchiveError) {
        let clean = unusableReason == nil
        if unusableReason == nil { unusableReason = "closed" }
        guard file.isOpen else { return }
        var failure: ArchiveError?
        if clean {
            do { try commitClose() } catch { failure = ArchiveError.wrap(error) }
        }
        stories.removeAll()
        chronicleGroups.removeAll()
        try archiveCall { try file.close() }
        // The last round's reservation past the file's end that its writes did not use.
        if communicator.rank == 0, reservedBytes > 0 { HDF5File.releaseReservedSpace(path: path, bytes: reservedBytes) }
        if let failure { throw failure }
    }

    // MARK: Helpers

    /// Makes every rank agree on a step's outcome: when any rank passes a failure, every rank
    /// marks the writer unusable and throws `.writeFailed` naming the first failing rank and its
    /// reason. One cheap collective in the common case; the reasons travel only after a failure.
    ///
    /// Collective over the writer's communicator.
    private func agree(_ failure: String?) throws(ArchiveError) {
        do {
            guard try communicator.allreduce(Int64(failure == nil ? 0 : 1), op: .max) != 0 else { return }
            let failures = try communicator.allgatherv(Array((failure ?? "").utf8))
            let r = failures.firstIndex(where: { !$0.isEmpty }) ?? 0
            throw ArchiveError.writeFailed(rank: r, detail: String(decoding: failures[r], as: UTF8.self))
        } catch {
            throw fail(ArchiveError.wrap(error))
        }
    }

    /// Fixed room reserved for a story new to this writer (its group, datasets, attributes and
    /// chunk indexes), on top of its chunks.
    static let storyOverheadBytes = 64 << 10
    /// Room reserved in every round for metadata HDF5 may rewrite or move (object headers,
    /// chunk B-tree nodes, the superblock), on top of a sixteenth of the round's chunk bytes.
    static let metadataSlackBytes = 1 << 20

    /// Reserves room past the file's end (rank 0, for all: one shared file) for everything this
    /// round can add: parallel HDF5 allocates every chunk a dataset extension reaches (the rows
    /// written into them, and any fill of an older file's datasets, land there), so the round
    /// needs the chunks its extents add, plus room for new stories and metadata.
    /// - Returns: the reason when the room cannot be had (`No space left on device`, how much was
    ///   asked, how much is available), `nil` otherwise and on other ranks.
    private func reserveRoom(for order: [StoryKey], shares: [StoryKey: [Share]]) -> String? {
        guard communicator.rank == 0 else { return nil }
        var bytes = 0
        for key in order {
            let sum = shares[key, default: []].reduce(into: Share()) {
                $0.eventRows += $1.eventRows
                $0.payloadBytes += $1.payloadBytes
                $0.indexRows += $1.indexRows
            }
            let files = stories[key]
            bytes += Self.chunksAdded(files?.eventRows ?? 0, Int(sum.eventRows), per: ArchiveLayout.eventChunkRows)
                * ArchiveLayout.eventChunkRows * ArchiveLayout.eventRowBytes
            bytes += Self.chunksAdded(files?.payloadBytes ?? 0, Int(sum.payloadBytes), per: ArchiveLayout.payloadChunkBytes)
                * ArchiveLayout.payloadChunkBytes
            bytes += Self.chunksAdded(files?.indexRows ?? 0, Int(sum.indexRows), per: ArchiveLayout.indexChunkRows)
                * ArchiveLayout.indexChunkRows * ArchiveIndexRow.columnCount * 8
            if files == nil { bytes += Self.storyOverheadBytes }
        }
        bytes += Self.chunksAdded(roundCount, 1, per: ArchiveLayout.roundsChunkRows)
            * ArchiveLayout.roundsChunkRows * ArchiveRoundRow.columnCount * 8
        bytes += Self.metadataSlackBytes + bytes / 16
        do {
            try file.reserveSpace(bytes: bytes)
            reservedBytes = max(reservedBytes, bytes)
        } catch {
            return "\(error)"
        }
        return nil
    }

    /// After a failed write: how much room the archive's file system has left (the MPI-IO driver
    /// often reports a short write without the system's reason), e.g.
    /// `; 0 B available on the file system of /x/chronolog-archive.h5 (full)`.
    private func spaceNote() -> String {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return "" }
        let available = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        let full = available < UInt64(Self.metadataSlackBytes) ? " (full: no space left on device)" : ""
        return "; \(available) B available on the file system of \(path)\(full)"
    }

    /// HDF5 chunks of `per` rows a dataset of `rows` rows gains when extended by `adding` rows.
    static func chunksAdded(_ rows: Int, _ adding: Int, per: Int) -> Int {
        guard adding > 0 else { return 0 }
        return (rows + adding + per - 1) / per - (rows + per - 1) / per
    }

    /// Marks the writer unusable and returns the error to throw.
    private func fail(_ error: ArchiveError) -> ArchiveError {
        unusableReason = "an earlier round failed: \(error)"
        return error
    }

    /// Why a chunk cannot be archived, or `nil`.
    static func refusal(of c: ArchiveChunk) -> String? {
        let chronicle: ChronicleName, story: StoryName
        do {
            chronicle = try ChronicleName(c.chronicle)
            story = try StoryName(c.story)
        } catch {
            return "\(error)"
        }
        let id = StoryID(chronicle: chronicle, story: story)
        if c.chunk.storyId != id {
            return "story id \(c.chunk.storyId) is not the id \(id) of '\(c.chronicle)'/'\(c.story)'"
        }
        if c.chunk.range.isEmpty { return "empty range \(c.chunk.range)" }
        return nil
    }

    /// The open datasets of a story, opening or creating them (collectively: every rank calls
    /// this for the same keys in the same order).
    private func storyFiles(for key: StoryKey) throws -> (StoryFiles, Bool) {
        if let files = stories[key] { return (files, false) }
        // Names were validated by every contributing rank.
        let chronicle = try ChronicleName(key.chronicleName)
        let story = try StoryName(key.storyName)
        let chronicleGroup: HDF5Group
        if let g = chronicleGroups[key.chronicle] {
            chronicleGroup = g
        } else if try chronicles.exists(chronicle.pathComponent) {
            chronicleGroup = try chronicles.openGroup(chronicle.pathComponent)
            let existing = try chronicleGroup.attributes.string(ArchiveLayout.nameAttribute)
            guard Array(existing.utf8) == key.chronicle else {
                throw ArchiveError.pathCollision(path: chronicleGroup.path, existing: existing, new: key.chronicleName)
            }
            chronicleGroups[key.chronicle] = chronicleGroup
        } else {
            chronicleGroup = try chronicles.createGroup(chronicle.pathComponent)
            try chronicleGroup.attributes.set(ArchiveLayout.nameAttribute, .string(chronicle.value))
            try chronicleGroup.attributes.set(ArchiveLayout.chronicleIdAttribute, .uint64(chronicle.id.rawValue))
            chronicleGroups[key.chronicle] = chronicleGroup
        }
        let component = story.pathComponent(in: chronicle)
        let files: StoryFiles
        var isNew = false
        if try chronicleGroup.exists(component) {
            let group = try chronicleGroup.openGroup(component)
            let c = try group.attributes.string(ArchiveLayout.chronicleAttribute)
            let s = try group.attributes.string(ArchiveLayout.storyAttribute)
            guard Array(c.utf8) == key.chronicle, Array(s.utf8) == key.story else {
                throw ArchiveError.pathCollision(path: group.path, existing: "\(c)/\(s)",
                                                 new: "\(key.chronicleName)/\(key.storyName)")
            }
            files = try StoryFiles(group: group, events: group.openDataset(ArchiveLayout.eventsDataset),
                                   payload: group.openDataset(ArchiveLayout.payloadDataset),
                                   index: group.openDataset(ArchiveLayout.indexDataset))
            guard files.events.elementType == .uint8, files.events.columns == ArchiveLayout.eventRowBytes,
                  files.payload.elementType == .uint8, files.payload.columns == nil,
                  files.index.elementType == .uint64, files.index.columns == ArchiveIndexRow.columnCount else {
                throw ArchiveError.incompatibleLayout(path: path, detail: "datasets of \(group.path) have the wrong shape")
            }
        } else {
            let group = try chronicleGroup.createGroup(component)
            try group.attributes.set(ArchiveLayout.chronicleAttribute, .string(chronicle.value))
            try group.attributes.set(ArchiveLayout.storyAttribute, .string(story.value))
            try group.attributes.set(ArchiveLayout.storyIdAttribute,
                                     .uint64(StoryID(chronicle: chronicle, story: story).rawValue))
            let events = try group.createDataset(ArchiveLayout.eventsDataset, of: UInt8.self,
                                                 columns: ArchiveLayout.eventRowBytes,
                                                 chunkRows: ArchiveLayout.eventChunkRows, fillsNewChunks: false)
            let payload = try group.createDataset(ArchiveLayout.payloadDataset, of: UInt8.self,
                                                  chunkRows: ArchiveLayout.payloadChunkBytes, fillsNewChunks: false)
            let index = try group.createDataset(ArchiveLayout.indexDataset, of: UInt64.self,
                                                columns: ArchiveIndexRow.columnCount,
                                                chunkRows: ArchiveLayout.indexChunkRows, fillsNewChunks: false)
            try index.attributes.set(ArchiveLayout.columnsAttribute,
                                     .string(ArchiveLayout.indexColumns.joined(separator: ",")))
            files = try StoryFiles(group: group, events: events, payload: payload, index: index)
            isNew = true
        }
        stories[key] = files
        return (files, isNew)
    }

    /// Creates `path` and its missing parents; whether it is a directory afterwards.
    static func makeDirectories(_ path: String) -> Bool {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            _ = mkdir(prefix, 0o755)
        }
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Wall-clock time (CLOCK_REALTIME) in nanoseconds, for the manifest.
    static func unixTimeNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
