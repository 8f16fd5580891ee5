/// A measured offset between a client clock and the visor clock.
public struct ClockOffset: Sendable, Hashable {
    /// Visor time − client time, in ns.
    public var offset: Int64
    /// Half the round-trip time of the best sample: the true offset is within ±`errorBound` ns.
    public var errorBound: UInt64

    /// Creates an offset.
    public init(offset: Int64, errorBound: UInt64) {
        self.offset = offset
        self.errorBound = errorBound
    }

    /// `time + offset`, clamped to `0...UInt64.max`.
    public static func apply(_ offset: Int64, to time: UInt64) -> UInt64 {
        if offset >= 0 {
            let (sum, overflow) = time.addingReportingOverflow(UInt64(offset))
            return overflow ? UInt64.max : sum
        }
        let magnitude = offset.magnitude
        return time > magnitude ? time - magnitude : 0
    }

    /// A client time converted to visor time.
    public func visorTime(forClientTime time: UInt64) -> UInt64 { Self.apply(offset, to: time) }
}

/// Estimates the client→visor clock offset from ping/pong samples (NTP-style, minimum round trip wins).
public struct ClockOffsetEstimator: Sendable {
    private var best: ClockOffset?
    /// Samples accepted so far.
    public private(set) var sampleCount = 0

    /// An estimator with no sample.
    public init() {}

    /// Adds one exchange: ping sent at `clientSend` (client clock), answered at `visorTime` (visor clock),
    /// pong received at `clientReceive` (client clock). A sample whose receive time precedes its send time
    /// is ignored (returns false).
    @discardableResult
    public mutating func add(clientSend: UInt64, visorTime: UInt64, clientReceive: UInt64) -> Bool {
        guard clientReceive >= clientSend else { return false }
        let rtt = clientReceive - clientSend
        let midpoint = clientSend + rtt / 2
        let difference = Int128(visorTime) - Int128(midpoint)
        let offset = Int64(clamping: difference)
        let sample = ClockOffset(offset: offset, errorBound: rtt / 2 + rtt % 2)
        if best == nil || sample.errorBound < (best?.errorBound ?? UInt64.max) { best = sample }
        sampleCount += 1
        return true
    }

    /// Adds an estimate made earlier (kept if its error bound is the smallest so far).
    public mutating func add(_ estimate: ClockOffset) {
        if best == nil || estimate.errorBound < (best?.errorBound ?? UInt64.max) { best = estimate }
        sampleCount += 1
    }

    /// Adds one exchange from a pong and its receive time.
    @discardableResult
    public mutating func add(_ pong: ClockPong, receivedAt clientReceive: UInt64) -> Bool {
        add(clientSend: pong.clientSendTime, visorTime: pong.visorTime, clientReceive: clientReceive)
    }

    /// The best estimate so far (the sample with the smallest round trip), or nil before any sample.
    public var estimate: ClockOffset? { best }
}
