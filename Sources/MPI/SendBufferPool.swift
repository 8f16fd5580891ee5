import Synchronization

/// The memory of large non-blocking sends (``Communicator/isend(_:to:tag:)`` copies the caller's
/// bytes so the caller may drop them at once), kept when a send completes and handed to the next
/// send of the same size class: a writer shipping a 1-MiB batch every few milliseconds used to
/// allocate and free a megabyte each time, and on a machine where memory the process has not
/// touched before costs a page fault per page (freed large blocks go back to the system) that was
/// a tenth of its time (issue 17).
///
/// Sends of at least ``minimumPooledBytes`` get a buffer of the next power of two; at most
/// ``idleLimitBytes`` of idle buffers are kept, each class keeping at most ``idlePerClass``.
/// Smaller sends use the allocator as before. Thread-safe.
public enum SendBufferPool {
    /// The smallest send whose buffer is pooled.
    static let minimumPooledBytes = 64 << 10
    /// The most idle bytes kept over all classes.
    static let idleLimitBytes = 64 << 20
    /// The most idle buffers kept of one size class.
    static let idlePerClass = 16

    private struct State {
        /// Idle buffers' base addresses by size class (addresses: a raw pointer is not `Sendable`).
        var idle: [Int: [UInt]] = [:]
        var idleBytes = 0
    }
    private static let state = Mutex(State())

    /// The size class (buffer size) of a send of `byteCount` bytes, or nil when it is not pooled.
    static func sizeClass(of byteCount: Int) -> Int? {
        guard byteCount >= minimumPooledBytes, byteCount <= 1 << 40 else { return nil }
        var size = minimumPooledBytes
        while size < byteCount { size <<= 1 }
        return size
    }

    /// A buffer for a send of `byteCount` bytes: an idle one of its class, or a new one.
    /// - Returns: the buffer (at least `byteCount` bytes) and whether it belongs to the pool
    ///   (end its use with ``release(_:pooled:)``).
    static func take(byteCount: Int) -> (buffer: UnsafeMutableRawBufferPointer, pooled: Bool) {
        guard let size = sizeClass(of: byteCount) else {
            return (.allocate(byteCount: max(byteCount, 1), alignment: 16), false)
        }
        let kept = state.withLock { s -> UInt? in
            guard let address = s.idle[size]?.popLast() else { return nil }
            s.idleBytes -= size
            return address
        }
        if let kept, let base = UnsafeMutableRawPointer(bitPattern: kept) {
            return (UnsafeMutableRawBufferPointer(start: base, count: size), true)
        }
        return (.allocate(byteCount: size, alignment: 16), true)
    }

    /// Ends a send's use of `buffer`: back to the pool if it came from it (``take(byteCount:)``
    /// said so), else deallocated.
    static func release(_ buffer: UnsafeMutableRawBufferPointer, pooled: Bool) {
        if pooled { give(buffer) } else { buffer.deallocate() }
    }

    /// Keeps a pooled buffer of a completed send for the next one (or frees it when the pool is full).
    private static func give(_ buffer: UnsafeMutableRawBufferPointer) {
        let size = buffer.count
        guard let base = buffer.baseAddress else { return }
        let address = UInt(bitPattern: base)
        let kept = state.withLock { s -> Bool in
            guard s.idleBytes + size <= idleLimitBytes, s.idle[size, default: []].count < idlePerClass else { return false }
            s.idle[size, default: []].append(address)
            s.idleBytes += size
            return true
        }
        if !kept { buffer.deallocate() }
    }

    /// Idle bytes kept now.
    public static var idleBytes: Int { state.withLock { $0.idleBytes } }
}
