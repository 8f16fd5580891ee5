/// The events of one story in a half-open time range [start, end), in event order.
///
/// In memory and on the wire a chunk is a record table plus one payload byte array:
/// - ``records`` are strictly increasing by (time, clientId, index) — no duplicates;
/// - every record's time is inside ``range``;
/// - payloads are stored in record order without gaps: record 0 at offset 0, record *i + 1* at
///   `offset[i] + length[i]`, and ``payload`` ends with the last record's bytes.
///
/// This canonical form is checked by every initializer, so two chunks with the same events are
/// equal (`==`) byte for byte, and the encoded form (``encode()``) can be stored as is by the archive.
public struct StoryChunk: Sendable, Hashable {
    /// The story the events belong to.
    public private(set) var storyId: StoryID
    /// The time range the chunk covers; every event's time is inside it.
    public private(set) var range: TimeRange
    /// 0 for the first chunk of a range; late events for a sealed range arrive in revisions 1, 2, …
    public private(set) var revision: UInt32
    /// The record table, sorted by event order.
    public private(set) var records: [EventRecord]
    /// All record bytes, concatenated in record order.
    public private(set) var payload: [UInt8]

    /// Builds a chunk from checked parts (internal: callers guarantee the canonical form).
    init(unchecked storyId: StoryID, range: TimeRange, revision: UInt32, records: [EventRecord], payload: [UInt8]) {
        self.storyId = storyId
        self.range = range
        self.revision = revision
        self.records = records
        self.payload = payload
    }

    /// Builds a chunk from events in any order; duplicates (same key) are kept once — the one whose
    /// record bytes sort first, so the result does not depend on the input order.
    /// - Throws: ``ChronoLogError/invalidArgument(_:)`` if `range` is empty, an event lies outside it,
    ///   or a record is longer than `UInt32.max` bytes.
    public init(storyId: StoryID, range: TimeRange, revision: UInt32 = 0, events: [Event]) throws(ChronoLogError) {
        guard !range.isEmpty else { throw .invalidArgument("chunk range \(range) is empty") }
        var sorted = events
        sorted.sort { a, b in
            if a.key != b.key { return a.key < b.key }
            return a.record.lexicographicallyPrecedes(b.record)
        }
        var records: [EventRecord] = []
        records.reserveCapacity(sorted.count)
        var payload: [UInt8] = []
        payload.reserveCapacity(sorted.reduce(0) { $0 + $1.record.count })
        var last: EventKey? = nil
        for event in sorted {
            guard range.contains(event.time) else {
                throw .invalidArgument("event \(event.key) is outside chunk range \(range)")
            }
            guard let length = UInt32(exactly: event.record.count) else {
                throw .invalidArgument("event \(event.key) record is too long")
            }
            if event.key == last { continue }
            last = event.key
            records.append(EventRecord(
                time: event.time, clientId: event.clientId.rawValue, index: event.index,
                length: length, offset: UInt64(payload.count)))
            payload.append(contentsOf: event.record)
        }
        self.init(unchecked: storyId, range: range, revision: revision, records: records, payload: payload)
    }

    /// Builds a chunk from a record table and payload that must already be canonical (see the type's doc).
    /// - Throws: ``ChronoLogError/malformedMessage(_:)`` with ``WireError/inconsistent(_:)`` naming the
    ///   broken invariant, or ``ChronoLogError/invalidArgument(_:)`` for an empty range.
    public init(
        validatingStoryId storyId: StoryID, range: TimeRange, revision: UInt32,
        records: [EventRecord], payload: [UInt8]
    ) throws(ChronoLogError) {
        guard !range.isEmpty else { throw .invalidArgument("chunk range \(range) is empty") }
        try Self.checkCanonical(records: records, payloadCount: payload.count, range: range)
        self.init(unchecked: storyId, range: range, revision: revision, records: records, payload: payload)
    }

    /// Replaces every field (internal: callers guarantee the canonical form).
    mutating func setUnchecked(storyId: StoryID, range: TimeRange, revision: UInt32) {
        self.storyId = storyId
        self.range = range
        self.revision = revision
    }

    /// Empties the chunk, keeping its storage for reuse.
    public mutating func removeAllEvents() {
        records.removeAll(keepingCapacity: true)
        payload.removeAll(keepingCapacity: true)
    }

