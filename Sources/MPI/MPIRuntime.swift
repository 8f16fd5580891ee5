import CChronoShims
import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// The thread support level of an MPI library (`MPI_THREAD_*`), ordered from least to most.
public enum ThreadLevel: Int, Comparable, Sendable, CustomStringConvertible {
    case single = 0, funneled, serialized, multiple

    var raw: Int32 {
        switch self {
        case .single: chrono_mpi_thread_single()
        case .funneled: chrono_mpi_thread_funneled()
        case .serialized: chrono_mpi_thread_serialized()
        case .multiple: chrono_mpi_thread_multiple()
        }
    }

    init(raw: Int32) {
        switch raw {
        case chrono_mpi_thread_multiple(): self = .multiple
        case chrono_mpi_thread_serialized(): self = .serialized
        case chrono_mpi_thread_funneled(): self = .funneled
        default: self = .single
        }
    }

    public static func < (a: ThreadLevel, b: ThreadLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .single: "MPI_THREAD_SINGLE"
        case .funneled: "MPI_THREAD_FUNNELED"
        case .serialized: "MPI_THREAD_SERIALIZED"
        case .multiple: "MPI_THREAD_MULTIPLE"
        }
    }
}

/// Process-wide MPI state: initialisation, finalisation, time. Not collective unless noted.
public enum MPIRuntime {
    /// Initialises MPI (`MPI_Init_thread`) asking for `required`, and checks what was provided.
    ///
    /// Collective over all processes of the job. Sets `MPI_ERRORS_RETURN` on `MPI_COMM_WORLD` and
    /// `MPI_COMM_SELF` so later failures are thrown, not fatal.
    /// - Returns: the level the library provides (at least `required`).
    /// - Throws: `MPIError` if MPI is already initialised, if initialisation fails, or if the
    ///   library provides less than `required` (MPI stays initialised; call `finalize()`).
    @discardableResult
    public static func initialize(requiring required: ThreadLevel) throws -> ThreadLevel {
        if isInitialized {
            throw MPIError(call: "MPI_Init_thread", message: "MPI is already initialised in this process")
        }
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, required.raw, &provided), "MPI_Init_thread")
        try check(MPI_Comm_set_errhandler(chrono_mpi_comm_world(), chrono_mpi_errors_return()), "MPI_Comm_set_errhandler")
        try check(MPI_Comm_set_errhandler(chrono_mpi_comm_self(), chrono_mpi_errors_return()), "MPI_Comm_set_errhandler")
        let level = ThreadLevel(raw: provided)
        if level < required {
            throw MPIError(
                call: "MPI_Init_thread",
                message: "requested \(required) but the MPI library provides only \(level)")
        }
        return level
    }

    /// The thread level in force (`MPI_Query_thread`); `.single` before initialisation.
    public static var threadLevel: ThreadLevel {
        guard isInitialized, !isFinalized else { return .single }
        var provided: Int32 = 0
        _ = MPI_Query_thread(&provided)
        return ThreadLevel(raw: provided)
    }

    /// Finalises MPI (`MPI_Finalize`). Collective over all processes; free owned communicators first.
    public static func finalize() throws {
        try check(MPI_Finalize(), "MPI_Finalize")
    }

    /// Makes `MPI_Finalize` call `action` first, while MPI still works: the standard hook of a
    /// library that must leave before MPI ends (an attribute of `MPI_COMM_SELF`, which
    /// `MPI_Finalize` deletes before anything else). Actions run the last registered first. Call
    /// after initialisation.
    public static func callBeforeFinalize(_ action: @convention(c) () -> Void) throws {
        try check(chrono_mpi_call_before_finalize(action), "MPI_Comm_set_attr")
    }

    /// Whether `MPI_Init_thread` has been called (`MPI_Initialized`).
    public static var isInitialized: Bool {
        var flag: Int32 = 0
        _ = MPI_Initialized(&flag)
        return flag != 0
    }

    /// Whether `MPI_Finalize` has been called (`MPI_Finalized`).
    public static var isFinalized: Bool {
        var flag: Int32 = 0
        _ = MPI_Finalized(&flag)
        return flag != 0
    }

    /// Seconds since an arbitrary time in the past (`MPI_Wtime`), local to this process.
    public static func wtime() -> Double { MPI_Wtime() }

    /// The name of the host this process runs on (`MPI_Get_processor_name`).
    public static func processorName() throws -> String {
        var buf = [CChar](repeating: 0, count: Int(chrono_mpi_max_processor_name()) + 1)
        var len: Int32 = 0
        try check(MPI_Get_processor_name(&buf, &len), "MPI_Get_processor_name")
        return String(decoding: buf.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Aborts every process of `MPI_COMM_WORLD` with `code` (`MPI_Abort`). Last resort only.
    public static func abort(code: Int32) -> Never {
        _ = MPI_Abort(chrono_mpi_comm_world(), code)
        exit(code)
    }
}
