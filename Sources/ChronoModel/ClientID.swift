/// The id of a connected client, unique within one job.
///
/// The visor is the only allocator (``ClientIDAllocator``); ids start at a value derived from the
/// job's start time (so jobs appending to one archive do not share ids) and are never reused
/// within a job. ``none`` (0) means "no client" (e.g. a reply sent before connecting).
public struct ClientID: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The id.
    public let rawValue: UInt64

    /// Wraps a raw id.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Wraps a raw id.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The reserved "no client" id, 0.
    public static let none = ClientID(rawValue: 0)

    /// Orders by raw value.
    public static func < (lhs: ClientID, rhs: ClientID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The decimal id.
    public var description: String { String(rawValue) }
}
