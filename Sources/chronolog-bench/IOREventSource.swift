#if canImport(Glibc)
import Glibc
#endif

/// The record bytes of a writer's events: `-t` bytes, the same pattern for every API, with the
/// event's index stamped into its first (up to) 8 bytes so no two consecutive events are equal.
final class IOREventSource {
    private let storage: UnsafeMutableRawBufferPointer

    /// - Parameter eventBytes: `-t`, at least 1.
    init(eventBytes: Int, rank: Int) {
        storage = .allocate(byteCount: eventBytes, alignment: 16)
        for i in 0..<eventBytes { storage[i] = UInt8(truncatingIfNeeded: i &* 31 &+ rank) }
    }

    deinit { storage.deallocate() }

    /// The record of event `index` (valid until the next call).
    @inline(__always)
    func record(_ index: Int) -> UnsafeRawBufferPointer {
        var v = UInt64(index).littleEndian
        withUnsafeBytes(of: &v) { src in
            storage.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: min(8, storage.count))
        }
        return UnsafeRawBufferPointer(storage)
    }

    /// Wall-clock nanoseconds (`CLOCK_REALTIME`): the baselines' event time, one clock read per
    /// event as `logEvent` makes.
    @inline(__always)
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
