// All of the HDF5 wrapper's pointer code lives in this file: error-stack text, dataspace
// dimensions, hyperslab transfers between Swift memory and datasets, names returned into C
// buffers, and string/scalar attribute values.

import CChronoShims
import CHDF5

#if canImport(Glibc)
import Glibc
#endif

/// HDF5's default error stack as text.
enum HDF5ErrorStack {
    /// The current error stack, one `; `-separated entry per frame, outermost first; clears it.
    /// The operating system's reason is part of it where HDF5 put it there (the POSIX driver's
    /// `errno = 28, error message = 'No space left on device'`, the MPI-IO driver's MPI error
    /// string); a short MPI-IO write leaves only "file write failed".
    static func takeText() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let len = buf.withUnsafeMutableBufferPointer { p in chrono_h5e_describe(p.baseAddress, p.count) }
        let bytes = buf.prefix(min(len, buf.count)).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    /// `strerror(code)`.
    static func systemErrorText(_ code: Int32) -> String {
        guard let p = strerror(code) else { return "error \(code)" }
        return String(cString: p)
    }
}

/// Dataspaces: creation, dimensions, row selections.
enum Dataspace {
    /// `H5Screate_simple` with `dims`; a `nil` entry of `maxDims` is `H5S_UNLIMITED`.
    static func simple(_ dims: [Int], maxDims: [Int?], label: String) throws -> hid_t {
        var d = dims.map { hsize_t($0) }
        var m = maxDims.map { $0.map { hsize_t($0) } ?? chrono_h5s_unlimited() }
        return try h5check(H5Screate_simple(Int32(d.count), &d, &m), "H5Screate_simple", label)
    }

    /// The current dimensions of a dataspace.
    static func dims(of space: hid_t, label: String) throws -> [Int] {
        let rank = try h5check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", label)
        var d = [hsize_t](repeating: 0, count: Int(rank))
        try h5check(H5Sget_simple_extent_dims(space, &d, nil), "H5Sget_simple_extent_dims", label)
        return d.map { Int($0) }
    }

    /// The dimensions of a dataset's current dataspace.
    static func dims(ofDataset dataset: hid_t, label: String) throws -> [Int] {
        let space = try h5check(H5Dget_space(dataset), "H5Dget_space", label)
        defer { H5Sclose(space) }
        return try dims(of: space, label: label)
    }

    /// Selects whole rows `rows` of a 1-D or 2-D (rows × `columns`) file dataspace; an empty
    /// range selects nothing.
    static func selectRows(_ space: hid_t, rows: Range<Int>, columns: Int, rank: Int, label: String) throws {
        if rows.isEmpty {
            try h5check(H5Sselect_none(space), "H5Sselect_none", label)
            return
        }
        var start = [hsize_t(rows.lowerBound)], count = [hsize_t(rows.count)]
        if rank == 2 {
            start.append(0)
            count.append(hsize_t(columns))
        }
        try h5check(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nil, &count, nil), "H5Sselect_hyperslab", label)
    }
}

/// Hyperslab transfers between caller memory and a dataset, without copies.
enum RawTransfer {
    /// A valid address for zero-length transfers (HDF5 wants a non-null buffer even when the
    /// selection is empty).
    nonisolated(unsafe) private static var dummy: UInt64 = 0

    /// Writes rows `rows` of `dataset` from `bytes` (exactly `rows.count × columns` elements of
    /// `memType`) with transfer list `dxpl` (`H5Dwrite`). An empty range writes nothing but
    /// still takes part in a collective transfer.
    static func write(dataset: hid_t, memType: hid_t, rows: Range<Int>, columns: Int, rank: Int, dxpl: hid_t,
                      bytes: UnsafeRawPointer?, label: String) throws {
        try withSpaces(dataset: dataset, rows: rows, columns: columns, rank: rank, label: label) { (mem, file) throws in
            if let bytes, !rows.isEmpty {
                try h5check(H5Dwrite(dataset, memType, mem, file, dxpl, bytes), "H5Dwrite", label)
            } else {
                try withUnsafePointer(to: &dummy) { (p) throws in
                    _ = try h5check(H5Dwrite(dataset, memType, mem, file, dxpl, p), "H5Dwrite", label)
                }
            }
        }
    }

