import HDF5

/// One row of `/commit`, the archive's commit record: written by rank 0 after a round's flush (and
/// flushed again) and at a clean close, two slots used in turn (`sequence % 2`), so a crash while
/// writing one leaves the other intact. The newest valid slot says how many rounds are committed
/// (their rows were reported durable), their index rows in total, and whether the file was closed
/// cleanly. Files written before this record existed have no `/commit` dataset ("legacy").
struct ArchiveCommitRow: Sendable, Hashable {
    /// Counts the writes of this record over the file's life; the newest valid slot wins.
    var sequence: UInt64
    /// Rounds committed: rows 0 ..< rounds of `/rounds` and every index row of those rounds are durable.
    var rounds: UInt64
    /// ``ArchiveCommitRow/open`` or ``ArchiveCommitRow/closed``.
    var state: UInt64
    /// Wall-clock time of the write (ns since 1970).
    var unixTimeNs: UInt64
    /// Non-void index rows of the committed rounds, over all stories.
    var indexRows: UInt64
    /// Event records of the committed rounds.
    var events: UInt64
    /// Payload bytes of the committed rounds.
    var payloadBytes: UInt64

    /// `state` of a file being written (or whose writer was killed).
    static let open: UInt64 = 1
    /// `state` of a file its writer closed cleanly.
    static let closed: UInt64 = 2
    /// Columns of a stored row (the last one is `row_hash`).
    static let columnCount = 8
    /// Rows (slots) of `/commit`.
    static let slots = 2

    /// The eight stored columns, `row_hash` last.
    var columns: [UInt64] {
        let data = [sequence, rounds, state, unixTimeNs, indexRows, events, payloadBytes]
        return data + [ArchiveChecksum.hash(words: data)]
    }

    init(sequence: UInt64, rounds: UInt64, state: UInt64, unixTimeNs: UInt64, indexRows: UInt64, events: UInt64,
         payloadBytes: UInt64) {
        self.sequence = sequence
        self.rounds = rounds
        self.state = state
        self.unixTimeNs = unixTimeNs
        self.indexRows = indexRows
        self.events = events
        self.payloadBytes = payloadBytes
    }

    /// Decodes a stored slot; `nil` when its hash does not match or `state` is unknown.
    init?(columns c: ArraySlice<UInt64>) {
        guard c.count == Self.columnCount else { return nil }
        let d = Array(c.prefix(7))
        guard ArchiveChecksum.hash(words: d) == c[c.startIndex + 7], d[2] == Self.open || d[2] == Self.closed else { return nil }
        self.init(sequence: d[0], rounds: d[1], state: d[2], unixTimeNs: d[3], indexRows: d[4], events: d[5], payloadBytes: d[6])
    }

    /// The newest valid slot of a stored `/commit` (row-major u64 values), and whether a slot that
    /// was written (not all zero) failed its check.
    static func newest(of raw: [UInt64]) -> (row: ArchiveCommitRow?, damagedSlot: Bool) {
        var best: ArchiveCommitRow?
        var damaged = false
        for i in 0..<(raw.count / columnCount) {
            let slot = raw[(i * columnCount)..<((i + 1) * columnCount)]
            if let row = ArchiveCommitRow(columns: slot) {
                if best.map({ row.sequence > $0.sequence }) ?? true { best = row }
            } else if slot.contains(where: { $0 != 0 }) {
                damaged = true
            }
        }
        return (best, damaged)
    }
}

/// The file's commit record as read by a reader.
struct ArchiveCommitRecord {
    /// The newest valid slot; `nil` without a record or with no valid slot.
    let row: ArchiveCommitRow?
    /// Whether the file has a `/commit` dataset.
    let present: Bool
    /// A problem with the record itself (wrong shape, a damaged slot after a clean close).
    let problem: String?

    /// Reads `/commit` of `root`.
    static func read(_ root: HDF5Group) throws -> ArchiveCommitRecord {
        guard try root.exists(ArchiveLayout.commitDataset) else { return ArchiveCommitRecord(row: nil, present: false, problem: nil) }
        let set = try root.openDataset(ArchiveLayout.commitDataset)
        defer { try? set.close() }
        guard set.elementType == .uint64, set.columns == ArchiveCommitRow.columnCount else {
            return ArchiveCommitRecord(row: nil, present: true, problem: "/commit has the wrong type or shape")
        }
        let (row, damaged) = ArchiveCommitRow.newest(of: try set.readAll(UInt64.self))
        if row == nil {
            return ArchiveCommitRecord(row: nil, present: true, problem: "/commit holds no valid row")
        }
        // A slot torn by a crash while it was written is expected; after a clean close it is damage.
        let problem = damaged && row?.state == ArchiveCommitRow.closed ? "/commit: a slot fails its checksum" : nil
        return ArchiveCommitRecord(row: row, present: true, problem: problem)
    }

    /// What the record says about the file, which has `rounds` rows of `/rounds`.
    func state(rounds: Int) -> ArchiveFileState {
        guard let row else { return .legacy(rounds: rounds) }
        if row.state == ArchiveCommitRow.closed { return .closedCleanly(rounds: rounds) }
        return .notClosed(committedRounds: Int(clamping: row.rounds), rounds: rounds)
    }
}
