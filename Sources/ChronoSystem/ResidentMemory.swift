#if canImport(Glibc)
import Glibc
#endif

/// The resident memory of this process, as the kernel counts it (`/proc/self/statm`).
public enum ResidentMemory {
    /// Bytes of this process's memory resident in RAM, or `nil` where `/proc/self/statm` cannot
    /// be read. One small file read: cheap enough for every heartbeat, not for every event.
    public static func bytes() -> UInt64? {
        guard let statm = ProcFile.read("/proc/self/statm") else { return nil }
        // "size resident shared text lib data dt", in pages.
        let fields = statm.split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = UInt64(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * pageBytes
    }

    /// The size of a memory page, in bytes.
    public static let pageBytes = UInt64(max(1, sysconf(Int32(_SC_PAGESIZE))))
}

/// Small kernel files (`/proc`, `/sys`) read in one call.
enum ProcFile {
    /// The first `maxBytes` bytes of the file at `path`; nil when it cannot be opened or is empty.
    static func read(_ path: String, maxBytes: Int = 128) -> ArraySlice<UInt8>? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? buffer[..<n] : nil
    }
}
