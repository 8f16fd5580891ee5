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

/// What a file's commit record says about its end: closed cleanly, not closed (a writer was killed,
/// or is still writing), or no record (written before commit records existed).
public enum ArchiveFileState: Sendable, Hashable, CustomStringConvertible {
    /// The writer closed the file: every round is committed; any index row failing its check is damage.
    case closedCleanly(rounds: Int)
    /// The file was not closed: rounds `0 ..< committedRounds` are committed (reported durable); rows
    /// of later rounds that fail their check are a crash tail, never acknowledged.
    case notClosed(committedRounds: Int, rounds: Int)
    /// No commit record (written by an older version): an unreadable row in the file's last round
    /// cannot be told from a crash tail.
    case legacy(rounds: Int)

    /// One line for `verify`.
    public var description: String {
        switch self {
        case .closedCleanly(let rounds):
            "closed cleanly after \(rounds) round\(rounds == 1 ? "" : "s")"
        case .notClosed(let committed, let rounds):
            "not closed (writer killed or still writing): \(committed) of \(rounds) round\(rounds == 1 ? "" : "s") committed"
        case .legacy(let rounds):
            "no commit record (written before commit records; \(rounds) round\(rounds == 1 ? "" : "s")): "
                + "a damaged row of the last round cannot be told from a crash tail"
        }
    }
}

/// How invalid index rows of a file are judged, from its commit record.
enum ArchiveCommitRule: Sendable, Hashable {
    /// No record: invalid rows among the file's last round are a crash tail (`lastRound`: rows of `/rounds` − 1).
    case legacy(lastRound: Int)
    /// Closed cleanly: every invalid row is damage.
    case closed
    /// Not closed, `committedRounds` committed: an invalid row followed by a valid row of a committed
    /// round is damage; one followed only by rows of later rounds (or by nothing) is a crash tail
    /// unless rows of committed rounds are missing (then it may be either, and is reported as damage).
    case open(committedRounds: UInt64)

    /// The rule for a file's commit record (`nil`: legacy).
    init(_ row: ArchiveCommitRow?, roundsInFile: Int) {
        switch row?.state {
        case nil: self = .legacy(lastRound: roundsInFile - 1)
        case ArchiveCommitRow.closed?: self = .closed
        default: self = .open(committedRounds: row!.rounds)
        }
    }
}

extension ArchiveIndexRow {
    /// Splits decoded index rows (`nil` = checksum mismatch) by the file's commit rule into the
    /// positions to use, to ignore (void rows; a crash tail), that are damage, and (rule `.open`
    /// only) invalid rows that are a crash tail unless committed rows are missing from the file.
    static func classify(_ rows: [ArchiveIndexRow?], rule: ArchiveCommitRule)
        -> (use: [Int], ignored: Int, damaged: [Int], tailCandidates: [Int]) {
        if case .legacy(let lastRound) = rule {
            let (use, ignored, damaged) = classify(rows, lastRound: lastRound)
            return (use, ignored, damaged, [])
        }
        var use: [Int] = [], damaged: [Int] = [], candidates: [Int] = []
        var ignored = 0
        // For each position: whether a valid row of a committed round follows it.
        var committedAfter = [Bool](repeating: false, count: rows.count + 1)
        for i in stride(from: rows.count - 1, through: 0, by: -1) {
            var committed = false
            if let row = rows[i], !row.isVoid, case .open(let c) = rule { committed = row.round < c }
            committedAfter[i] = committedAfter[i + 1] || committed
        }
        for (i, row) in rows.enumerated() {
            if let row {
                if row.isVoid { ignored += 1 } else { use.append(i) }
            } else if case .open = rule, !committedAfter[i + 1] {
                candidates.append(i)
            } else {
                damaged.append(i)
            }
        }
        return (use, ignored, damaged, candidates)
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
