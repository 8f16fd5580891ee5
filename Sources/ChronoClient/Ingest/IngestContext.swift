import ChronoModel
import Synchronization

/// A session's shared ingest machinery: the acknowledgement router, the MPI transport, the
/// background flusher and the counters of stories already released. Created at the first acquire.
final class IngestContext: Sendable {
    let router = AckRouter()
    let transport: any IngestTransport
    let flusher: IngestFlusher
    private let retired = Mutex(IngestStats())

    init(transport: any IngestTransport, settings: IngestSettings) {
        self.transport = transport
        flusher = IngestFlusher(router: router, transport: transport, intervalNanoseconds: settings.lingerNanoseconds)
    }

    /// Keeps the counters of a story buffer that was closed.
    func retire(_ ingest: StoryIngest) {
        guard ingest.claimRetirement() else { return }
        let s = ingest.stats
        retired.withLock { $0.add(s) }
    }

    /// Counters of every story buffer, closed or live.
    var stats: IngestStats {
        var total = retired.withLock { $0 }
        var live: [StoryIngest] = []
        router.snapshot(into: &live)
        for ingest in live { total.add(ingest.stats) }
        return total
    }
}
