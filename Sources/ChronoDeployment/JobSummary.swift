import ChronoRuntime
import ChronoModel
import Foundation
import MPI

/// What one rank contributes to the end-of-job summary: its role and its counters, each with its
/// aggregation. Travels to the visor as data (JSON), never as text to parse.
package struct RankCounters: Codable, Equatable, Sendable {
    /// The rank's role.
    package var role: Role
    /// The rank's counters.
    package var counters: Counters

    /// A rank's contribution.
    package init(role: Role, counters: Counters) {
        self.role = role
        self.counters = counters
    }
}

/// The end-of-job summary: every rank's counters, combined per role by each counter's
/// aggregation (sums add, maxima keep the largest), printed by the visor.
package struct JobSummary {
    /// Counters by role.
    package private(set) var byRole: [Role: Counters] = [:]
    /// Ranks per role.
    package private(set) var ranks: [Role: Int] = [:]

    /// The summary of these ranks' contributions.
    package init(_ contributions: [RankCounters] = []) {
        for c in contributions {
            ranks[c.role, default: 0] += 1
            byRole[c.role, default: [:]].aggregate(c.counters)
        }
    }

    /// Gathers every rank's counters at `root`, each non-blocking step completed by `wait`
    /// (``Communicator/gather(_:root:completing:)``). Collective over `world`.
    /// - Returns: the summary on `root`, `nil` elsewhere.
    /// - Throws: `MPIError`, or a decoding error when a rank's contribution is not valid (a bug).
    static func gather(counters: Counters, role: Role, over world: Communicator, root: Int,
                       completing wait: (Request) throws -> Void) throws -> JobSummary? {
        let mine = try JSONEncoder().encode(RankCounters(role: role, counters: counters))
        guard let pieces = try world.gather(Array(mine), root: root, completing: wait) else { return nil }
        let decoder = JSONDecoder()
        return JobSummary(try pieces.map { try decoder.decode(RankCounters.self, from: Data($0)) })
    }

    private func sum(_ role: Role, _ counter: Counter) -> UInt64 { byRole[role]?[counter] ?? 0 }

    /// Events logged by clients and accepted nowhere: not archived and not reported rejected or
    /// refused (refused as not authorized by a keeper: counted by the client that logged them;
    /// forged events were logged by no client and show only in the keepers' `refused`).
    /// Must be 0; anything else fails the job.
    package var lostEvents: UInt64 {
        let logged = sum(.client, .eventsLogged)
        let accounted = sum(.grapher, .eventsArchived) + sum(.client, .eventsRejected) + sum(.keeper, .eventsRejected)
            + sum(.keeper, .eventsRejectedNotRecorded) + sum(.client, .eventsRefusedUnauthorized)
        return logged > accounted ? logged - accounted : 0
    }

    /// The `events:` line's figures, each summed over the roles that count it.
    package var eventTotals: EventTotals {
        EventTotals(
            logged: sum(.client, .eventsLogged), received: sum(.keeper, .eventsReceived),
            archived: sum(.grapher, .eventsArchived), late: sum(.keeper, .eventsLate) + sum(.grapher, .eventsLate),
            rejected: sum(.client, .eventsRejected) + sum(.keeper, .eventsRejected) + sum(.keeper, .eventsRejectedNotRecorded),
            refused: sum(.keeper, .eventsRefusedForged) + sum(.keeper, .eventsRefusedUnauthorized),
            lost: lostEvents)
    }

    /// The summary text. Its `events:` line is always there (all zero when nothing was logged,
    /// and also when every event was rejected); its last line is the job's own exit status, which
    /// after `signal` (SIGTERM/SIGINT) says that mpirun's own status is not the job's.
    package func rendered(exitStatus: Int32, signal: Int32? = nil) -> String {
        var lines = ["chronolog-job summary:"]
        let e = eventTotals
        lines.append("  events: logged=\(e.logged) received=\(e.received) archived=\(e.archived) late=\(e.late) "
            + "rejected=\(e.rejected) refused=\(e.refused) lost=\(e.lost)")
        for role in Role.allCases {
            guard let n = ranks[role] else { continue }
            let c = byRole[role] ?? [:]
            let body = c.sorted { $0.key < $1.key }.map { "\($0.key.name)=\($0.value)" }.joined(separator: " ")
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
package struct EventTotals: Codable, Equatable {
    package var logged: UInt64
    package var received: UInt64
    package var archived: UInt64
    package var late: UInt64
    package var rejected: UInt64
    package var refused: UInt64
    package var lost: UInt64

    /// The figures of an `events:` line.
    package init(logged: UInt64, received: UInt64, archived: UInt64, late: UInt64, rejected: UInt64, refused: UInt64, lost: UInt64) {
        (self.logged, self.received, self.archived, self.late) = (logged, received, archived, late)
        (self.rejected, self.refused, self.lost) = (rejected, refused, lost)
    }
}

/// The summary as `chronolog-job --summary-json` writes it: the same figures as the text.
package struct JobSummaryDocument: Codable, Equatable {
    /// One role's line: its rank count and its counters (sums; `.max` keys are maxima).
    package struct RoleCounters: Codable, Equatable {
        package var ranks: Int
        package var counters: [String: UInt64]

        /// A role's line.
        package init(ranks: Int, counters: [String: UInt64]) {
            self.ranks = ranks
            self.counters = counters
        }
    }

    /// The `events:` line.
    package var events: EventTotals
    /// The role lines, by role name (`visor`, `keeper`, `grapher`, `player`, `client`).
    package var roles: [String: RoleCounters]
    /// The job's own exit status.
    package var exitStatus: Int32
    /// The signal (SIGTERM/SIGINT) that stopped the job, when one did.
    package var signal: Int32?
}

extension JobSummary {
    /// The summary as one JSON document (``JobSummaryDocument``), pretty-printed, keys sorted.
    package func json(exitStatus: Int32, signal: Int32? = nil) throws -> Data {
        var roles: [String: JobSummaryDocument.RoleCounters] = [:]
        for (role, n) in ranks { roles[role.rawValue] = .init(ranks: n, counters: (byRole[role] ?? [:]).byName) }
        let document = JobSummaryDocument(events: eventTotals, roles: roles, exitStatus: exitStatus, signal: signal)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(document)
    }

    /// Writes ``json(exitStatus:signal:)`` to `path` (replaced atomically).
    /// - Throws: when the file cannot be written.
    package func writeJSON(to path: String, exitStatus: Int32, signal: Int32? = nil) throws {
        var data = try json(exitStatus: exitStatus, signal: signal)
        data.append(0x0A)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
