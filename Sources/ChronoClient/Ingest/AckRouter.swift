import ChronoModel
import Synchronization

/// Delivers batch acknowledgements to the story buffers they belong to.
///
/// Acknowledgements for every story and client of a process arrive interleaved on one MPI tag;
/// whichever thread receives one (a writer waiting for its window, a flush, the background
/// flusher) hands it here, and the router passes it to the ``StoryIngest`` registered under the
/// ack's story and client. Thread-safe; its lock is never held while another lock is taken.
@_spi(IngestTesting)
public final class AckRouter: Sendable {
    private struct Route: Hashable {
        let storyId: StoryID
        let clientId: ClientID
    }

    private let routes = Mutex<[Route: StoryIngest]>([:])
    private let stray = Atomic<UInt64>(0)
    private let malformed = Atomic<UInt64>(0)
    /// Bumped by every add and remove (``snapshot(into:unlessAt:)``).
    private let generation = Atomic<UInt64>(1)

    /// An empty router.
    public init() {}

    /// Starts routing the acknowledgements of `ingest`'s story and client to it.
    public func add(_ ingest: StoryIngest) {
        routes.withLock { $0[Route(storyId: ingest.storyId, clientId: ingest.clientId)] = ingest }
        generation.add(1, ordering: .releasing)
    }

    /// Stops routing to `ingest` (after its last acknowledgement).
    public func remove(_ ingest: StoryIngest) {
        routes.withLock { r in
            let key = Route(storyId: ingest.storyId, clientId: ingest.clientId)
            if r[key] === ingest { r[key] = nil }
        }
        generation.add(1, ordering: .releasing)
    }

    /// Hands `ack` to its story buffer.
    /// - Returns: false when no buffer is registered for it (counted as stray).
    @discardableResult
    public func deliver(_ ack: BatchAck) -> Bool {
        guard let target = route(ack.storyId, ack.clientId) else { return false }
        target.acknowledge(ack)
        return true
    }

    /// Hands a durable-flush reply to its story buffer.
    /// - Returns: false when no buffer is registered for it (counted as stray).
    @discardableResult
    public func deliver(_ reply: DurableReply) -> Bool {
        guard let target = route(reply.storyId, reply.clientId) else { return false }
        target.durableReplied(reply)
        return true
    }

    /// The buffer registered for `story` and `client`; nil (counted as stray) when none is.
    private func route(_ story: StoryID, _ client: ClientID) -> StoryIngest? {
        guard let target = routes.withLock({ $0[Route(storyId: story, clientId: client)] }) else {
            stray.add(1, ordering: .relaxed)
            return nil
        }
        return target
    }

    /// Counts a message on the acknowledgement tag that is not a well-formed ``BatchAck``.
    public func noteMalformed() { malformed.add(1, ordering: .relaxed) }

    /// Acknowledgements that matched no registered buffer.
    public var strayAcks: UInt64 { stray.load(ordering: .relaxed) }

    /// Messages on the acknowledgement tag that were not well-formed acknowledgements.
    public var malformedAcks: UInt64 { malformed.load(ordering: .relaxed) }

    /// Whether any buffer is registered.
    public var isEmpty: Bool { routes.withLock { $0.isEmpty } }

    /// Replaces `list`'s contents with the registered buffers (reusing its capacity), unless
    /// nothing was added or removed since the snapshot that returned `generation`.
    /// - Returns: the generation of `list`'s contents, to pass to the next call.
    @discardableResult
    public func snapshot(into list: inout [StoryIngest], unlessAt known: UInt64 = 0) -> UInt64 {
        let current = generation.load(ordering: .acquiring)
        guard current != known else { return known }
        list.removeAll(keepingCapacity: true)
        return routes.withLock { r in
            for v in r.values { list.append(v) }
            return generation.load(ordering: .acquiring)
        }
    }
}
