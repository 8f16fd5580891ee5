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
    /// Sends one message of `byteCount` bytes that `fill` encodes (it writes them all), as
    /// ``send(_:to:)`` does; the session's transport has it encoded straight into the send's own
    /// memory. The default encodes into an array and calls ``send(_:to:)``.
    func send(byteCount: Int, to keeperRank: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws(ChronoLogError)

    /// Receives every acknowledgement waiting and hands each to `router`; also completes finished
    /// sends. Never blocks.
    /// - Returns: whether anything arrived or completed (for the caller's back-off).
    /// - Throws: `.noConnection` when the channel fails.
    func pollAcks(into router: AckRouter) throws(ChronoLogError) -> Bool
}

@_spi(IngestTesting)
extension IngestTransport {
    public func send(byteCount: Int, to keeperRank: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws(ChronoLogError) {
        let message = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = byteCount
        }
        try send(message, to: keeperRank)
    }
}
