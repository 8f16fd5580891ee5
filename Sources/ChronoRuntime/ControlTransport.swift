/// What a service role needs of the control plane: post typed-message bytes to a rank under a
/// tag, receive the next message under a tag (matched, so several tags can be polled in any
/// order), and complete posted sends. ``ControlChannel`` carries it over MPI; a simulator carries
/// it in memory (Tests/Simulator), so the roles' real code runs without MPI.
///
/// Delivery guarantees a role may rely on (MPI's, kept by every implementation): messages from
/// one rank to another under one tag arrive in the order they were posted, none is lost or
/// duplicated. Messages under different tags, or from different ranks, may arrive in any order.
public protocol ControlTransport: AnyObject {
    /// This rank.
    var rank: Int { get }
    /// Posts `bytes` to `destination` under `tag`; the caller's loop completes it with ``progress()``.
    /// - Throws: the transport's error when the message cannot be posted.
    func post(_ bytes: [UInt8], to destination: Int, tag: ControlTag) throws
    /// Receives one message under `tag` if one is waiting (optionally only from `source`).
    /// - Throws: the transport's error when receiving fails.
    func poll(tag: ControlTag, from source: Int?) throws -> (bytes: [UInt8], source: Int)?
    /// Completes finished sends. - Returns: whether any completed.
    /// - Throws: the transport's error when a send failed.
    @discardableResult
    func progress() throws -> Bool
    /// Blocks (backing off) until every posted send completed.
    /// - Throws: the transport's error when a send failed.
    func drainSends() throws
}

extension ControlTransport {
    /// Receives one message under `tag` from any rank, if one is waiting.
    /// - Throws: as ``poll(tag:from:)``.
    public func poll(tag: ControlTag) throws -> (bytes: [UInt8], source: Int)? {
        try poll(tag: tag, from: nil)
    }
}

extension ControlChannel: ControlTransport {}
