import CChronoShims
import CMPI

/// An MPI communicator.
///
/// `world` and `selfOnly` are predefined and never freed. Communicators made by `duplicate`,
/// `split` and `splitByNode` are owned: they carry `MPI_ERRORS_RETURN` and must be released
/// with `free()` (collective) before `MPIRuntime.finalize()`; `deinit` never frees them.
public final class Communicator: @unchecked Sendable {
    /// The raw handle, for the other wrapper modules of this package (HDF5's MPI-IO driver).
    package private(set) var handle: MPI_Comm?
    /// Whether this communicator was created by us (and so may be freed).
    public let isOwned: Bool

    package init(handle: MPI_Comm?, owned: Bool) {
        self.handle = handle
        self.isOwned = owned
    }

    /// `MPI_COMM_WORLD`: every process of the job (all applications of an MPMD launch).
    public static var world: Communicator { Communicator(handle: chrono_mpi_comm_world(), owned: false) }

    /// `MPI_COMM_SELF`: this process alone.
    public static var selfOnly: Communicator { Communicator(handle: chrono_mpi_comm_self(), owned: false) }

    /// This process's rank in the communicator (`MPI_Comm_rank`).
    public var rank: Int {
        var r: Int32 = 0
        _ = MPI_Comm_rank(handle, &r)
        return Int(r)
    }

    /// The number of processes in the communicator (`MPI_Comm_size`).
    public var size: Int {
        var s: Int32 = 0
        _ = MPI_Comm_size(handle, &s)
        return Int(s)
    }

    /// Checked rank query (`MPI_Comm_rank`); throws on a freed or invalid communicator.
    public func checkedRank() throws -> Int {
        var r: Int32 = 0
        try check(MPI_Comm_rank(handle, &r), "MPI_Comm_rank")
        return Int(r)
    }

    /// Duplicates the communicator (`MPI_Comm_dup`) and sets `MPI_ERRORS_RETURN` on the copy.
    /// Collective over this communicator.
    public func duplicate() throws -> Communicator {
        var out: MPI_Comm? = chrono_mpi_comm_null()
        try check(MPI_Comm_dup(handle, &out), "MPI_Comm_dup")
        return try Communicator.adopt(out)
    }

    /// Splits by `color` (`MPI_Comm_split`), ordering ranks by `key` then by old rank.
    /// Collective over this communicator.
    /// - Parameter color: the group to join, or `nil` to join none.
    /// - Returns: the new communicator, or `nil` for a process that passed `nil`.
    public func split(color: Int?, key: Int) throws -> Communicator? {
        var out: MPI_Comm? = chrono_mpi_comm_null()
        let c = color.map { Int32($0) } ?? chrono_mpi_undefined()
        try check(MPI_Comm_split(handle, c, Int32(key), &out), "MPI_Comm_split")
        if out == chrono_mpi_comm_null() { return nil }
        return try Communicator.adopt(out)
    }

    /// Splits into one communicator per shared-memory node
    /// (`MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`). Collective over this communicator.
    public func splitByNode(key: Int) throws -> Communicator {
        var out: MPI_Comm? = chrono_mpi_comm_null()
        try check(
            MPI_Comm_split_type(handle, chrono_mpi_comm_type_shared(), Int32(key), chrono_mpi_info_null(), &out),
            "MPI_Comm_split_type")
        return try Communicator.adopt(out)
    }

    /// Frees an owned communicator (`MPI_Comm_free`). Collective over this communicator.
    /// Freeing a predefined one, or twice, throws.
    public func free() throws {
        guard isOwned else {
            throw MPIError(call: "MPI_Comm_free", message: "a predefined communicator cannot be freed")
        }
        guard handle != chrono_mpi_comm_null() else {
            throw MPIError(call: "MPI_Comm_free", message: "communicator already freed")
        }
        try check(MPI_Comm_free(&handle), "MPI_Comm_free")
    }

    /// Releases this process's handle of an intercommunicator to another job (`MPI_Comm_free`),
    /// without waiting for the other side (`MPI_Comm_disconnect` would, and a dead peer never
    /// answers). Idempotent; nothing for a predefined communicator.
    public func freeLocal() {
        guard isOwned, handle != chrono_mpi_comm_null() else { return }
        _ = MPI_Comm_free(&handle)
    }

    /// Whether `free()` has been called.
    public var isFreed: Bool { handle == chrono_mpi_comm_null() }

    /// The `MPI_APPNUM` attribute of `MPI_COMM_WORLD`: which application of an MPMD launch
    /// (`mpirun -n 2 a : -n 3 b`) this process belongs to, or `nil` if MPI does not say.
    public static func appNumber() throws -> Int? {
        var value: UnsafeMutableRawPointer? = nil
        var flag: Int32 = 0
        try withUnsafeMutablePointer(to: &value) { (p) in
            try check(MPI_Comm_get_attr(chrono_mpi_comm_world(), chrono_mpi_appnum_keyval(), p, &flag), "MPI_Comm_get_attr")
        }
        guard flag != 0, let value else { return nil }
        return Int(value.assumingMemoryBound(to: Int32.self).pointee)
    }

    /// Sets `MPI_ERRORS_RETURN` on this communicator (`MPI_Comm_set_errhandler`).
    public func setErrorsReturn() throws {
        try check(MPI_Comm_set_errhandler(handle, chrono_mpi_errors_return()), "MPI_Comm_set_errhandler")
    }

    private static func adopt(_ raw: MPI_Comm?) throws -> Communicator {
        let comm = Communicator(handle: raw, owned: true)
        try comm.setErrorsReturn()
        return comm
    }
}
