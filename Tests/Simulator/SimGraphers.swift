import ChronoArchive
import ChronoModel
import ChronoRuntime

/// The graphers of a simulated job, one per recording group, and the collectives they run over
/// the graphers' communicator: the round barrier (non-blocking: started, then tested), and the
/// blocking ones, an archive round (``SimArchiveWriter/writeRound(_:)``), the agreement after
/// it (``SimGrapherMember/agreeOnMaximum(_:)``) and the archive's close.
///
/// A grapher that enters a blocking collective before the others waits in it, as in MPI: its
/// step runs on its ``SimFiber``, which hands control back to the simulator; the collective
/// completes when the last grapher enters it (that one goes on at once), and each waiting
/// grapher resumes at its next turn once the round's duration has passed. A step runs on the
/// fiber only when it may block: when every other grapher started the barrier of this
/// grapher's next round (only then can this step get past the barrier into the round). Alone, a
/// grapher never waits and never needs a fiber, so a job of one group runs as it always did.
///
/// Every member calls the same collectives in the same order, or the job would hang or mix up
/// rounds: a member entering another collective than the one in progress is a violation
/// (``failures``), and its call fails.
final class SimGraphers {
    /// A blocking collective.
    enum Kind: String {
        case round, agreement, close
    }

    private enum Contribution {
        case round([ArchiveChunk])
        case maximum(Int64)
        case close
    }

    enum Outcome {
        case round(Result<ArchiveRoundReport, ArchiveError>)
        case maximum(Int64)
        case closed
    }

    /// Why a collective call failed.
    enum Failure: Error, CustomStringConvertible {
        /// Members entered different collectives.
        case outOfStep(String)
        /// The run ended while the member waited (the simulator ends its thread).
        case cancelled
        /// A step that was not expected to block did (it runs on the simulator's thread).
        case notOnFiber(rank: Int, kind: Kind)

        var description: String {
            switch self {
            case .outOfStep(let s): s
            case .cancelled: "the simulated run ended while this grapher waited in a collective"
            case .notOnFiber(let rank, let kind):
                "grapher \(rank) entered the \(kind.rawValue) collective outside a round, on the simulator's thread"
            }
        }
    }

    /// World ranks of the graphers, in rank order (the communicator's order).
    let ranks: [Int]
    private let archive: SimArchive
    private var barriersStarted: [Int: Int]
    private var agreementsEntered: [Int: Int]
    /// The blocking collective in progress and what each member that entered it brought.
    private var kind: Kind?
    private var entered: [Int: Contribution] = [:]
    /// Outcomes not yet taken by the members that waited for them.
    private var outcomes: [Int: Outcome] = [:]
    /// Members waiting in a blocking collective, and which.
    private(set) var waiting: [Int: Kind] = [:]
    private var fibers: [Int: SimFiber] = [:]
    /// Results of steps that ran on a fiber.
    private var stepResults: [Int: Result<(didWork: Bool, done: Bool), any Error>] = [:]
    /// The member whose step runs on its fiber now (nil: none, the simulator's thread runs).
    private var onFiber: Int?
    private var cancelled = false
    /// Collective calls out of step, each a violation line.
    private(set) var failures: [String] = []
    /// Blocking collectives completed, and hand-offs between the simulator's thread and a fiber.
    private(set) var collectives = 0
    private(set) var handOffs = 0

    init(ranks: [Int], archive: SimArchive) {
        self.ranks = ranks
        self.archive = archive
        barriersStarted = Dictionary(uniqueKeysWithValues: ranks.map { ($0, 0) })
        agreementsEntered = barriersStarted
    }

    // MARK: - Stepping

    /// Whether a step of grapher `rank` may block: every other grapher started the barrier of its
    /// next round (each round is a barrier, then a blocking round and agreement in the same step).
    func mayBlock(_ rank: Int) -> Bool {
        let next = agreementsEntered[rank, default: 0] + 1
        return ranks.count > 1 && ranks.allSatisfy { $0 == rank || barriersStarted[$0, default: 0] >= next }
    }

    /// Whether grapher `rank` waits in a collective that has not completed yet.
    func isWaiting(_ rank: Int) -> Bool { waiting[rank] != nil && outcomes[rank] == nil }

    /// One turn of grapher `rank` (its process `step`): resumes it where it waits in a completed
    /// collective, runs a step that may block on its fiber, any other on this thread.
    /// - Returns: the step's outcome, nil while the grapher waits in a collective.
    /// - Throws: the step's error.
    func step(_ rank: Int, _ body: @escaping () throws -> (didWork: Bool, done: Bool)) throws -> (didWork: Bool, done: Bool)? {
        if waiting[rank] != nil {
            guard outcomes[rank] != nil, let fiber = fibers[rank] else { return nil }
            onFiber = rank
            handOffs += 1
            fiber.resume()
        } else if mayBlock(rank) {
            let fiber = fibers[rank] ?? SimFiber(name: "sim-grapher-\(rank)")
            fibers[rank] = fiber
            onFiber = rank
            handOffs += 1
            fiber.run { [self] in stepResults[rank] = Result { try body() } }
        } else {
            return try body()
        }
        onFiber = nil
        guard let result = stepResults.removeValue(forKey: rank) else { return nil }
        return try result.get()
    }

    /// Ends the run: every grapher still waiting is resumed with its collective failed (so its
    /// step unwinds), and every fiber's thread ends.
    func cancel() {
        cancelled = true
        for rank in ranks {
            guard let fiber = fibers[rank] else { continue }
            onFiber = rank
            while fiber.isBlocked { fiber.resume() }
            onFiber = nil
            fiber.stop()
        }
        fibers = [:]
        stepResults = [:]
    }

