import HDF5

/// Index rows, events and payload bytes of committed rounds (what `/commit` counts).
struct ArchiveCommitTotals: Sendable, Hashable {
    var indexRows: UInt64 = 0
    var events: UInt64 = 0
    var payloadBytes: UInt64 = 0
}

/// The writer's handle on `/commit` and the row it wrote last.
final class ArchiveCommitLog {
    let dataset: HDF5Dataset
    var last: ArchiveCommitRow

    init(dataset: HDF5Dataset, last: ArchiveCommitRow) {
        self.dataset = dataset
        self.last = last
    }
}

/// The commit record (`/commit`, see `ArchiveCommitRow`) and the repair of a reopened file. A round
/// is committed after its data flush: rank 0 writes the next slot, then a second flush; only then
/// does `writeRound` return. So a row of a round that returned is never read as a crash tail, and a
/// clean `close()` marks the file closed.
extension ArchiveWriter {
    /// Writes the first row of this writer's session, committing everything the file holds
    /// (`totals`, after `repairAfterCrash`), creating `/commit` in a new or older file; then flushes.
    /// It goes to slot `sequence % 2`; the next commit (a round's, or the close) writes the other
    /// slot, so a slot left damaged or unwritten does not outlive a session that closes.
    ///
    /// Collective over the writer's communicator (create and flush); rank 0 writes.
    func startCommitLog(root: HDF5Group, after previous: ArchiveCommitRecord?, totals: ArchiveCommitTotals) throws {
        let dataset: HDF5Dataset
        if try root.exists(ArchiveLayout.commitDataset) {
            dataset = try root.openDataset(ArchiveLayout.commitDataset)
            guard dataset.elementType == .uint64, dataset.columns == ArchiveCommitRow.columnCount,
                  try dataset.extent == ArchiveCommitRow.slots else {
                throw ArchiveError.incompatibleLayout(path: path, detail: "/commit has the wrong shape")
            }
        } else {
            dataset = try root.createDataset(ArchiveLayout.commitDataset, of: UInt64.self, columns: ArchiveCommitRow.columnCount,
                                             chunkRows: ArchiveCommitRow.slots, rows: ArchiveCommitRow.slots)
            try dataset.attributes.set(ArchiveLayout.columnsAttribute,
                                       .string(ArchiveLayout.commitColumns.joined(separator: ",")))
        }
        let row = ArchiveCommitRow(sequence: (previous?.row?.sequence ?? 0) + 1, rounds: UInt64(roundCount),
                                   state: ArchiveCommitRow.open, unixTimeNs: Self.unixTimeNs(), indexRows: totals.indexRows,
                                   events: totals.events, payloadBytes: totals.payloadBytes)
        if communicator.rank == 0 {
            try dataset.write(row.columns, at: Int(row.sequence % UInt64(ArchiveCommitRow.slots)), transfer: .independent)
        }
        try file.flush()
        commitLog = ArchiveCommitLog(dataset: dataset, last: row)
    }

    /// Commits `round` (whose data was just flushed): rank 0 writes the next slot, then every rank
    /// flushes. Collective.
    func commitRound(_ round: UInt64, adding added: ArchiveCommitTotals) throws {
        try writeCommit { row in
            row.rounds = round + 1
            row.indexRows += added.indexRows
            row.events += added.events
            row.payloadBytes += added.payloadBytes
        }
    }

    /// Marks the file closed cleanly (every round committed). Collective.
    func commitClose() throws {
        try writeCommit { row in
            row.rounds = UInt64(roundCount)
            row.state = ArchiveCommitRow.closed
        }
    }

    /// Writes the next commit row (`change` applied to the last one) into the other slot, then flushes.
    private func writeCommit(_ change: (inout ArchiveCommitRow) -> Void) throws {
        guard let log = commitLog else { return }
        var row = log.last
        row.sequence += 1
        row.unixTimeNs = Self.unixTimeNs()
        change(&row)
        if communicator.rank == 0 {
            try log.dataset.write(row.columns, at: Int(row.sequence % UInt64(ArchiveCommitRow.slots)), transfer: .independent)
        }
        try file.flush()
        log.last = row
    }

    /// Non-void valid index rows of one round: counts, and the stories (index paths) holding them.
    typealias RoundTally = (rows: UInt64, events: UInt64, bytes: UInt64, stories: Set<String>)

