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
    /// The bytes of the files past the given offsets (`from`, by path; 0 for a path not named) and
    /// how many of them the page cache holds. Files that cannot be opened or mapped (gone, empty)
    /// count as nothing.
    static func residency(of paths: [String], from: [String: Int] = [:]) -> (cached: Int, total: Int) {
        var cached = 0, total = 0
        let page = Int(ResidentMemory.pageBytes)
        for path in paths {
            guard let file = MappedFile(path: path), let bytes = file.bytes(at: 0, count: file.byteCount),
                  let start = bytes.baseAddress else { continue }
            let first = min(file.byteCount, (from[path] ?? 0) / page * page)
            guard first < file.byteCount else { continue }
            var vector = [UInt8](repeating: 0, count: (file.byteCount - first + page - 1) / page)
            guard mincore(UnsafeMutableRawPointer(mutating: start + first), file.byteCount - first, &vector) == 0 else { continue }
            total += file.byteCount - first
            for (i, v) in vector.enumerated() where v & 1 != 0 { cached += min(page, file.byteCount - first - i * page) }
        }
        return (cached, total)
    }

    /// The sizes of the files that exist, by path.
    static func sizes(of paths: [String]) -> [String: Int] {
        var out: [String: Int] = [:]
        for path in paths {
            var info = stat()
            if stat(path, &info) == 0 { out[path] = Int(info.st_size) }
        }
        return out
    }

    /// Drops the files' clean pages from this node's page cache (dirty ones stay until written back).
    static func drop(_ paths: [String]) {
        for path in paths { _ = HDF5File.dropCachedPages(path: path, keepingLast: 0) }
    }
}
