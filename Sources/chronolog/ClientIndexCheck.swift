import ChronoModel

/// The per-client index check of one story: every client's events carry indexes 0, 1, …, n−1
/// (no gap, no duplicate) and their times do not decrease as the index grows.
///
/// Fed the story's events in event order (time, client_id, index). A client that satisfies the
/// rule shows exactly 0, 1, 2, … in that order, so the common case keeps only a counter and the
/// last time per client; from the first surprise on, that client's (index, time) pairs are kept
/// and analysed at the end.
struct ClientIndexCheck {
    private struct Client {
        /// Indexes 0..<inOrder arrived in order (the implicit prefix).
        var inOrder: UInt64 = 0
        /// The time of index inOrder − 1.
        var lastTime: UInt64 = 0
        var events = 0
        /// Everything after the first surprise, in arrival order.
        var rest: [(index: UInt32, time: UInt64)]?
    }

    private var clients: [UInt64: Client] = [:]
    /// Where each client's indexes start (an earlier incarnation's events are hidden); 0 otherwise.
    var firstIndexes: [UInt64: UInt64] = [:]

    /// Clients seen so far.
    var clientCount: Int { clients.count }

    /// Takes the next events (in event order, after those passed before).
    mutating func add(_ chunk: StoryChunk) {
        for r in chunk.records {
            Self.take(r, into: &clients[r.clientId, default: Client(inOrder: firstIndexes[r.clientId] ?? 0)])
        }
    }

    private static func take(_ r: EventRecord, into c: inout Client) {
        c.events += 1
        if c.rest == nil, UInt64(r.index) == c.inOrder {
            c.inOrder += 1
            c.lastTime = r.time
        } else {
            if c.rest == nil { c.rest = [] }
            c.rest!.append((r.index, r.time))
        }
    }

    /// One problem per client that breaks the rule, by client id, located at `location`.
    func problems(location: String) -> [(location: String, detail: String)] {
        var out: [(String, String)] = []
        for (id, c) in clients.sorted(by: { $0.key < $1.key }) {
            guard let rest = c.rest else { continue }
            var duplicates = 0, missing: UInt64 = 0, backwards = 0
            var duplicateExample: UInt32?, gapExamples: [String] = [], backwardsExample: String?
            let sorted = rest.sorted { ($0.index, $0.time) < ($1.index, $1.time) }
            // The previous present index and its time (from the in-order prefix, if any).
            var previous: (index: UInt64, time: UInt64)? = c.inOrder > 0 ? (c.inOrder - 1, c.lastTime) : nil
            var maxIndex: UInt64 = c.inOrder > 0 ? c.inOrder - 1 : 0
            for e in sorted {
                let index = UInt64(e.index)
                if index < c.inOrder || previous.map({ $0.index == index }) == true {
                    duplicates += 1
                    if duplicateExample == nil { duplicateExample = e.index }
                    continue
                }
                let expected = previous.map { $0.index + 1 } ?? 0
                if index > expected {
                    missing += index - expected
                    if gapExamples.count < 3 {
                        gapExamples.append(index - expected == 1 ? "\(expected)" : "\(expected)..<\(index)")
                    }
                }
                if let p = previous, e.time < p.time {
                    backwards += 1
                    if backwardsExample == nil {
                        backwardsExample = "index \(index) at \(e.time) ns is earlier than index \(p.index) at \(p.time) ns"
                    }
                }
                previous = (index, e.time)
                maxIndex = max(maxIndex, index)
            }
            var parts: [String] = []
            if missing > 0 {
                parts.append("\(missing) index\(missing == 1 ? "" : "es") missing (\(gapExamples.joined(separator: ", "))\(gapExamples.count == 3 ? ", …" : ""))")
            }
            if duplicates > 0 { parts.append("\(duplicates) duplicated (e.g. index \(duplicateExample!))") }
            if backwards > 0 { parts.append("\(backwards) out of time order (e.g. \(backwardsExample!))") }
            if parts.isEmpty { parts.append("indexes do not follow event time") }
            out.append(("\(location) client \(id)",
                        "\(c.events) event\(c.events == 1 ? "" : "s") with indexes up to \(maxIndex): " + parts.joined(separator: "; ")))
        }
        return out
    }
}