    /// Makes a reopened file consistent again after a job was killed between flushes, without hiding
    /// damage: index rows that are a crash tail (by the file's commit record, see
    /// `ArchiveIndexRow.classify(_:rule:)`) are overwritten with void rows, and `/rounds` rows of
    /// rounds that were not committed are rewritten to agree with their valid index rows (a missing
    /// one is added). Rows judged damage, and manifest rows of committed rounds, are left as they
    /// are, so `verify` keeps reporting them. Then a flush if anything changed.
    ///
    /// Collective: every rank reads the same rows and takes the same decisions; rank 0 writes.
    /// - Returns: the totals of every round the file now holds, for the new commit row.
    func repairAfterCrash(_ record: ArchiveCommitRecord) throws -> ArchiveCommitTotals {
        let rule = ArchiveCommitRule(record.row, roundsInFile: roundCount)
        let committed: UInt64 = switch rule {
        case .closed: UInt64(roundCount)
        case .open(let c): c
        case .legacy: UInt64(max(roundCount - 1, 0))
        }
        let indexes = try readAllIndexes()
        var perRound: [UInt64: RoundTally] = [:]
        for (index, decoded) in indexes {
            for row in decoded.compactMap({ $0 }) where !row.isVoid {
                var t = perRound[row.round] ?? (0, 0, 0, [])
                t.rows += 1
                t.events += row.eventCount
                t.bytes += row.payloadBytes
                t.stories.insert(index.path)
                perRound[row.round] = t
            }
        }
        let foundCommitted = perRound.filter { $0.key < committed }.reduce(UInt64(0)) { $0 + $1.value.rows }
        let committedMissing = record.row.map { foundCommitted < $0.indexRows && rule != .closed } ?? false
        let voided = try voidCrashTails(indexes, rule: rule, keepCandidates: committedMissing)
        let (totals, rewritten) = try repairManifest(perRound, committed: committed)
        if voided || rewritten { try file.flush() }
        return totals
    }

    /// Overwrites the crash-tail rows of every story with void rows (rank 0); tail candidates stay
    /// when committed rows are missing (they may be the damaged ones). Closes the index datasets.
    /// - Returns: whether a row was voided.
    private func voidCrashTails(_ indexes: [(HDF5Dataset, [ArchiveIndexRow?])], rule: ArchiveCommitRule,
                                keepCandidates: Bool) throws -> Bool {
        let void = ArchiveIndexRow.void(round: UInt64(max(roundCount - 1, 0))).columns
        var changed = false
        for (index, decoded) in indexes {
            let (_, _, damaged, candidates) = ArchiveIndexRow.classify(decoded, rule: rule)
            let keep = Set(damaged + (keepCandidates ? candidates : []))
            for i in decoded.indices where decoded[i] == nil && !keep.contains(i) {
                changed = true
                if communicator.rank == 0 { try index.write(void, at: i, transfer: .independent) }
            }
            try index.close()
        }
        return changed
    }

    /// Adds manifest rows for rounds whose index rows have none, and rewrites (rank 0) the rows of
    /// rounds not committed that disagree with their valid index rows.
    /// - Returns: the totals over all rounds (a committed round's from its manifest row when that is
    ///   valid) and whether anything changed.
    private func repairManifest(_ perRound: [UInt64: RoundTally], committed: UInt64) throws -> (ArchiveCommitTotals, Bool) {
        var changed = false
        if let last = perRound.keys.max(), last >= UInt64(roundCount) {
            try rounds.extend(to: Int(last) + 1)
            roundCount = Int(last) + 1
            changed = true
        }
        let raw = try rounds.readAll(UInt64.self)
        let width = ArchiveRoundRow.columnCount
        var totals = ArchiveCommitTotals()
        for i in 0..<(raw.count / width) {
            let old = ArchiveRoundRow(columns: raw[(i * width)..<((i + 1) * width)])
            let found = perRound[UInt64(i)] ?? (0, 0, 0, [])
            let isCommitted = UInt64(i) < committed
            if isCommitted, let old {
                totals.indexRows += old.indexRows
                totals.events += old.events
                totals.payloadBytes += old.payloadBytes
                continue
            }
            totals.indexRows += found.rows
            totals.events += found.events
            totals.payloadBytes += found.bytes
            // A damaged manifest row of a committed round stays; a matching one needs nothing.
            if isCommitted { continue }
            if let old, old.indexRows == found.rows, old.events == found.events, old.payloadBytes == found.bytes { continue }
            changed = true
            if communicator.rank == 0 {
                let fixed = ArchiveRoundRow(round: UInt64(i), unixTimeNs: old?.unixTimeNs ?? 0, ranks: old?.ranks ?? 0,
                                            stories: UInt64(found.stories.count), indexRows: found.rows,
                                            events: found.events, payloadBytes: found.bytes)
                try rounds.write(fixed.columns, at: i, transfer: .independent)
            }
        }
        return (totals, changed)
    }

    /// Every story's index dataset with its decoded rows (`nil` = checksum mismatch).
    private func readAllIndexes() throws -> [(HDF5Dataset, [ArchiveIndexRow?])] {
        var out: [(HDF5Dataset, [ArchiveIndexRow?])] = []
        for component in try chronicles.memberNames() {
            let chronicle = try chronicles.openGroup(component)
            for storyComponent in try chronicle.memberNames() {
                let index = try chronicle.openDataset("\(storyComponent)/\(ArchiveLayout.indexDataset)")
                guard index.elementType == .uint64, index.columns == ArchiveIndexRow.columnCount else {
                    throw ArchiveError.incompatibleLayout(path: path, detail: "\(index.path) has the wrong shape")
                }
                let raw = try index.readAll(UInt64.self)
                let width = ArchiveIndexRow.columnCount
                out.append((index, (0..<(raw.count / width)).map { ArchiveIndexRow(columns: raw[($0 * width)..<(($0 + 1) * width)]) }))
            }
            try chronicle.close()
        }
        return out
    }
}
