import ChronoModel
#if canImport(Glibc)
import Glibc
#endif

/// A file mapped whole and read-only (`mmap`, `PROT_READ`, `MAP_SHARED`): its bytes are the page
/// cache's pages of the file, shared with every other process that maps or reads it. Unmapped when
/// the last reference goes.
///
/// A player lends a replay window's payload from here to its clients; a client on the player's
/// node maps the same archive file and copies the payload from it (``MappedFileCache``).
/// Only bytes that nobody rewrites may be relied on: the archive's committed rows.
public final class MappedFile: @unchecked Sendable {
    /// The path it was opened by.
    public let path: String
    /// The same file's absolute path, symbolic links resolved (`realpath` when it was mapped), for
    /// a process whose working directory may differ; `path` where it could not be resolved.
    public let absolutePath: String
    /// The file it is, as opened.
    public let identity: FileIdentity
    /// Bytes mapped: the file's size when it was mapped.
    public let byteCount: Int
    private let base: UnsafeRawPointer

    /// Maps `path` whole.
    /// - Parameter expected: when given, the file must be this one (not another file since put at
    ///   the same path).
    /// - Returns: nil when it cannot be opened or mapped, is empty, or is not `expected`.
    public init?(path: String, expected: FileIdentity? = nil) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
        let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        if let expected, expected != identity { return nil }
        let size = Int(info.st_size)
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return nil }
        self.path = path
        if let resolved = realpath(path, nil) {
            absolutePath = String(cString: resolved)
            free(resolved)
        } else {
            absolutePath = path
        }
        self.identity = identity
        byteCount = size
        base = UnsafeRawPointer(map)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
    }

    /// The mapped bytes at `offset`, nil when they reach past the mapping.
    public func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= byteCount, count <= byteCount - offset else { return nil }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// Where `bytes` start in the file, nil when they are not (wholly) part of this mapping.
    public func offset(of bytes: UnsafeRawBufferPointer) -> Int? {
        guard let start = bytes.baseAddress, start >= base else { return nil }
        let offset = start - base
        return offset <= byteCount && bytes.count <= byteCount - offset ? offset : nil
    }

    /// Asks the kernel to read `bytes` (part of this mapping) ahead, so a cold file's pages arrive
    /// in large reads rather than one fault at a time.
    public func prefetch(_ bytes: UnsafeRawBufferPointer) {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return }
        let page = Int(ResidentMemory.pageBytes)
        let from = Int(bitPattern: start) / page * page
        let to = Int(bitPattern: start) + bytes.count
        _ = madvise(UnsafeMutableRawPointer(bitPattern: from), to - from, MADV_WILLNEED)
    }
}

/// This host's boot, as the kernel names it (`/proc/sys/kernel/random/boot_id`): two processes
/// that read the same value run under the same kernel, so a path and a ``FileIdentity`` name the
/// same file for both. Nil where it cannot be read.
public enum HostBoot {
    public static let id: [UInt8]? = {
        guard let bytes = ProcFile.read("/proc/sys/kernel/random/boot_id") else { return nil }
        let id = Array(bytes.prefix { $0 != UInt8(ascii: "\n") })
        return id.isEmpty ? nil : id
    }()
}

/// The files a replay client mapped to copy payloads from (``MappedFile``), by identity: each
/// mapped once and kept, mapped again when a file grew past its mapping. A file that cannot be
/// mapped as named (another host's, another file now at its path, no permission) is remembered
/// and not tried again; its pieces are read the other way.
public struct MappedFileCache {
    private var files: [FileIdentity: MappedFile] = [:]
    private var refused: Set<FileIdentity> = []
    private let bootId: [UInt8]?
    /// At most this many files stay mapped (the least recently used goes first).
    public static let maxFiles = 8
    private var used: [FileIdentity] = []

    /// - Parameter bootId: this host's boot id (``HostBoot/id``; tests name another).
    public init(bootId: [UInt8]? = HostBoot.id) {
        self.bootId = bootId
    }

    /// Files mapped now.
    public var mappedCount: Int { files.count }

    /// The bytes `ranges` (file offsets and lengths) of the file `identity` at `path` on the host
    /// booted as `bootId`, mapping it on first use or when it grew past its mapping.
    /// - Returns: the bytes of each range in order; nil when the file is not this host's, cannot
    ///   be mapped as named, or some range lies past its end.
    public mutating func bytes(bootId: [UInt8], path: String, identity: FileIdentity,
                               ranges: [(offset: UInt64, length: Int)]) -> [UnsafeRawBufferPointer]? {
        guard let own = self.bootId, own == bootId, !refused.contains(identity) else { return nil }
        var end = 0
        for r in ranges {
            guard r.length >= 0, r.offset <= UInt64(Int.max - r.length) else { return nil }
            end = max(end, Int(r.offset) + r.length)
        }
        var file = files[identity]
        if file == nil || file!.byteCount < end {
            guard let mapped = MappedFile(path: path, expected: identity) else {
                refused.insert(identity)
                files[identity] = nil
                return nil
            }
            file = mapped
            files[identity] = mapped
        }
        used.removeAll { $0 == identity }
        used.append(identity)
        if used.count > Self.maxFiles { files[used.removeFirst()] = nil }
        var out: [UnsafeRawBufferPointer] = []
        out.reserveCapacity(ranges.count)
        for r in ranges {
            guard let bytes = file!.bytes(at: Int(r.offset), count: r.length) else { return nil }
            out.append(bytes)
        }
        return out
    }
}
