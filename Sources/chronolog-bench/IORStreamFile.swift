import MPI

#if canImport(Glibc)
import Glibc
#endif

/// A file the POSIX and MPI-IO baselines write and read as a byte stream at explicit offsets.
protocol IORStreamFile {
    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws
    /// Reads up to `buffer.count` bytes at `offset`. - Returns: bytes read (fewer only at the end).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int
    /// Makes the writes durable (`fsync`, `MPI_File_sync`).
    func sync() throws
    /// Closes the file.
    func close() throws
}

/// A POSIX file descriptor: `open`, `pwrite`, `pread`, `fsync`, `close`.
final class POSIXFile: IORStreamFile {
    private let fd: Int32
    let path: String

    /// Opens `path` (`O_CREAT | O_WRONLY`, or `O_RDONLY`).
    init(path: String, writing: Bool) throws {
        self.path = path
        fd = Int32(try IORError.check(Int(Glibc.open(path, writing ? O_CREAT | O_WRONLY : O_RDONLY, 0o644)), "open", path))
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            done += try IORError.check(n, "pwrite", path)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard try IORError.check(n, "pread", path) > 0 else { break }
            done += n
        }
        return done
    }

    func sync() throws { try IORError.check(Int(fsync(fd)), "fsync", path) }

    func close() throws { try IORError.check(Int(Glibc.close(fd)), "close", path) }

    /// Makes a closed file's data durable: opens it, `fsync`, closes.
    static func sync(path: String) throws {
        let f = try POSIXFile(path: path, writing: true)
        try f.sync()
        try f.close()
    }
}

extension MPIFile: IORStreamFile {}
