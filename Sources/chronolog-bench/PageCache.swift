import ChronoSystem
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
        let page = Int(ResidentMemory.pageBytes)
        for path in paths {
            guard let file = MappedFile(path: path), let bytes = file.bytes(at: 0, count: file.byteCount),
                  let start = bytes.baseAddress else { continue }
            var vector = [UInt8](repeating: 0, count: (file.byteCount + page - 1) / page)
            guard mincore(UnsafeMutableRawPointer(mutating: start), file.byteCount, &vector) == 0 else { continue }
            total += file.byteCount
            for (i, v) in vector.enumerated() where v & 1 != 0 { cached += min(page, file.byteCount - i * page) }
        }
        return (cached, total)
    }

    /// Drops the files' clean pages from this node's page cache (dirty ones stay until written back).
    static func drop(_ paths: [String]) {
        for path in paths { _ = HDF5File.dropCachedPages(path: path, keepingLast: 0) }
    }
}
