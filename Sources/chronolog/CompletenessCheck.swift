import ChronoModel

/// The completeness check of one story against its catalog entry: every writer that released the
/// story recorded its event count `count` (indexes 0..<count, or from its first visible index when
/// an earlier incarnation's events are hidden), and all those events must be archived. A writer
/// that never released it (the job was killed, or the catalog write was lost) leaves its tail unknown.
///
/// Fed the story's visible events (each once, in event order), like ``ClientIndexCheck``.
struct CompletenessCheck {
    /// What the check concludes.
    enum State: String, Codable {
        /// Every recorded writer's events are archived.
        case complete
        /// A writer's events are missing, or a writer's count is unknown.
        case partial
        /// The catalog does not know the story (no catalog, or an archive older than catalogs).
        case unknown
    }

    private let entry: CatalogStory?
    /// The expected index range of each writer that released the story.
    private let expected: [UInt64: Range<UInt64>]
    /// Archived events per recorded writer, counting only indexes in its expected range.
    private var archived: [UInt64: UInt64] = [:]

    init(entry: CatalogStory?) {
        self.entry = entry
        var expected: [UInt64: Range<UInt64>] = [:]
        for w in entry?.writers ?? [] {
            guard let count = w.count, let entry else { continue }
            expected[w.client] = min(entry.firstVisibleIndex(client: w.client), count)..<count
        }
        self.expected = expected
    }

    /// The first index each writer's events start at (for ``ClientIndexCheck``).
    var firstIndexes: [UInt64: UInt64] {
        var out: [UInt64: UInt64] = [:]
        for h in entry?.hidden ?? [] { out[h.client] = h.count ?? 0 }
        return out
    }

    /// Takes the next events.
    mutating func add(_ chunk: StoryChunk) {
        guard !expected.isEmpty else { return }
        for r in chunk.records {
            if let range = expected[r.clientId], range.contains(UInt64(r.index)) { archived[r.clientId, default: 0] += 1 }
        }
    }

    /// The verdict and, when partial, why (one reason per writer).
    func result() -> (state: State, reasons: [String]) {
        guard let entry else { return (.unknown, []) }
        var reasons: [String] = []
        for w in entry.writers {
            guard let count = w.count else {
                reasons.append("client \(w.client) never released the story: its tail is unknown")
                continue
            }
            let range = expected[w.client] ?? count..<count
            let got = archived[w.client] ?? 0
            if got < UInt64(range.count) {
                reasons.append("client \(w.client) tail missing: archived \(got) of \(range.count) events (indexes \(range))")
            }
        }
        return (reasons.isEmpty ? .complete : .partial, reasons)
    }
}
