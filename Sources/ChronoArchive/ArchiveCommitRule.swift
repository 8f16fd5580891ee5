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
