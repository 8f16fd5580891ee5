import ChronoModel

/// How a client's event batches leave the process and how their acknowledgements come back.
///
/// The session's implementation posts batches on the `.events` tag of the MPI control channel
/// and receives ``BatchAck``s on `.flow`; tests substitute an in-process keeper. Any thread may call
/// either method at any time (implementations serialize internally).
@_spi(IngestTesting)
public protocol IngestTransport: AnyObject, Sendable {
    /// Sends one encoded `eventBatch` or `watermarks` message to the keeper at `keeperRank`, on the
    /// channel and tag of every batch (so messages to one keeper arrive in the order sent). The transport must not
    /// keep `message` after returning (the caller reuses its storage).
    /// - Throws: `.noConnection` when the channel fails.
    func send(_ message: [UInt8], to keeperRank: Int) throws(ChronoLogError)
    /// Sends one whole encoded message that lives in `frame`, as ``send(_:to:)`` does; the session's
    /// transport sends it from the array's own storage and then gives the array back to
    /// ``EventBatchFrames`` for the next batch. The default calls ``send(_:to:)``.
    func send(frame: consuming [UInt8], to keeperRank: Int) throws(ChronoLogError)

    /// Receives every acknowledgement waiting and hands each to `router`; also completes finished
    /// sends. Never blocks: an implementation may return at once, with nothing, while another
    /// thread drives its channel (callers poll again after backing off).
    /// - Returns: whether anything arrived or completed (for the caller's back-off).
    /// - Throws: `.noConnection` when the channel fails.
    func pollAcks(into router: AckRouter) throws(ChronoLogError) -> Bool
}

@_spi(IngestTesting)
extension IngestTransport {
    public func send(frame: consuming [UInt8], to keeperRank: Int) throws(ChronoLogError) {
        let message = consume frame
        try send(message, to: keeperRank)
        EventBatchFrames.give(consume message)
    }
}

/// The memory event batches are built in and sent from: frames lent to a story's batch builder and
/// given back once the batch they held was sent, so that a busy writer builds each batch in memory
/// it has touched before (fresh pages cost a page fault each). At most 64 MiB are kept idle.
enum EventBatchFrames {
    static let pool = ChunkStoragePool(capacityLimit: 64 << 20)

    /// An empty frame with room for at least `capacity` bytes.
    static func take(capacity: Int) -> [UInt8] { pool.takePayload(capacity: capacity) }

    /// Keeps a frame whose batch was sent for the next one (freed when the pool is full).
    static func give(_ frame: consuming [UInt8]) { pool.give(payload: consume frame) }
}
