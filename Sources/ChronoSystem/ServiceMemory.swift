import CChronoShims

/// Process-wide memory settings for service ranks (visor, keepers, graphers, players).
public enum ServiceMemory {
    /// Keeps large allocations (chunks, batches, replay pieces, message buffers: 64 KiB–64 MiB,
    /// allocated and freed all the time) in the heap instead of fresh `mmap`s. glibc maps every
    /// allocation above its threshold afresh, so each one pays page faults and the zero-filling of
    /// every page on first touch — on the development VM more than the copy itself. Allocations
    /// above 64 MiB are still mapped; up to 256 MiB of freed heap is kept for reuse.
    ///
    /// Call once per service rank; not on client ranks, whose process belongs to the application.
    /// - Returns: whether glibc accepted the settings.
    @discardableResult
    public static func keepLargeAllocationsInHeap() -> Bool {
        chrono_keep_large_allocations(64 << 20, 256 << 20) != 0
    }
}
