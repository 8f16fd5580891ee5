import Foundation
import MPI

/// What the writer ranks of a benchmark agree on, so that one rank's failure ends the run on every
/// rank instead of leaving the others waiting in a collective call for it.
enum PeerAgreement {
    /// A name for this run, the same on every writer (the first writer's time and process id):
    /// each run makes chronicles of its own, so a run over an archive directory that earlier runs
    /// used does not fail on their chronicles. Collective over `peers`.
    static func runStamp(_ peers: Communicator) throws -> String {
        String(decoding: try peers.broadcast(Array(stamp().utf8), root: 0), as: UTF8.self)
    }

    /// This process's name for a run: the time in seconds and the process id (a benchmark run by
    /// one rank alone uses it as it is).
    static func stamp() -> String { "\(Int(Date().timeIntervalSince1970))-\(getpid())" }

    /// Runs `body` on every writer; when it throws on any of them, every writer throws — the
    /// failing ones their own error, the others ``IORError/otherRank(_:)`` naming the first failed
    /// rank's error. Collective over `peers`.
    /// - Returns: `body`'s result.
    static func together<T>(_ peers: Communicator, _ what: String, _ body: () throws -> T) throws -> T {
        let result = Result { try body() }
        var problem = ""
        if case .failure(let error) = result { problem = "rank \(peers.rank): \(what): \(error)" }
        let failed = try peers.allreduce(problem.isEmpty ? Int64.max : Int64(peers.rank), op: .min)
        if failed != Int64.max {
            let text = String(decoding: try peers.broadcast(Array(problem.utf8), root: Int(failed)), as: UTF8.self)
            if case .failure(let error) = result { throw error }
            throw IORError.otherRank(text)
        }
        return try result.get()
    }

    /// Runs `body` on the first writer only, as ``together(_:_:_:)`` runs it on all.
    static func onFirst(_ peers: Communicator, _ what: String, _ body: () throws -> Void) throws {
        try together(peers, what) { if peers.rank == 0 { try body() } }
    }
}
