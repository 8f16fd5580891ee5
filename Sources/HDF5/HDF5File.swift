import CChronoShims
import CHDF5
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// An open HDF5 file: parallel (MPI-IO driver, shared by the ranks of a communicator) or serial
/// (the default POSIX driver, for offline tools).
///
/// Groups and datasets are reached through `root`. The file keeps track of every group and
/// dataset opened through it; `close()` closes them all, then the file. For a parallel file,
/// `close()` and `flush()` are collective and must be called by every rank of the communicator.
/// HDF5's metadata of a parallel file is written at `flush()` and `close()` only: the metadata
/// cache's dirty-bytes threshold is set to its largest (32 MiB), so collective structure calls
/// (`createGroup`, `createDataset`, `extend(to:)`, attributes) do no I/O unless more than that
/// is dirtied between flushes (HDF5's default, 256 KiB, wrote some inside those calls).
/// Deinitialisation never does collective work: a parallel file dropped without `close()` stays
/// open until HDF5 shuts down inside `MPIRuntime.finalize()`. A serial file dropped without
/// `close()` is closed quietly once neither it nor any of its groups and datasets is referenced.
///
/// Not thread-safe (neither is HDF5): use a file and its objects from one thread.
public final class HDF5File {
    /// How an existing file is opened.
    public enum Mode: Sendable {
        /// Reading only (`H5F_ACC_RDONLY`).
        case readOnly
        /// Reading and writing (`H5F_ACC_RDWR`).
        case readWrite
    }

    let state: FileState

    /// A descriptor of the file for ``startWriteback()`` (opened at its first call, closed with
    /// the file); -1 before, and for good once the file system said it cannot.
    private var writebackDescriptor: Int32 = -1
    private var writebackUnsupported = false

    /// The path the file was created or opened with.
    public var path: String { state.path }

    /// Whether the file was opened with the MPI-IO driver over a communicator.
    public var isParallel: Bool { state.isParallel }

    /// Whether the file is still open (`close()` not yet called).
    public var isOpen: Bool { state.isOpen }

    /// The communicator of a parallel file; `nil` for a serial one.
    public let communicator: Communicator?

    private var rootGroup: HDF5Group?

    private init(state: FileState, communicator: Communicator?) {
        self.state = state
        self.communicator = communicator
    }

    // MARK: Parallel

    /// Creates a file collectively over `communicator` with the MPI-IO driver
    /// (`H5Pset_fapl_mpio`, `H5Fcreate`).
    ///
    /// Collective over `communicator`: every rank calls with the same path and flags.
    /// - Parameter overwrite: replace an existing file (`H5F_ACC_TRUNC`); when `false`, an
    ///   existing file is `HDF5Error.fileExists`.
    /// - Throws: `HDF5Error.mpiNotInitialized` before `MPIRuntime.initialize`,
    ///   `.fileExists`, or `.callFailed` with HDF5's error stack.
    public static func create(path: String, communicator: Communicator, overwrite: Bool = true) throws -> HDF5File {
        try make(path: path, communicator: communicator) { fapl in
            // Ranks agree on whether the file exists, so they all fail alike (none waits in H5Fcreate).
            if !overwrite, try communicator.allreduce(Int64(fileExists(path) ? 1 : 0), op: .max) == 1 {
                throw HDF5Error.fileExists(path: path)
            }
            let flags = overwrite ? chrono_h5f_acc_trunc() : chrono_h5f_acc_excl()
            return try h5check(H5Fcreate(path, flags, chrono_h5p_default(), fapl), "H5Fcreate", path)
        }
    }

    /// Opens an existing file collectively over `communicator` with the MPI-IO driver
    /// (`H5Pset_fapl_mpio`, `H5Fopen`).
    ///
    /// Collective over `communicator`: every rank calls with the same path and mode.
    /// - Throws: `HDF5Error.fileNotFound` when nothing is at `path` on some rank (all ranks then
    ///   throw it), `.notAnHDF5File` when it is not a readable HDF5 file, `.mpiNotInitialized`,
    ///   `MPIError` if the ranks cannot agree, or `.callFailed`.
    public static func open(path: String, mode: Mode = .readOnly, communicator: Communicator) throws -> HDF5File {
        try make(path: path, communicator: communicator) { fapl in
            // Ranks agree on whether the file exists (a path missing on some nodes fails on all
            // ranks alike instead of leaving the others waiting in H5Fopen).
            guard try communicator.allreduce(Int64(fileExists(path) ? 1 : 0), op: .min) == 1 else {
                throw HDF5Error.fileNotFound(path: path)
            }
            return try openChecked(path: path, mode: mode, fapl: fapl)
        }
    }

    // MARK: Serial

