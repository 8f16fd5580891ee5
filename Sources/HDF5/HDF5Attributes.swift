import CChronoShims
import CHDF5

/// The value of a scalar attribute.
public enum HDF5AttributeValue: Sendable, Equatable, CustomStringConvertible {
    /// UTF-8 text, stored as a variable-length string with `H5T_CSET_UTF8`.
    case string(String)
    /// An unsigned integer, stored as `H5T_STD_U64LE`.
    case uint64(UInt64)
    /// A signed integer, stored as `H5T_STD_I64LE`.
    case int64(Int64)
    /// A floating-point number, stored as `H5T_IEEE_F64LE`.
    case double(Double)

    /// The value as text; strings in quotes.
    public var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .uint64(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .double(let v): "\(v)"
        }
    }
}

/// The attributes of one group or dataset: scalar UTF-8 strings and numbers.
///
/// For a parallel file, `set` and `remove` are collective over the file's communicator: every
/// rank calls them in the same order with the same name and the same value (attributes are
/// file metadata, written once for all ranks). Reads are local and may be made by any rank.
public struct HDF5Attributes {
    let state: FileState
    let handle: ObjectHandle

    private var label: String { handle.label }

    /// Sets attribute `name` to `value`, replacing any attribute of that name
    /// (`H5Adelete`, `H5Acreate2`, `H5Awrite`). Strings may hold any Unicode text; text after an
    /// embedded NUL is not stored.
    ///
    /// Collective over the file's communicator for a parallel file, with the same value on
    /// every rank.
    public func set(_ name: String, _ value: HDF5AttributeValue) throws {
        let object = try state.id(of: handle)
        if try contains(name) {
            try h5check(H5Adelete(object, name), "H5Adelete", "\(label) attribute \(name)")
        }
        let where_ = "\(label) attribute \(name)"
        let space = try h5check(H5Screate(H5S_SCALAR), "H5Screate", where_)
        defer { H5Sclose(space) }
        let fileType: hid_t
        var ownsType = false
        switch value {
        case .string:
            fileType = try h5check(H5Tcopy(chrono_h5t_c_s1()), "H5Tcopy", where_)
            ownsType = true
        case .uint64: fileType = chrono_h5t_std_u64le()
        case .int64: fileType = chrono_h5t_std_i64le()
        case .double: fileType = chrono_h5t_ieee_f64le()
        }
        defer { if ownsType { H5Tclose(fileType) } }
        if case .string = value {
            try h5check(H5Tset_size(fileType, chrono_h5t_variable()), "H5Tset_size", where_)
            try h5check(H5Tset_cset(fileType, H5T_CSET_UTF8), "H5Tset_cset", where_)
        }
        let attribute = try h5check(
            H5Acreate2(object, name, fileType, space, chrono_h5p_default(), chrono_h5p_default()), "H5Acreate2", where_)
        defer { H5Aclose(attribute) }
        switch value {
        case .string(let s): try AttributeIO.writeString(s, attribute: attribute, type: fileType, label: where_)
        case .uint64(let v): try AttributeIO.writeScalar(v, attribute: attribute, memType: chrono_h5t_native_uint64(), label: where_)
        case .int64(let v): try AttributeIO.writeScalar(v, attribute: attribute, memType: chrono_h5t_native_int64(), label: where_)
        case .double(let v): try AttributeIO.writeScalar(v, attribute: attribute, memType: chrono_h5t_native_double(), label: where_)
        }
    }

