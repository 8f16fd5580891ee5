import ChronoModel
import DequeModule
import Synchronization

/// Delivers replay pieces to the queries they answer.
///
/// Pieces of every query of a process arrive interleaved on one MPI tag; whichever waiting query
/// receives one hands it here, and the query it belongs to takes it. Thread-safe.
final class ReplayInbox: Sendable {
    struct Delivery {
        let piece: ReplayPiece
        let source: Int
    }

    private let boxes = Mutex<[UInt64: Deque<Delivery>]>([:])
    private let nextId: Atomic<UInt64>

    /// An inbox whose query ids start at `firstId`.
    init(firstId: UInt64 = 1) {
        nextId = Atomic(firstId)
    }

    /// A new query id, unique in this process, registered for delivery.
    func open() -> UInt64 {
        let id = nextId.wrappingAdd(1, ordering: .relaxed).oldValue
        boxes.withLock { $0[id] = [] }
        return id
    }

    /// Stops delivering to `id` (pieces arriving later are stray).
    func close(_ id: UInt64) {
        _ = boxes.withLock { $0.removeValue(forKey: id) }
    }

    /// Hands a received piece to its query; a piece for no waiting query (one that gave up) is dropped.
    func deliver(_ piece: ReplayPiece, from source: Int) {
        boxes.withLock { b in b[piece.queryId]?.append(Delivery(piece: piece, source: source)) }
    }

    /// The next piece delivered to `id`, if any.
    func take(_ id: UInt64) -> Delivery? {
        boxes.withLock { $0[id]?.popFirst() }
    }
}
