#if canImport(Glibc)
import Glibc
#endif

/// A buffered byte writer to standard output or a file: events are formatted straight into
/// its buffer, which goes out in writes of about 1 MiB.
final class OutputSink {
    /// What the sink writes to, for messages (`-` for standard output).
    let name: String
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// Bytes not yet written; formatters append here.
    var buffer: [UInt8] = []
    private let flushThreshold = 1 << 20

    /// A sink writing to standard output.
    init() {
        name = "-"
        fd = 1
        ownsDescriptor = false
        buffer.reserveCapacity(flushThreshold + 65536)
    }

    /// A sink writing to the file at `path` (created or truncated).
    /// - Throws: `ChronologFailure` when the file cannot be created.
    init(path: String) throws(ChronologFailure) {
        name = path
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ChronologFailure(path: path, problem: "cannot create the output file: \(String(cString: strerror(errno)))") }
        ownsDescriptor = true
        buffer.reserveCapacity(flushThreshold + 65536)
    }

    /// Appends bytes.
    @inline(__always)
    func append<C: Collection>(contentsOf bytes: C) where C.Element == UInt8 { buffer.append(contentsOf: bytes) }

    /// Appends the UTF-8 of `text`.
    func append(_ text: String) { buffer.append(contentsOf: text.utf8) }

    /// Writes the buffer out when it has grown past the threshold.
    @inline(__always)
    func flushIfFull() throws(ChronologFailure) {
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Writes everything buffered.
    /// - Throws: `ChronologFailure` when the write fails (disk full, closed pipe).
    func flush() throws(ChronologFailure) {
        var failure: Int32 = 0
        buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
        if failure != 0 {
            throw ChronologFailure(path: name == "-" ? "standard output" : name,
                                   problem: "write failed: \(String(cString: strerror(failure)))")
        }
    }

    /// Flushes and, for a file, closes it.
    /// - Throws: `ChronologFailure` when the last write or the close fails.
    func close() throws(ChronologFailure) {
        try flush()
        if ownsDescriptor, Glibc.close(fd) != 0 {
            throw ChronologFailure(path: name, problem: "closing the output file failed: \(String(cString: strerror(errno)))")
        }
    }
}