    /// Reads rows `rows` of `dataset` into `buffer` (room for `rows.count × columns` elements of
    /// `memType`) with transfer list `dxpl` (`H5Dread`).
    static func read(dataset: hid_t, memType: hid_t, rows: Range<Int>, columns: Int, rank: Int, dxpl: hid_t,
                     into buffer: UnsafeMutableRawPointer?, label: String) throws {
        try withSpaces(dataset: dataset, rows: rows, columns: columns, rank: rank, label: label) { (mem, file) throws in
            if let buffer, !rows.isEmpty {
                try h5check(H5Dread(dataset, memType, mem, file, dxpl, buffer), "H5Dread", label)
            } else {
                try withUnsafeMutablePointer(to: &dummy) { (p) throws in
                    _ = try h5check(H5Dread(dataset, memType, mem, file, dxpl, p), "H5Dread", label)
                }
            }
        }
    }

    /// Reads rows into a new array of `T`.
    static func readArray<T: HDF5Element>(_: T.Type, dataset: hid_t, rows: Range<Int>, columns: Int, rank: Int,
                                          dxpl: hid_t, label: String) throws -> [T] {
        var out = [T](repeating: T.hdf5Zero, count: rows.count * columns)
        try out.withUnsafeMutableBytes { (p) throws in
            try read(dataset: dataset, memType: T.hdf5Type.nativeType, rows: rows, columns: columns, rank: rank,
                     dxpl: dxpl, into: p.baseAddress, label: label)
        }
        return out
    }

    /// Writes a contiguous buffer of `T` (the caller's storage, no copy).
    static func writeBuffer<T: HDF5Element>(_ values: UnsafeBufferPointer<T>, dataset: hid_t, offset: Int, columns: Int,
                                            rank: Int, dxpl: hid_t, label: String) throws {
        let rows = offset..<(offset + values.count / columns)
        try write(dataset: dataset, memType: T.hdf5Type.nativeType, rows: rows, columns: columns, rank: rank,
                  dxpl: dxpl, bytes: UnsafeRawPointer(values.baseAddress), label: label)
    }

    /// Writes any collection of `T`: its own contiguous storage when it has one, else a copy.
    static func writeCollection<C: Collection>(_ values: C, dataset: hid_t, offset: Int, columns: Int, rank: Int,
                                               dxpl: hid_t, label: String) throws where C.Element: HDF5Element {
        let result: Result<Void, any Error>? = values.withContiguousStorageIfAvailable { p in
            Result {
                try writeBuffer(p, dataset: dataset, offset: offset, columns: columns, rank: rank, dxpl: dxpl, label: label)
            }
        }
        if let result { return try result.get() }
        let copy = Array(values)
        try copy.withUnsafeBufferPointer { (p) throws in
            try writeBuffer(p, dataset: dataset, offset: offset, columns: columns, rank: rank, dxpl: dxpl, label: label)
        }
    }

    /// Makes the memory and file dataspaces for a row transfer and closes them afterwards.
    private static func withSpaces(dataset: hid_t, rows: Range<Int>, columns: Int, rank: Int, label: String,
                                   _ body: (hid_t, hid_t) throws -> Void) throws {
        let file = try h5check(H5Dget_space(dataset), "H5Dget_space", label)
        defer { H5Sclose(file) }
        try Dataspace.selectRows(file, rows: rows, columns: columns, rank: rank, label: label)
        let dims = rows.isEmpty ? [1] : (rank == 2 ? [rows.count, columns] : [rows.count])
        let mem = try Dataspace.simple(dims, maxDims: dims, label: label)
        defer { H5Sclose(mem) }
        if rows.isEmpty { try h5check(H5Sselect_none(mem), "H5Sselect_none", label) }
        try body(mem, file)
    }
}