    /// The value of attribute `name` (`H5Aopen`, `H5Aread`). Strings stored fixed-length or
    /// variable-length are both read; unsigned integers come back as `.uint64`, signed as
    /// `.int64`, floats as `.double`. Not collective.
    /// - Throws: `HDF5Error.notFound` if there is no such attribute, `.unsupported` for
    ///   non-scalar or other types, `.callFailed` otherwise.
    public func value(_ name: String) throws -> HDF5AttributeValue {
        let object = try state.id(of: handle)
        guard try contains(name) else { throw HDF5Error.notFound(object: label, name: name) }
        let where_ = "\(label) attribute \(name)"
        let attribute = try h5check(H5Aopen(object, name, chrono_h5p_default()), "H5Aopen", where_)
        defer { H5Aclose(attribute) }
        let space = try h5check(H5Aget_space(attribute), "H5Aget_space", where_)
        defer { H5Sclose(space) }
        let points = try h5check(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints", where_)
        guard points == 1 else {
            throw HDF5Error.unsupported(object: where_, detail: "attribute with \(points) elements, not a scalar")
        }
        let type = try h5check(H5Aget_type(attribute), "H5Aget_type", where_)
        defer { H5Tclose(type) }
        switch H5Tget_class(type) {
        case H5T_STRING:
            return .string(try AttributeIO.readString(attribute: attribute, fileType: type, label: where_))
        case H5T_INTEGER where H5Tget_sign(type) == H5T_SGN_2:
            return .int64(try AttributeIO.readScalar(Int64(0), attribute: attribute, memType: chrono_h5t_native_int64(), label: where_))
        case H5T_INTEGER:
            return .uint64(try AttributeIO.readScalar(UInt64(0), attribute: attribute, memType: chrono_h5t_native_uint64(), label: where_))
        case H5T_FLOAT:
            return .double(try AttributeIO.readScalar(0.0, attribute: attribute, memType: chrono_h5t_native_double(), label: where_))
        default:
            throw HDF5Error.unsupported(object: where_, detail: "attribute of type \(HDF5ElementType.describe(datatype: type))")
        }
    }

    /// The text of string attribute `name`. Not collective.
    /// - Throws: `HDF5Error.typeMismatch` if it is not a string; see `value(_:)`.
    public func string(_ name: String) throws -> String {
        let v = try value(name)
        guard case .string(let s) = v else { throw mismatch(name, expected: "string", v) }
        return s
    }

    /// The value of unsigned integer attribute `name`. Not collective.
    /// - Throws: `HDF5Error.typeMismatch` if it is not an unsigned integer; see `value(_:)`.
    public func uint64(_ name: String) throws -> UInt64 {
        let v = try value(name)
        guard case .uint64(let x) = v else { throw mismatch(name, expected: "uint64", v) }
        return x
    }

    /// The value of signed integer attribute `name`. Not collective.
    /// - Throws: `HDF5Error.typeMismatch` if it is not a signed integer; see `value(_:)`.
    public func int64(_ name: String) throws -> Int64 {
        let v = try value(name)
        guard case .int64(let x) = v else { throw mismatch(name, expected: "int64", v) }
        return x
    }

    /// The value of floating-point attribute `name`. Not collective.
    /// - Throws: `HDF5Error.typeMismatch` if it is not a float; see `value(_:)`.
    public func double(_ name: String) throws -> Double {
        let v = try value(name)
        guard case .double(let x) = v else { throw mismatch(name, expected: "double", v) }
        return x
    }

    /// The names of all attributes, in name order (`H5Oget_info2`, `H5Aget_name_by_idx`).
    /// Not collective.
    public func names() throws -> [String] {
        let object = try state.id(of: handle)
        let count = try h5check(chrono_h5a_count(object), "H5Oget_info2", label)
        return try (0..<Int(count)).map { i throws in
            try NameBuffer.attributeName(object: object, index: i, label: label)
        }
    }

    /// Whether attribute `name` exists (`H5Aexists`). Not collective.
    public func contains(_ name: String) throws -> Bool {
        let object = try state.id(of: handle)
        return try h5checkBool(H5Aexists(object, name), "H5Aexists", "\(label) attribute \(name)")
    }

    /// Removes attribute `name` (`H5Adelete`). Collective over the file's communicator for a
    /// parallel file.
    /// - Throws: `HDF5Error.notFound` if there is no such attribute.
    public func remove(_ name: String) throws {
        let object = try state.id(of: handle)
        guard try contains(name) else { throw HDF5Error.notFound(object: label, name: name) }
        try h5check(H5Adelete(object, name), "H5Adelete", "\(label) attribute \(name)")
    }

    private func mismatch(_ name: String, expected: String, _ actual: HDF5AttributeValue) -> HDF5Error {
        let kind = switch actual {
        case .string: "string"
        case .uint64: "uint64"
        case .int64: "int64"
        case .double: "double"
        }
        return .typeMismatch(object: "\(label) attribute \(name)", expected: expected, actual: kind)
    }
}