    /// Creates a file with the default (POSIX) driver, for a single process (`H5Fcreate`).
    ///
    /// Not collective; needs no MPI (it works in a process that never initialises MPI).
    /// - Parameter overwrite: replace an existing file; when `false`, an existing file is
    ///   `HDF5Error.fileExists`.
    public static func createSerial(path: String, overwrite: Bool = true) throws -> HDF5File {
        try make(path: path, communicator: nil) { fapl in
            if !overwrite, fileExists(path) { throw HDF5Error.fileExists(path: path) }
            let flags = overwrite ? chrono_h5f_acc_trunc() : chrono_h5f_acc_excl()
            return try h5check(H5Fcreate(path, flags, chrono_h5p_default(), fapl), "H5Fcreate", path)
        }
    }

    /// Opens an existing file with the default (POSIX) driver, for a single process (`H5Fopen`).
    ///
    /// Not collective; needs no MPI: offline tools such as the `chronolog` CLI read archives
    /// this way without `mpirun`.
    /// - Throws: `HDF5Error.fileNotFound`, `.notAnHDF5File`, or `.callFailed`.
    public static func openSerial(path: String, mode: Mode = .readOnly) throws -> HDF5File {
        try make(path: path, communicator: nil) { fapl in
            try openChecked(path: path, mode: mode, fapl: fapl)
        }
    }

    // MARK: Objects

    /// The root group `/`. Opened on first use and closed with the file.
    /// - Throws: `HDF5Error.closed` after `close()`.
    public var root: HDF5Group {
        get throws {
        if let rootGroup, rootGroup.isOpen { return rootGroup }
        let file = try state.openID()
        let id = try h5check(H5Gopen2(file, "/", chrono_h5p_default()), "H5Gopen2", path)
        let group = HDF5Group(state: state, handle: state.adopt(id, kind: .group, name: "/"), path: "/")
        rootGroup = group
        return group
        }
    }

    /// Writes everything cached for the file to storage (`H5Fflush`, global scope). After a
    /// flush the file opens with everything written so far even if the process is then killed.
    ///
    /// Collective over the file's communicator for a parallel file.
    public func flush() throws {
        let file = try state.openID()
        try h5check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush", path)
    }

    /// Reserves `bytes` of storage just past the file's current end without changing its size
    /// (`fallocate` with `FALLOC_FL_KEEP_SIZE`), so that writes growing the file by up to that much
    /// cannot fail for lack of space. Where the file system cannot reserve, checks instead that
    /// `statvfs` reports that much available (space others take afterwards is then not covered).
    ///
    /// Not collective and not an HDF5 call: for a parallel file, one rank reserves for all.
    /// - Returns: the bytes the file system reported available before the reservation (-1 if unknown).
    /// - Throws: `HDF5Error.systemCallFailed` naming `fallocate`, the path, the errno and its text
    ///   (`No space left on device` when there is not enough room), and how much was asked for.
    @discardableResult
    public func reserveSpace(bytes: Int) throws(HDF5Error) -> Int {
        _ = try state.openID()
        var size: Int64 = -1, available: Int64 = -1
        let rc = chrono_reserve_file_space(path, Int64(bytes), &size, &available)
        guard rc == 0 else {
            let free = available >= 0 ? "\(available) B available on its file system" : "available space unknown"
            throw .systemCallFailed(call: "fallocate", path: path, code: rc,
                                    message: "\(HDF5ErrorStack.systemErrorText(rc)): reserving \(bytes) B past the file's "
                                        + "end (\(size) B) for the next writes, \(free)")
        }
        return Int(available)
    }

    /// Gives back storage that ``reserveSpace(bytes:)`` reserved past the end of the file at
    /// `path` and writes did not use (`fallocate` punching `bytes` from its end, keeping its size):
    /// call it after the file was closed. Best effort: file systems that cannot punch keep it.
    ///
    /// Not collective and not an HDF5 call: for a parallel file, one rank releases for all.
    /// - Returns: `true` when the storage was released.
    @discardableResult
    public static func releaseReservedSpace(path: String, bytes: Int) -> Bool {
        chrono_release_file_space(path, Int64(bytes)) == 0
    }

    /// Drops the cached pages of the file at `path` except its last `keepingLast` bytes
    /// (`posix_fadvise` `DONTNEED`): pages written and synced are freed at once, dirty ones stay.
    /// Call it after a flush. Best effort, not collective and not an HDF5 call: every node's page
    /// cache is its own, so one rank per node calls it.
    /// - Returns: the bytes of the file advised, or `nil` when the call failed.
    @discardableResult
    public static func dropCachedPages(path: String, keepingLast: Int) -> Int? {
        var dropped: Int64 = 0
        guard chrono_drop_cached_pages(path, Int64(keepingLast), &dropped) == 0 else { return nil }
        return Int(dropped)
    }

