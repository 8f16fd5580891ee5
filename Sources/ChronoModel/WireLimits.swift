/// Upper bounds that every decoder checks before it allocates or copies (documented in docs/MODEL.md).
///
/// A length or count read from the wire is compared with its limit **and** with the bytes actually
/// remaining before anything is allocated, so hostile input can never make a decoder allocate more
/// than the input's own size.
public struct WireLimits: Sendable, Hashable {
    /// Largest message body, batch or chunk layout: 1 GiB by default.
    public var maxBodyBytes: UInt64
    /// Longest string field (names, attribute keys and values, error details): 64 KiB.
    public var maxStringBytes: UInt32
    /// Most elements in a list field (name lists, rank lists): 1 Mi.
    public var maxListCount: UInt32
    /// Most attributes or counters in a map field: 4096.
    public var maxMapCount: UInt32
    /// Largest single event record: 16 MiB (the configured `story.maxEventBytes` is usually far lower).
    public var maxEventBytes: UInt32
    /// Most events in one batch or chunk: 32 Mi.
    public var maxEvents: UInt64

    /// Creates limits.
    public init(
        maxBodyBytes: UInt64 = 1 << 30, maxStringBytes: UInt32 = 1 << 16, maxListCount: UInt32 = 1 << 20,
        maxMapCount: UInt32 = 4096, maxEventBytes: UInt32 = 1 << 24, maxEvents: UInt64 = 1 << 25
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxStringBytes = maxStringBytes
        self.maxListCount = maxListCount
        self.maxMapCount = maxMapCount
        self.maxEventBytes = maxEventBytes
        self.maxEvents = maxEvents
    }

    /// The defaults listed above.
    public static let `default` = WireLimits()
}
