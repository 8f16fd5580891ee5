import Foundation
import HDF5
#if canImport(Glibc)
import Glibc
#endif

/// What the page cache holds of the files a read phase reads (`--read-cache`).
enum IORReadCache: String, Codable, Sendable, CaseIterable {
    /// Before each API's read phase, its files (CHRONOLOG: the archive's) are dropped from the page
    /// cache, so every API reads from storage, as a rank reading another node's data on a cluster does.
    case cold
    /// Files stay as the write phase left them: the baselines' whole, the archive's last
    /// `archive.pageCacheBytes` per grapher.
    case kept
}

/// The page cache's share of files: measured with `mincore` over a read-only mapping (which
/// touches no page), dropped with `posix_fadvise(POSIX_FADV_DONTNEED)` (clean pages only).
enum PageCache {
    /// The bytes of the files and how many of them the page cache holds. Files that cannot be
    /// opened or mapped (gone, empty) count as nothing.
    static func residency(of paths: [String]) -> (cached: Int, total: Int) {
        var cached = 0, total = 0
        let page = sysconf(Int32(_SC_PAGESIZE))
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_size > 0 else { continue }
            let size = Int(info.st_size)
            guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { continue }
            defer { munmap(map, size) }
            let pages = (size + page - 1) / page
            var vector = [UInt8](repeating: 0, count: pages)
            guard mincore(map, size, &vector) == 0 else { continue }
            total += size
            for (i, v) in vector.enumerated() where v & 1 != 0 { cached += min(page, size - i * page) }
        }
        return (cached, total)
    }

    /// Drops the files' clean pages from this node's page cache (dirty ones stay until written back).
    static func drop(_ paths: [String]) {
        for path in paths { _ = HDF5File.dropCachedPages(path: path, keepingLast: 0) }
    }
}