    /// Closes every group and dataset opened through this file (datasets first), then the
    /// file itself (`H5Dclose`, `H5Gclose`, `H5Fclose`). Later calls do nothing; objects of a
    /// closed file throw `HDF5Error.closed`.
    ///
    /// Collective over the file's communicator for a parallel file: every rank calls it, and
    /// before `MPIRuntime.finalize()`.
    /// - Throws: the first failure; everything is closed regardless.
    public func close() throws {
        closeWritebackDescriptor()
        try state.closeAll()
    }

    deinit { closeWritebackDescriptor() }

    /// Starts writing the file's dirty pages to storage without waiting for them
    /// (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`), so that a later ``flush()`` has less left
    /// to write: an archive round that starts the write-back of each chunk as it goes waits far
    /// less in its flush (which syncs the file) than one that leaves it all to the flush.
    /// Not collective and not an HDF5 call; it changes nothing of what the flush guarantees. Best
    /// effort: where the file system cannot do it (or the file cannot be opened again by its
    /// path) it does nothing, then or later.
    /// - Returns: whether the write-back was started.
    @discardableResult
    public func startWriteback() -> Bool {
        guard !writebackUnsupported, state.isOpen else { return false }
        if writebackDescriptor < 0 {
            writebackDescriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard writebackDescriptor >= 0 else {
                writebackUnsupported = true
                return false
            }
        }
        guard chrono_start_writeback(writebackDescriptor) == 0 else {
            writebackUnsupported = true
            closeWritebackDescriptor()
            return false
        }
        return true
    }

    private func closeWritebackDescriptor() {
        if writebackDescriptor >= 0 { _ = Glibc.close(writebackDescriptor) }
        writebackDescriptor = -1
    }

    // MARK: Helpers

    /// Whether anything exists at `path` (`access(F_OK)`).
    static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Opens an existing file, telling apart a missing file, a non-HDF5 file and other failures.
    private static func openChecked(path: String, mode: Mode, fapl: hid_t) throws(HDF5Error) -> hid_t {
        guard fileExists(path) else { throw .fileNotFound(path: path) }
        let flags = mode == .readOnly ? chrono_h5f_acc_rdonly() : chrono_h5f_acc_rdwr()
        let id = H5Fopen(path, flags, fapl)
        if id >= 0 { return id }
        let stack = HDF5ErrorStack.takeText()
        if stack.contains("file signature not found") || stack.contains("unable to read superblock")
            || stack.contains("truncated file") {
            throw .notAnHDF5File(path: path, stack: stack)
        }
        throw .callFailed(call: "H5Fopen", object: path, stack: stack)
    }

    /// Builds the file-access list (MPI-IO over `communicator`, or the default driver), runs
    /// `body` to create or open the file, and wraps the id; cleans up on failure.
    private static func make(path: String, communicator: Communicator?,
                             _ body: (hid_t) throws -> hid_t) throws -> HDF5File {
        HDF5Library.prepare()
        guard let communicator else {
            let id = try body(chrono_h5p_default())
            let state = FileState(path: path, fileID: id, isParallel: false, fapl: nil, collective: nil, independent: nil)
            return HDF5File(state: state, communicator: nil)
        }
        guard MPIRuntime.isInitialized, !MPIRuntime.isFinalized, let comm = communicator.handle else {
            throw HDF5Error.mpiNotInitialized(path: path)
        }
        var lists: [hid_t] = []
        do {
            let fapl = try h5check(H5Pcreate(chrono_h5p_file_access()), "H5Pcreate", path)
            lists.append(fapl)
            try h5check(chrono_h5p_set_fapl_mpio(fapl, comm), "H5Pset_fapl_mpio", path)
            try h5check(chrono_h5p_set_metadata_writes_at_flush(fapl), "H5Pset_mdc_config", path)
            let collective = try h5check(H5Pcreate(chrono_h5p_dataset_xfer()), "H5Pcreate", path)
            lists.append(collective)
            try h5check(chrono_h5p_set_dxpl_mpio(collective, 1), "H5Pset_dxpl_mpio", path)
            let independent = try h5check(H5Pcreate(chrono_h5p_dataset_xfer()), "H5Pcreate", path)
            lists.append(independent)
            try h5check(chrono_h5p_set_dxpl_mpio(independent, 0), "H5Pset_dxpl_mpio", path)
            let id = try body(fapl)
            let state = FileState(path: path, fileID: id, isParallel: true, fapl: fapl,
                                  collective: collective, independent: independent)
            return HDF5File(state: state, communicator: communicator)
        } catch {
            for plist in lists { H5Pclose(plist) }
            throw error
        }
    }
}
