#if canImport(Glibc)
import Glibc
#endif

/// An archive file mapped read-only (`mmap`, `MAP_SHARED`): a player lends a window's payload to
/// its client from here, where the file's pages lie in the page cache, instead of copying it into
/// a registered slot first. Unmapped when the last holder lets go — a reader of the file, or a
/// piece lent from it until its client acknowledged it.
///
/// Only rows a committed round wrote are lent: the archive writes them once and never moves them,
/// so the bytes stay what the reader verified while the grapher goes on appending.
public final class ArchiveFileMapping: @unchecked Sendable {
    /// The file.
    public let path: String
    /// Bytes mapped: the file's size when it was mapped.
    public let byteCount: Int
    private let base: UnsafeRawPointer

    /// Maps `path` whole. - Returns: nil when it cannot be opened or mapped, or is empty.
    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
        let size = Int(info.st_size)
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return nil }
        self.path = path
        byteCount = size
        base = UnsafeRawPointer(map)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
    }

    /// The mapped bytes at `offset`, nil when they reach past the mapping.
    func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= byteCount, count <= byteCount - offset else { return nil }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// Asks the kernel to read `bytes` (part of this mapping) ahead, so a cold file's pages arrive
    /// in large reads rather than one fault at a time.
    func prefetch(_ bytes: UnsafeRawBufferPointer) {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return }
        let page = sysconf(Int32(_SC_PAGESIZE))
        let from = Int(bitPattern: start) / page * page
        let to = Int(bitPattern: start) + bytes.count
        _ = madvise(UnsafeMutableRawPointer(bitPattern: from), to - from, MADV_WILLNEED)
    }
}

/// A window's payload left in place (``EncodedWindow/payloadInPlace``): its parts, one after the
/// other, and what keeps them valid — the ``ArchiveFileMapping`` of the file they lie in (a
/// simulator's archive keeps them in memory of its own).
public struct InPlacePayload: @unchecked Sendable {
    /// The payload's bytes in order: a part per stretch of the file (HDF5 chunks lie apart).
    public var parts: [UnsafeRawBufferPointer]
    /// Keeps `parts` valid (mapped) as long as this value lives; never changed through them.
    public var owner: AnyObject

    public init(parts: [UnsafeRawBufferPointer], owner: AnyObject) {
        self.parts = parts
        self.owner = owner
    }

    /// Bytes in all parts.
    public var byteCount: Int { parts.reduce(0) { $0 + $1.count } }
}
