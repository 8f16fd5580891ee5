import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the kernel's page cache holds of a file.
public enum PageCache {
    /// Bytes of the file at `path` resident in the page cache (`mmap` + `mincore`), or nil when the
    /// file cannot be opened or mapped.
    public static func residentBytes(path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let size = Int(st.st_size)
        guard size > 0 else { return 0 }
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return nil }
        defer { munmap(map, size) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vec = [UInt8](repeating: 0, count: (size + page - 1) / page)
        guard mincore(map, size, &vec) == 0 else { return nil }
        return vec.reduce(0) { $0 + Int($1 & 1) } * page
    }
}
