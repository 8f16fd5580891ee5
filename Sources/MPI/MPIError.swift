import CChronoShims
import CMPI

/// A failed MPI call: the call's name, MPI's error code and class, and MPI's own text for it.
///
/// Thrown by every wrapper in this module; the communicators this module creates use
/// `MPI_ERRORS_RETURN`, so a failing call returns here instead of aborting the job.
public struct MPIError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The MPI function that failed, e.g. `"MPI_Send"`.
    public let call: String
    /// The error code MPI returned.
    public let code: Int32
    /// The error class of `code` (`MPI_Error_class`), stable across implementations.
    public let errorClass: Int32
    /// MPI's text for the code (`MPI_Error_string`), or a description of a wrapper-level check.
    public let message: String

    /// Creates an error for a check done by the wrapper itself (no MPI code involved).
    public init(call: String, message: String) {
        self.call = call
        self.code = -1
        self.errorClass = -1
        self.message = message
    }

    init(call: String, code: Int32) {
        self.call = call
        self.code = code
        var cls: Int32 = 0
        if MPI_Error_class(code, &cls) != chrono_mpi_success() { cls = code }
        self.errorClass = cls
        var buf = [CChar](repeating: 0, count: Int(chrono_mpi_max_error_string()) + 1)
        var len: Int32 = 0
        if MPI_Error_string(code, &buf, &len) == chrono_mpi_success() {
            let bytes = buf.prefix(Int(len)).map { UInt8(bitPattern: $0) }
            self.message = String(decoding: bytes, as: UTF8.self)
        } else {
            self.message = "MPI error \(code)"
        }
    }

    public var description: String { "\(call) failed: \(message) (code \(code))" }
}

/// The one checking helper every MPI call goes through.
@inline(__always)
func check(_ rc: Int32, _ call: @autoclosure () -> String) throws(MPIError) {
    if rc != 0 { throw MPIError(call: call(), code: rc) }
}