    /// Moves the record table and payload out, leaving the chunk empty (internal: storage reuse).
    mutating func takeStorage() -> (records: [EventRecord], payload: [UInt8]) {
        var r: [EventRecord] = []
        var p: [UInt8] = []
        swap(&r, &records)
        swap(&p, &payload)
        return (r, p)
    }

    /// Gives mutable access to both arrays at once (internal, for the in-place merge and decode).
    mutating func withStorage<R>(_ body: (inout [EventRecord], inout [UInt8]) throws(ChronoLogError) -> R) throws(ChronoLogError) -> R {
        try body(&records, &payload)
    }

    /// An empty chunk for `range`.
    public static func empty(storyId: StoryID, range: TimeRange, revision: UInt32 = 0) -> StoryChunk {
        StoryChunk(unchecked: storyId, range: range, revision: revision, records: [], payload: [])
    }

    /// Number of events.
    public var count: Int { records.count }

    /// Whether the chunk holds no event.
    public var isEmpty: Bool { records.isEmpty }

    /// The key of the event at `position`.
    public func key(at position: Int) -> EventKey { records[position].key }

    /// The record bytes of the event at `position`, without copying.
    public func recordBytes(at position: Int) -> ArraySlice<UInt8> {
        let r = records[position]
        let start = Int(r.offset)
        return payload[start..<(start + Int(r.length))]
    }

    /// The event at `position` as an ``Event`` value (copies its record bytes).
    public func event(at position: Int) -> Event {
        let r = records[position]
        return Event(time: r.time, clientId: ClientID(rawValue: r.clientId), index: r.index,
                     record: Array(recordBytes(at: position)))
    }

    /// All events as values, in event order (allocates one array per event: for APIs and tests).
    public var events: [Event] { (0..<records.count).map(event(at:)) }

    /// Positions of the events whose time is in `window` (binary search; O(log n)).
    public func positions(in window: TimeRange) -> Range<Int> {
        guard !window.isEmpty else { return 0..<0 }
        let lower = records.firstPosition(atOrAfter: window.start)
        let upper = records.firstPosition(atOrAfter: window.end)
        return lower..<max(lower, upper)
    }

    /// The sub-chunk of the events whose time is in `window`, with range `range ∩ window`.
    /// Returns an empty chunk when nothing overlaps.
    public func slice(_ window: TimeRange) -> StoryChunk {
        slice(window, within: records.startIndex..<records.endIndex)
    }

    /// The events of `window` among those at `bounds` (a piece of the chunk), as a chunk of the
    /// window's intersection with this chunk's range.
    public func slice(_ window: TimeRange, within bounds: Range<Int>) -> StoryChunk {
        let clipped = range.intersection(window)
        let p = positions(in: clipped).clamped(to: bounds)
        guard !p.isEmpty, !clipped.isEmpty else {
            return .empty(storyId: storyId, range: clipped.isEmpty ? range : clipped, revision: revision)
        }
        let base = records[p.lowerBound].offset
        let last = records[p.upperBound - 1]
        var out = Array(records[p])
        for i in out.indices { out[i].offset -= base }
        let bytes = Array(payload[Int(base)..<Int(last.offset + UInt64(last.length))])
        return StoryChunk(unchecked: storyId, range: clipped, revision: revision, records: out, payload: bytes)
    }

    /// Checks the canonical-form invariants; shared by the validating initializer and the decoder.
    static func checkCanonical<Records: RandomAccessCollection<EventRecord>>(
        records: Records, payloadCount: Int, range: TimeRange
    ) throws(ChronoLogError) {
        var expectedOffset: UInt64 = 0
        var previous: EventRecord? = nil
        for (i, r) in records.enumerated() {
            guard range.contains(r.time) else {
                throw .malformedMessage(.inconsistent("record \(i) time \(r.time) outside \(range)"))
            }
            if let p = previous, !EventRecord.precedes(p, r) {
                throw .malformedMessage(.inconsistent("record \(i) not strictly after record \(i - 1)"))
            }
            guard r.offset == expectedOffset else {
                throw .malformedMessage(.inconsistent("record \(i) offset \(r.offset), expected \(expectedOffset)"))
            }
            let (next, overflow) = expectedOffset.addingReportingOverflow(UInt64(r.length))
            guard !overflow else { throw .malformedMessage(.inconsistent("record \(i) payload offsets overflow")) }
            expectedOffset = next
            previous = r
        }
        guard expectedOffset == UInt64(payloadCount) else {
            throw .malformedMessage(.inconsistent("records cover \(expectedOffset) payload bytes, payload has \(payloadCount)"))
        }
    }
}