    /// Who waits in what, for a hung run's report.
    var waitingState: String {
        waiting.isEmpty ? "" : " graphers waiting: " + waiting.sorted { $0.key < $1.key }.map { "\($0.key) in \($0.value.rawValue)" }
            .joined(separator: ", ")
    }

    // MARK: - Collectives

    /// Starts member `rank`'s next barrier.
    func startBarrier(_ rank: Int) -> any CollectiveWait {
        barriersStarted[rank, default: 0] += 1
        return Barrier(graphers: self, number: barriersStarted[rank, default: 0])
    }

    private final class Barrier: CollectiveWait {
        unowned let graphers: SimGraphers
        let number: Int

        init(graphers: SimGraphers, number: Int) {
            self.graphers = graphers
            self.number = number
        }

        func isComplete() throws -> Bool { graphers.ranks.allSatisfy { graphers.barriersStarted[$0, default: 0] >= number } }
    }

    func round(_ rank: Int, _ chunks: [ArchiveChunk]) throws(Failure) -> Result<ArchiveRoundReport, ArchiveError> {
        guard case .round(let r) = try enter(rank, .round, .round(chunks)) else { preconditionFailure("a round's outcome") }
        return r
    }

    func agreeOnMaximum(_ rank: Int, _ value: Int64) throws(Failure) -> Int64 {
        agreementsEntered[rank, default: 0] += 1
        guard case .maximum(let m) = try enter(rank, .agreement, .maximum(value)) else { preconditionFailure("a maximum") }
        return m
    }

    func close(_ rank: Int) throws(Failure) {
        _ = try enter(rank, .close, .close)
    }

    /// Enters a blocking collective: completes it when `rank` is the last member in, else waits
    /// (on its fiber) until the last one completed it.
    private func enter(_ rank: Int, _ kind: Kind, _ contribution: Contribution) throws(Failure) -> Outcome {
        if cancelled { throw .cancelled }
        if let current = self.kind, current != kind {
            let others = entered.keys.sorted().map(String.init).joined(separator: ", ")
            let failure = Failure.outOfStep("collective: grapher \(rank) entered the \(kind.rawValue) while grapher(s) \(others) wait in the \(current.rawValue)")
            failures.append(failure.description)
            throw failure
        }
        self.kind = kind
        entered[rank] = contribution
        if entered.count == ranks.count {
            complete(kind)
        } else {
            guard onFiber == rank, let fiber = fibers[rank] else {
                let failure = Failure.notOnFiber(rank: rank, kind: kind)
                failures.append("collective: \(failure)")
                entered[rank] = nil
                if entered.isEmpty { self.kind = nil }
                throw failure
            }
            waiting[rank] = kind
            fiber.block()
            waiting[rank] = nil
        }
        guard let outcome = outcomes.removeValue(forKey: rank) else { throw .cancelled }
        return outcome
    }

    private func complete(_ kind: Kind) {
        let parts = ranks.map { entered[$0]! }
        entered = [:]
        self.kind = nil
        collectives += 1
        switch kind {
        case .round:
            let chunks = parts.map { part -> [ArchiveChunk] in
                guard case .round(let c) = part else { return [] }
                return c
            }
            for (rank, result) in zip(ranks, archive.writeRound(Array(zip(ranks, chunks)))) { outcomes[rank] = .round(result) }
        case .agreement:
            let maximum = parts.map { part -> Int64 in
                guard case .maximum(let v) = part else { return .min }
                return v
            }.max() ?? 0
            for rank in ranks { outcomes[rank] = .maximum(maximum) }
        case .close:
            archive.close()
            for rank in ranks { outcomes[rank] = .closed }
        }
    }
}

/// One grapher's view of the graphers' communicator.
final class SimGrapherMember: CollectiveGroup {
    private let graphers: SimGraphers
    private let rank: Int
    /// Mutation: this grapher takes its own value as the agreement (it still enters it).
    var agreesAlone = false

    init(graphers: SimGraphers, rank: Int) {
        self.graphers = graphers
        self.rank = rank
    }

    var size: Int { graphers.ranks.count }
    func startBarrier() throws -> any CollectiveWait { graphers.startBarrier(rank) }

    func agreeOnMaximum(_ value: Int64) throws -> Int64 {
        let agreed = try graphers.agreeOnMaximum(rank, value)
        return agreesAlone ? value : agreed
    }
}

/// One grapher's handle on the simulated archive file: rounds and the close are collective over
/// every grapher (``SimGraphers``), as with ``ArchiveWriter``.
final class SimArchiveWriter: ArchiveStore {
    var maxRowBytes = 4 << 20
    var pageCacheBytes: Int?
    private let archive: SimArchive
    private let graphers: SimGraphers
    private let rank: Int

    init(archive: SimArchive, graphers: SimGraphers, rank: Int) {
        self.archive = archive
        self.graphers = graphers
        self.rank = rank
    }

    /// Fails at once, on every grapher alike, once a round failed or the archive was closed (as
    /// ``ArchiveWriter``'s local check before the round's collectives); else a collective round.
    func writeRound(_ chunks: [ArchiveChunk]) throws(ArchiveError) -> ArchiveRoundReport {
        if let reason = archive.unusable { throw .writerUnusable(reason: reason) }
        let result: Result<ArchiveRoundReport, ArchiveError>
        do {
            result = try graphers.round(rank, chunks)
        } catch {
            throw .writerUnusable(reason: "\(error)")
        }
        return try result.get()
    }

    func close() throws(ArchiveError) {
        do {
            try graphers.close(rank)
        } catch {
            throw .writerUnusable(reason: "\(error)")
        }
    }
}