/// Names that HDF5 returns by copying into a caller buffer (links, attributes).
enum NameBuffer {
    /// Calls `fill(nil, 0)` for the length, then `fill(buffer, length + 1)` for the text.
    static func read(_ call: StaticString, label: String,
                     _ fill: (UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> String {
        let len = try h5check(fill(nil, 0), call, label)
        var buf = [CChar](repeating: 0, count: len + 1)
        let got = try buf.withUnsafeMutableBufferPointer { (p) throws -> Int in
            try h5check(fill(p.baseAddress, p.count), call, label)
        }
        return String(decoding: buf.prefix(min(got, len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The name of link `index` (in name order) of group `group` (`H5Lget_name_by_idx`).
    static func linkName(group: hid_t, index: Int, label: String) throws -> String {
        try read("H5Lget_name_by_idx", label: label) { buf, size in
            Int(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), buf, size, chrono_h5p_default()))
        }
    }

    /// The name of attribute `index` (in name order) of `object` (`H5Aget_name_by_idx`).
    static func attributeName(object: hid_t, index: Int, label: String) throws -> String {
        try read("H5Aget_name_by_idx", label: label) { buf, size in
            Int(H5Aget_name_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), buf, size, chrono_h5p_default()))
        }
    }
}

/// Attribute values in and out of C memory.
enum AttributeIO {
    /// Writes a variable-length UTF-8 string into a scalar attribute of type `type`.
    static func writeString(_ value: String, attribute: hid_t, type: hid_t, label: String) throws {
        // `withCString` gives a NUL-terminated copy; the attribute stores the text up to it.
        try value.withCString { (cString) throws in
            var pointer: UnsafePointer<CChar>? = cString
            try withUnsafePointer(to: &pointer) { (p) throws in
                _ = try h5check(H5Awrite(attribute, type, p), "H5Awrite", label)
            }
        }
    }

    /// Reads a scalar string attribute stored as variable-length or fixed-length text.
    static func readString(attribute: hid_t, fileType: hid_t, label: String) throws -> String {
        let cset = H5Tget_cset(fileType)
        if try h5checkBool(H5Tis_variable_str(fileType), "H5Tis_variable_str", label) {
            let mem = try h5check(H5Tcopy(chrono_h5t_c_s1()), "H5Tcopy", label)
            defer { H5Tclose(mem) }
            try h5check(H5Tset_size(mem, chrono_h5t_variable()), "H5Tset_size", label)
            try h5check(H5Tset_cset(mem, cset), "H5Tset_cset", label)
            var ptr: UnsafeMutablePointer<CChar>? = nil
            try withUnsafeMutablePointer(to: &ptr) { (pp) throws in
                _ = try h5check(H5Aread(attribute, mem, pp), "H5Aread", label)
            }
            guard let ptr else { return "" }
            defer { H5free_memory(ptr) }
            return String(cString: ptr)
        }
        let size = H5Tget_size(fileType)
        guard size > 0 else { return "" }
        var buf = [UInt8](repeating: 0, count: size)
        try buf.withUnsafeMutableBytes { (p) throws in
            _ = try h5check(H5Aread(attribute, fileType, p.baseAddress), "H5Aread", label)
        }
        let end = buf.firstIndex(of: 0) ?? buf.count
        var text = buf[..<end]
        if H5Tget_strpad(fileType) == H5T_STR_SPACEPAD {
            while text.last == 0x20 { text = text.dropLast() }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Writes one scalar number of `T` (`H5Awrite`).
    static func writeScalar<T: BitwiseCopyable>(_ value: T, attribute: hid_t, memType: hid_t, label: String) throws {
        var v = value
        try withUnsafePointer(to: &v) { (p) throws in
            _ = try h5check(H5Awrite(attribute, memType, p), "H5Awrite", label)
        }
    }

    /// Reads one scalar number as `T`, converting from the stored type (`H5Aread`).
    static func readScalar<T: BitwiseCopyable>(_ initial: T, attribute: hid_t, memType: hid_t, label: String) throws -> T {
        var v = initial
        try withUnsafeMutablePointer(to: &v) { (p) throws in
            _ = try h5check(H5Aread(attribute, memType, p), "H5Aread", label)
        }
        return v
    }
}

/// Dataset-creation properties.
enum DatasetCreation {
    /// `H5Pset_chunk` with the chunk dimensions.
    static func setChunk(_ dcpl: hid_t, _ chunk: [Int], label: String) throws {
        let dims = chunk.map { hsize_t($0) }
        try dims.withUnsafeBufferPointer { (p) throws in
            _ = try h5check(H5Pset_chunk(dcpl, Int32(p.count), p.baseAddress), "H5Pset_chunk", label)
        }
    }

    /// `H5Pset_fill_time(H5D_FILL_TIME_NEVER)` with `H5Pset_alloc_time(H5D_ALLOC_TIME_EARLY)` (the
    /// allocation parallel HDF5 does anyway): allocating chunks writes nothing to the file.
    static func setNoFill(_ dcpl: hid_t, label: String) throws {
        try h5check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "H5Pset_fill_time", label)
        try h5check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time", label)
    }
}

/// Dataset extents.
enum DatasetExtent {
    /// `H5Dset_extent` with the new dimensions.
    static func set(_ dataset: hid_t, _ dims: [Int], label: String) throws {
        let d = dims.map { hsize_t($0) }
        try d.withUnsafeBufferPointer { (p) throws in
            _ = try h5check(H5Dset_extent(dataset, p.baseAddress), "H5Dset_extent", label)
        }
    }
}
