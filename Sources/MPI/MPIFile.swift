import CChronoShims
import CMPI

/// A file opened through MPI-IO (`MPI_File`), for the MPI-IO baseline of `chronolog-bench ior`.
///
/// Opening and closing are collective over the communicator the file was opened with; reads and
/// writes at explicit offsets are independent (`MPI_File_read_at`, `MPI_File_write_at`). Files
/// use MPI's default file error handler, `MPI_ERRORS_RETURN`, so every failure is thrown as an
/// `MPIError`. Close explicitly: `deinit` does no collective work (a file dropped open leaks).
public final class MPIFile: @unchecked Sendable {
    /// How a file is opened.
    public enum Access: Sendable {
        /// Create it if missing and open it write-only (`MPI_MODE_CREATE | MPI_MODE_WRONLY`).
        case createWriteOnly
        /// Open an existing file read-only (`MPI_MODE_RDONLY`).
        case readOnly

        var amode: Int32 {
            switch self {
            case .createWriteOnly: Int32(MPI_MODE_CREATE | MPI_MODE_WRONLY)
            case .readOnly: Int32(MPI_MODE_RDONLY)
            }
        }
    }

    private var handle: MPI_File?
    private var open = true
    /// The path the file was opened with.
    public let path: String

    private init(handle: MPI_File?, path: String) {
        self.handle = handle
        self.path = path
    }

    /// Opens `path` (`MPI_File_open`). Collective over `communicator`: every rank passes the same
    /// path and access.
    /// - Throws: `MPIError` naming the call and the path when MPI-IO cannot open it.
    public static func open(path: String, access: Access, communicator: Communicator) throws -> MPIFile {
        var raw: MPI_File?
        let rc = MPI_File_open(communicator.handle, path, access.amode, chrono_mpi_info_null(), &raw)
        if rc != 0 { throw MPIError(call: "MPI_File_open(\(path))", code: rc) }
        return MPIFile(handle: raw, path: path)
    }

    /// Writes `bytes` at byte `offset` (`MPI_File_write_at`, independent: other ranks need not call).
    /// - Throws: `MPIError` when MPI-IO fails or writes fewer bytes than asked.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try checkOpen("MPI_File_write_at")
        guard bytes.count <= Int(Int32.max), offset >= 0 else {
            throw MPIError(call: "MPI_File_write_at", message: "\(bytes.count) bytes at offset \(offset) is outside what one call can write")
        }
        var status = MPI_Status()
        try check(MPI_File_write_at(handle, MPI_Offset(offset), bytes.baseAddress, Int32(bytes.count), chrono_mpi_byte(), &status),
                  "MPI_File_write_at(\(path))")
        let written = try Status(status).count
        guard written == bytes.count else {
            throw MPIError(call: "MPI_File_write_at(\(path))", message: "wrote \(written) of \(bytes.count) bytes at offset \(offset)")
        }
    }

    /// Reads up to `buffer.count` bytes at byte `offset` (`MPI_File_read_at`, independent).
    /// - Returns: the bytes read (fewer than asked only at the end of the file).
    /// - Throws: `MPIError` when MPI-IO fails.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        try checkOpen("MPI_File_read_at")
        guard buffer.count <= Int(Int32.max), offset >= 0 else {
            throw MPIError(call: "MPI_File_read_at", message: "\(buffer.count) bytes at offset \(offset) is outside what one call can read")
        }
        var status = MPI_Status()
        try check(MPI_File_read_at(handle, MPI_Offset(offset), buffer.baseAddress, Int32(buffer.count), chrono_mpi_byte(), &status),
                  "MPI_File_read_at(\(path))")
        return try Status(status).count
    }

    /// Makes every write of every rank durable on storage (`MPI_File_sync`, the `fsync` of
    /// MPI-IO). Collective over the file's communicator.
    public func sync() throws {
        try checkOpen("MPI_File_sync")
        try check(MPI_File_sync(handle), "MPI_File_sync(\(path))")
    }

    /// Closes the file (`MPI_File_close`). Collective over the file's communicator. A second call
    /// does nothing.
    public func close() throws {
        guard open else { return }
        open = false
        try check(MPI_File_close(&handle), "MPI_File_close(\(path))")
    }

    /// Whether the file is still open.
    public var isOpen: Bool { open }

    private func checkOpen(_ call: String) throws {
        guard open else { throw MPIError(call: call, message: "\(path) is closed") }
    }
}
