import ChronoRuntime
import ChronoModel
import Foundation
import MPI

/// The end-of-job summary: every rank's counters, summed per role, printed by rank 0.
struct JobSummary {
    /// Counter sums by role.
    var byRole: [Role: [String: UInt64]] = [:]
    /// Ranks per role.
    var ranks: [Role: Int] = [:]

    /// Gathers every rank's counters at `root`. Collective over `world`.
    /// - Returns: the summary on `root`, `nil` elsewhere.
    static func gather(counters: [String: UInt64], role: Role, over world: Communicator, root: Int) throws -> JobSummary? {
        var text = role.rawValue
        for (k, v) in counters.sorted(by: { $0.key < $1.key }) { text += "\t\(k)=\(v)" }
        guard let pieces = try world.gather(Array(text.utf8), root: root) else { return nil }
        var summary = JobSummary()
        for piece in pieces {
            let fields = String(decoding: piece, as: UTF8.self).split(separator: "\t").map(String.init)
            guard let first = fields.first, let r = Role(rawValue: first) else { continue }
            summary.ranks[r, default: 0] += 1
            for f in fields.dropFirst() {
                let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, let v = UInt64(kv[1]) else { continue }
                // Keys ending in ".max" are maxima; every other counter is a sum.
                if kv[0].hasSuffix(".max") {
                    summary.byRole[r, default: [:]][kv[0]] = max(summary.byRole[r]?[kv[0]] ?? 0, v)
                } else {
                    summary.byRole[r, default: [:]][kv[0], default: 0] += v
                }
            }
        }
        return summary
    }

    private func sum(_ role: Role, _ key: String) -> UInt64 { byRole[role]?[key] ?? 0 }

    /// Events logged by clients and accepted nowhere: not archived and not reported rejected or
    /// refused (refused as not authorized by a keeper: counted by the client that logged them;
    /// forged events were logged by no client and show only in the keepers' `refused`).
    /// Must be 0; anything else fails the job.
    var lostEvents: UInt64 {
        let logged = sum(.client, "events.logged")
        let accounted = sum(.grapher, "events.archived") + sum(.client, "events.rejected") + sum(.keeper, "events.rejected")
            + sum(.keeper, "events.rejected.notRecorded") + sum(.client, "events.refused.unauthorized")
        return logged > accounted ? logged - accounted : 0
    }

    /// The `events:` line's figures, each summed over the roles that count it.
    var eventTotals: EventTotals {
        EventTotals(
            logged: sum(.client, "events.logged"), received: sum(.keeper, "events.received"),
            archived: sum(.grapher, "events.archived"), late: sum(.keeper, "events.late") + sum(.grapher, "events.late"),
            rejected: sum(.client, "events.rejected") + sum(.keeper, "events.rejected") + sum(.keeper, "events.rejected.notRecorded"),
            refused: sum(.keeper, "events.refused.forged") + sum(.keeper, "events.refused.unauthorized"),
            lost: lostEvents)
    }

    /// The summary text. Its `events:` line is always there (all zero when nothing was logged,
    /// and also when every event was rejected); its last line is the job's own exit status, which
    /// after `signal` (SIGTERM/SIGINT) says that mpirun's own status is not the job's.
    func rendered(exitStatus: Int32, signal: Int32? = nil) -> String {
        var lines = ["chronolog-job summary:"]
        let e = eventTotals
        lines.append("  events: logged=\(e.logged) received=\(e.received) archived=\(e.archived) late=\(e.late) "
            + "rejected=\(e.rejected) refused=\(e.refused) lost=\(e.lost)")
        for role in Role.allCases {
            guard let n = ranks[role] else { continue }
            let c = byRole[role] ?? [:]
            let body = c.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            lines.append("  \(role.rawValue) (\(n) rank\(n == 1 ? "" : "s")): \(body.isEmpty ? "-" : body)")
        }
        var status = "  exit status: \(exitStatus)"
        if let signal {
            status += " (the job's own, after signal \(signal); an mpirun that was itself signalled exits 1 regardless)"
        }
        lines.append(status)
        return lines.joined(separator: "\n")
    }
}

/// The figures of the summary's `events:` line.
struct EventTotals: Codable, Equatable {
    var logged: UInt64
    var received: UInt64
    var archived: UInt64
    var late: UInt64
    var rejected: UInt64
    var refused: UInt64
    var lost: UInt64
}

/// The summary as `chronolog-job --summary-json` writes it: the same figures as the text.
struct JobSummaryDocument: Codable, Equatable {
    /// One role's line: its rank count and its counters (sums; `.max` keys are maxima).
    struct RoleCounters: Codable, Equatable {
        var ranks: Int
        var counters: [String: UInt64]
    }

    /// The `events:` line.
    var events: EventTotals
    /// The role lines, by role name (`visor`, `keeper`, `grapher`, `player`, `client`).
    var roles: [String: RoleCounters]
    /// The job's own exit status.
    var exitStatus: Int32
    /// The signal (SIGTERM/SIGINT) that stopped the job, when one did.
    var signal: Int32?
}

extension JobSummary {
    /// The summary as one JSON document (``JobSummaryDocument``), pretty-printed, keys sorted.
    func json(exitStatus: Int32, signal: Int32? = nil) throws -> Data {
        var roles: [String: JobSummaryDocument.RoleCounters] = [:]
        for (role, n) in ranks { roles[role.rawValue] = .init(ranks: n, counters: byRole[role] ?? [:]) }
        let document = JobSummaryDocument(events: eventTotals, roles: roles, exitStatus: exitStatus, signal: signal)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(document)
    }

    /// Writes ``json(exitStatus:signal:)`` to `path` (replaced atomically).
    /// - Throws: when the file cannot be written.
    func writeJSON(to path: String, exitStatus: Int32, signal: Int32? = nil) throws {
        var data = try json(exitStatus: exitStatus, signal: signal)
        data.append(0x0A)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
