import CChronoShims
import CMPI

/// MPI's dynamic-process calls: ports, the name service (`ompi-server` with Open MPI) and
/// intercommunicators between separately started jobs (docs/ATTACH.md).
public enum MPIPort {
    /// Opens a port this process can accept connections on (`MPI_Open_port`). Not collective.
    public static func open() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(chrono_mpi_max_port_name()) + 1)
        try check(MPI_Open_port(chrono_mpi_info_null(), &buffer), "MPI_Open_port")
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Closes a port opened by ``open()`` (`MPI_Close_port`).
    public static func close(_ port: String) throws {
        try check(MPI_Close_port(port), "MPI_Close_port")
    }

    /// Publishes `port` under `service` in the name server (`MPI_Publish_name`).
    public static func publish(_ service: String, port: String) throws {
        try check(MPI_Publish_name(service, chrono_mpi_info_null(), port), "MPI_Publish_name")
    }

    /// Withdraws a published name (`MPI_Unpublish_name`).
    public static func unpublish(_ service: String, port: String) throws {
        try check(MPI_Unpublish_name(service, chrono_mpi_info_null(), port), "MPI_Unpublish_name")
    }

    /// The port published under `service` (`MPI_Lookup_name`); throws when none is.
    /// Errors on `MPI_COMM_WORLD`'s handler: call ``Communicator/setErrorsReturnOnWorld()`` first.
    public static func lookup(_ service: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(chrono_mpi_max_port_name()) + 1)
        try check(MPI_Lookup_name(service, chrono_mpi_info_null(), &buffer), "MPI_Lookup_name")
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Waits for one client on `port` (`MPI_Comm_accept` over `MPI_COMM_SELF`): blocks the calling
    /// thread until a client connects. The intercommunicator carries `MPI_ERRORS_RETURN`; release it
    /// with ``Communicator/freeLocal()``.
    public static func accept(_ port: String) throws -> Communicator {
        var out: MPI_Comm? = chrono_mpi_comm_null()
        try check(MPI_Comm_accept(port, chrono_mpi_info_null(), 0, chrono_mpi_comm_self(), &out), "MPI_Comm_accept")
        let comm = Communicator(handle: out, owned: true)
        try comm.setErrorsReturn()
        return comm
    }

    /// Connects this process alone to `port` (`MPI_Comm_connect` over `MPI_COMM_SELF`).
    /// The intercommunicator carries `MPI_ERRORS_RETURN`.
    public static func connect(_ port: String) throws -> Communicator {
        var out: MPI_Comm? = chrono_mpi_comm_null()
        try check(MPI_Comm_connect(port, chrono_mpi_info_null(), 0, chrono_mpi_comm_self(), &out), "MPI_Comm_connect")
        let comm = Communicator(handle: out, owned: true)
        try comm.setErrorsReturn()
        return comm
    }
}

extension Communicator {
    /// Sets `MPI_ERRORS_RETURN` on `MPI_COMM_WORLD` and `MPI_COMM_SELF`, whose handlers govern the
    /// name-service and connect calls.
    public static func setErrorsReturnOnWorld() throws {
        try check(MPI_Comm_set_errhandler(chrono_mpi_comm_world(), chrono_mpi_errors_return()), "MPI_Comm_set_errhandler")
        try check(MPI_Comm_set_errhandler(chrono_mpi_comm_self(), chrono_mpi_errors_return()), "MPI_Comm_set_errhandler")
    }

}
