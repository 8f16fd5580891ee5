/// The identity and position of an event: (time, clientId, index).
///
/// The total order of events is the lexicographic order of this triple; the record bytes take no part.
/// Two events with the same key are the same event (a retransmission), which is why merging removes
/// duplicates by key.
public struct EventKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Timestamp in nanoseconds (client clock corrected by the offset to the visor).
    public var time: UInt64
    /// The client that logged the event.
    public var clientId: ClientID
    /// The event's index in its client's sequence for its story (dense from 0).
    public var index: UInt32

    /// Creates a key.
    public init(time: UInt64, clientId: ClientID, index: UInt32) {
        self.time = time
        self.clientId = clientId
        self.index = index
    }

    /// Lexicographic order on (time, clientId, index).
    @inlinable
    public static func < (lhs: EventKey, rhs: EventKey) -> Bool {
        if lhs.time != rhs.time { return lhs.time < rhs.time }
        if lhs.clientId.rawValue != rhs.clientId.rawValue { return lhs.clientId.rawValue < rhs.clientId.rawValue }
        return lhs.index < rhs.index
    }

    /// `time/clientId/index`.
    public var description: String { "\(time)/\(clientId.rawValue)/\(index)" }
}
