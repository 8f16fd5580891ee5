/// One logged event: the value-type form used by APIs and tests.
///
/// Hot paths (client batches, keeper chunks, transfers, the archive) do not use `Event`; they keep
/// events as an ``EventRecord`` table plus one contiguous payload byte array (``EventBatch``, ``StoryChunk``).
/// `Event` is `Hashable` over all four fields; its order is ``key``'s (see ``EventKey``).
public struct Event: Sendable, Hashable, CustomStringConvertible {
    /// Timestamp in nanoseconds.
    public var time: UInt64
    /// The client that logged the event.
    public var clientId: ClientID
    /// Per-client, per-story index, dense from 0.
    public var index: UInt32
    /// The log record bytes (may be empty).
    public var record: [UInt8]

    /// Creates an event.
    public init(time: UInt64, clientId: ClientID, index: UInt32, record: [UInt8]) {
        self.time = time
        self.clientId = clientId
        self.index = index
        self.record = record
    }

    /// Creates an event whose record is the UTF-8 encoding of `text`.
    public init(time: UInt64, clientId: ClientID, index: UInt32, text: String) {
        self.init(time: time, clientId: clientId, index: index, record: Array(text.utf8))
    }

    /// The event's key: its place in the total order.
    public var key: EventKey { EventKey(time: time, clientId: clientId, index: index) }

    /// The record decoded as UTF-8, with invalid sequences replaced by U+FFFD (what the Python API returns).
    public var recordText: String { String(decoding: record, as: UTF8.self) }

    /// Whether `self` comes before `other` in event order (by key).
    public func precedes(_ other: Event) -> Bool { key < other.key }

    /// `time/clientId/index: N bytes`.
    public var description: String { "\(key): \(record.count) bytes" }
}
