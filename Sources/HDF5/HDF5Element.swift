import CChronoShims
import CHDF5

/// The element types a dataset can hold, each stored little-endian in the file.
public enum HDF5ElementType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Unsigned 8-bit integers (`H5T_STD_U8LE`): raw bytes.
    case uint8
    /// Unsigned 32-bit integers (`H5T_STD_U32LE`).
    case uint32
    /// Unsigned 64-bit integers (`H5T_STD_U64LE`).
    case uint64
    /// Signed 64-bit integers (`H5T_STD_I64LE`).
    case int64
    /// 64-bit IEEE floating point (`H5T_IEEE_F64LE`).
    case double

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .uint8: 1
        case .uint32: 4
        case .uint64, .int64, .double: 8
        }
    }

    /// The type's name, e.g. `uint64`.
    public var description: String { rawValue }

    /// The in-memory type (`H5T_NATIVE_*`) used for transfers.
    var nativeType: hid_t {
        switch self {
        case .uint8: chrono_h5t_native_uint8()
        case .uint32: chrono_h5t_native_uint32()
        case .uint64: chrono_h5t_native_uint64()
        case .int64: chrono_h5t_native_int64()
        case .double: chrono_h5t_native_double()
        }
    }

    /// The type stored in the file (`H5T_STD_*LE`, `H5T_IEEE_F64LE`), fixed so files are the same
    /// on every machine.
    var fileType: hid_t {
        switch self {
        case .uint8: chrono_h5t_std_u8le()
        case .uint32: chrono_h5t_std_u32le()
        case .uint64: chrono_h5t_std_u64le()
        case .int64: chrono_h5t_std_i64le()
        case .double: chrono_h5t_ieee_f64le()
        }
    }

    /// The element type a stored datatype maps to without conversion loss, or `nil`.
    static func from(datatype t: hid_t) -> HDF5ElementType? {
        let size = H5Tget_size(t)
        switch H5Tget_class(t) {
        case H5T_INTEGER:
            let signed = H5Tget_sign(t) == H5T_SGN_2
            switch (size, signed) {
            case (1, false): return .uint8
            case (4, false): return .uint32
            case (8, false): return .uint64
            case (8, true): return .int64
            default: return nil
            }
        case H5T_FLOAT:
            return size == 8 ? .double : nil
        default:
            return nil
        }
    }

    /// A readable name of a stored datatype, for error messages.
    static func describe(datatype t: hid_t) -> String {
        let size = H5Tget_size(t)
        switch H5Tget_class(t) {
        case H5T_INTEGER: return "\(H5Tget_sign(t) == H5T_SGN_2 ? "int" : "uint")\(size * 8)"
        case H5T_FLOAT: return "float\(size * 8)"
        case H5T_STRING: return "string"
        case H5T_COMPOUND: return "compound"
        default: return "type class \(H5Tget_class(t).rawValue), \(size) bytes"
        }
    }
}

/// A Swift type that maps one-to-one onto an HDF5 element type, so arrays of it can be written
/// to and read from datasets without conversion. Conformances: `UInt8`, `UInt32`, `UInt64`,
/// `Int64`, `Double`.
public protocol HDF5Element: BitwiseCopyable {
    /// The HDF5 element type this Swift type is stored as.
    static var hdf5Type: HDF5ElementType { get }
    /// The value used to pre-size read buffers.
    static var hdf5Zero: Self { get }
}

extension UInt8: HDF5Element {
    /// Stored as `.uint8`.
    public static var hdf5Type: HDF5ElementType { .uint8 }
    /// Zero.
    public static var hdf5Zero: UInt8 { 0 }
}

extension UInt32: HDF5Element {
    /// Stored as `.uint32`.
    public static var hdf5Type: HDF5ElementType { .uint32 }
    /// Zero.
    public static var hdf5Zero: UInt32 { 0 }
}

extension UInt64: HDF5Element {
    /// Stored as `.uint64`.
    public static var hdf5Type: HDF5ElementType { .uint64 }
    /// Zero.
    public static var hdf5Zero: UInt64 { 0 }
}

extension Int64: HDF5Element {
    /// Stored as `.int64`.
    public static var hdf5Type: HDF5ElementType { .int64 }
    /// Zero.
    public static var hdf5Zero: Int64 { 0 }
}

extension Double: HDF5Element {
    /// Stored as `.double`.
    public static var hdf5Type: HDF5ElementType { .double }
    /// Zero.
    public static var hdf5Zero: Double { 0 }
}

/// How a dataset write or read moves data between the ranks of a parallel file.
public enum HDF5Transfer: Sendable {
    /// Every rank of the file's communicator takes part in the call (MPI-IO collective
    /// buffering); ranks with nothing to transfer pass an empty selection.
    case collective
    /// Each rank transfers on its own; the other ranks need not call.
    case independent
}
