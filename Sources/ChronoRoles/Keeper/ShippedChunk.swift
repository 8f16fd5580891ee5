import ChronoModel
import Fabric
import ChronoRuntime

/// A sealed chunk whose pieces a keeper has shipped (or is shipping): the chunk itself is kept,
/// not a copy, for replays until every piece is durable; then its storage goes back to the pool.
///
/// The grapher reads the pieces out of the chunk itself: its record table and payload are lent on
/// the bulk plane (``lend(on:)``) when the first piece leaves, and the loans end (``endLoans()``)
/// only when the chunk is retired, after every piece was read and settled. So no byte of a chunk
/// is copied into registered memory before it travels, and the chunk's storage must not change
/// while lent: nothing mutates a shipped chunk, and its storage goes back to the pool only after
/// the loans ended.
final class ShippedChunk {
    /// The sealed chunk (storage shared with the waiting queue while pieces are still to go).
    var chunk: StoryChunk
    /// Pieces in flight (shipped, not yet acknowledged durable or failed).
    var outstanding = 0
    /// Whether the last piece has left (the chunk is no longer waiting).
    var allShipped = false
    /// The record table and the payload lent to the grapher (nil before the first piece, after
    /// ``endLoans()``, and for a payload of no bytes).
    private var recordsLoan: (any BulkLoan)?
    private var payloadLoan: (any BulkLoan)?
    /// The record table in the wire layout, lent instead of the records on a machine whose
    /// in-memory layout differs from it (``EventRecord/hasNativeWireLayout``); nil elsewhere.
    private var wireRecords: [UInt8]?

    init(_ chunk: StoryChunk) {
        self.chunk = chunk
    }

    /// Whether nothing needs the chunk any more.
    var isDone: Bool { allShipped && outstanding == 0 }

    /// Bytes the events at `positions` hold (records and payload).
    func bytes(of positions: Range<Int>) -> Int {
        guard !positions.isEmpty else { return 0 }
        let first = chunk.records[positions.lowerBound], last = chunk.records[positions.upperBound - 1]
        return positions.count * EventRecord.byteSize + Int(last.offset + UInt64(last.length) - first.offset)
    }

    /// Lends the chunk's record table and payload to peers in place (once; later calls do nothing).
    /// The pointers handed to the transport outlive the closures that produced them: the chunk's
    /// storage stays allocated and unchanged until ``endLoans()`` (see the type's documentation).
    /// - Throws: the transport's error when the memory cannot be lent (nothing is lent then).
    func lend(on bulk: any BulkTransport) throws {
        guard recordsLoan == nil, !chunk.records.isEmpty else { return }
        let records: any BulkLoan
        if EventRecord.hasNativeWireLayout {
            records = try chunk.records.withUnsafeBytes { try bulk.lend($0) }
        } else {
            let wire = StoryChunk.wireRecordTable(chunk.records)
            wireRecords = wire
            records = try wire.withUnsafeBytes { try bulk.lend($0) }
        }
        if !chunk.payload.isEmpty {
            do {
                payloadLoan = try chunk.payload.withUnsafeBytes { try bulk.lend($0) }
            } catch {
                try? records.close()
                wireRecords = nil
                throw error
            }
        }
        recordsLoan = records
    }

    /// Where the events at `positions` lie in the lent memory, for the piece's descriptor: the
    /// record table's address and key, the payload's address and key, the payload's size, and the
    /// payload offset of the first event (the records' offsets count from the chunk's payload).
    /// - Precondition: ``lend(on:)`` succeeded and `positions` is not empty.
    func remote(of positions: Range<Int>) -> (records: (address: UInt64, key: UInt64), payload: (address: UInt64, key: UInt64),
                                              payloadBytes: UInt64, payloadBase: UInt64) {
        let first = chunk.records[positions.lowerBound], last = chunk.records[positions.upperBound - 1]
        let base = first.offset, bytes = last.offset + UInt64(last.length) - first.offset
        let r = recordsLoan?.remoteDescriptor ?? RemoteDescriptor(address: 0, key: 0, length: 0)
        let p = payloadLoan?.remoteDescriptor ?? RemoteDescriptor(address: 0, key: 0, length: 0)
        return ((r.address + UInt64(positions.lowerBound * EventRecord.byteSize), r.key),
                (p.address + base, p.key), bytes, base)
    }

    /// Ends the loans, if any (after this no peer can read the chunk, and its storage may go back
    /// to the pool). - Returns: false when the transport refused to end one: the storage must not
    /// be reused then.
    func endLoans() -> Bool {
        var ok = true
        for loan in [recordsLoan, payloadLoan] {
            do { try loan?.close() } catch { ok = false }
        }
        recordsLoan = nil
        payloadLoan = nil
        wireRecords = nil
        return ok
    }
}
