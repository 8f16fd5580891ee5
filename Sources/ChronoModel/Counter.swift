/// One counter of the job summary: its name (the summary's key) and how the values of several
/// ranks combine. Declared once each (``Counter/all``, in `Counter+Catalogue.swift`); a role
/// counts with `counters[.eventsReceived, default: 0] += n`, the summary aggregates with
/// ``Swift/Dictionary/aggregate(_:)``.
public struct Counter: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// How values of one counter from several ranks (or several reports) combine.
    public enum Aggregation: UInt8, Sendable, Codable, CaseIterable {
        /// Added up (events, bytes, messages).
        case sum = 0
        /// The largest value (peaks, latencies); by convention the name ends in `.max`.
        case max = 1
    }

    /// The summary's key, e.g. `events.archived`.
    public let name: String
    /// How values combine over ranks.
    public let aggregation: Aggregation

    /// Declares a counter. Only `Counter+Catalogue.swift` (and test programs, for their own
    /// counters) declare counters; everything else names the declared constants.
    public init(_ name: String, _ aggregation: Aggregation = .sum) {
        self.name = name
        self.aggregation = aggregation
    }

    /// The counter's name.
    public var description: String { name }

    /// Ordered by name (the summary prints counters in this order).
    public static func < (a: Counter, b: Counter) -> Bool { a.name.utf8.lexicographicallyPrecedes(b.name.utf8) }

    /// The declared counter of this name, if any.
    public static func declared(named name: String) -> Counter? { byName[name] }

    private static let byName: [String: Counter] = Dictionary(all.map { ($0.name, $0) }) { first, _ in first }

    /// `value` combined into `total` by this counter's aggregation.
    public func combine(_ total: UInt64, _ value: UInt64) -> UInt64 {
        switch aggregation {
        case .sum: total &+ value
        case .max: Swift.max(total, value)
        }
    }
}

/// A set of counter values: what a role, a client or a whole role's ranks counted.
public typealias Counters = [Counter: UInt64]

extension Dictionary where Key == Counter, Value == UInt64 {
    /// Combines `other` into these counters, each by its aggregation (sums add, maxima keep the largest).
    public mutating func aggregate(_ other: Counters) {
        for (counter, value) in other { self[counter] = counter.combine(self[counter] ?? 0, value) }
    }

    /// These counters with `other` combined in (see ``aggregate(_:)``).
    public func aggregating(_ other: Counters) -> Counters {
        var result = self
        result.aggregate(other)
        return result
    }

    /// The values by name (for text output and tests that parse it).
    public var byName: [String: UInt64] {
        Dictionary<String, UInt64>(map { ($0.key.name, $0.value) }) { a, _ in a }
    }
}
