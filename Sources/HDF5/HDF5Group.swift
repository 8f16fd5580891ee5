import CChronoShims
import CHDF5

/// An open group of an `HDF5File`: creates and opens subgroups and datasets, lists members,
/// and holds attributes.
///
/// Paths are relative to this group unless they start with `/`; `a/b/c` names nested groups.
/// For a parallel file, calls that change the file's structure (`createGroup`,
/// `createDataset`, attribute writes, `close`) are collective over the file's communicator:
/// every rank makes the same calls in the same order with the same arguments. Opening,
/// listing and existence checks only read, and may be made by any rank alone.
public final class HDF5Group {
    let state: FileState
    let handle: ObjectHandle

    /// The absolute path of the group inside the file (`/` for the root group).
    public let path: String

    init(state: FileState, handle: ObjectHandle, path: String) {
        self.state = state
        self.handle = handle
        self.path = path
    }

    deinit {
        // A serial file's group is closed quietly; a parallel file's waits for `HDF5File.close()`.
        if !state.isParallel, handle.id != nil, state.isOpen { try? state.close(handle) }
    }

    /// Whether the group and its file are open.
    public var isOpen: Bool { state.isOpen && handle.id != nil }

    /// The attributes of this group.
    public var attributes: HDF5Attributes { HDF5Attributes(state: state, handle: handle) }

    /// Creates a group at `path`, creating missing intermediate groups (`H5Gcreate2` with
    /// `H5Pset_create_intermediate_group`).
    ///
    /// Collective over the file's communicator for a parallel file.
    /// - Throws: `HDF5Error.callFailed` if it exists already or cannot be created.
    public func createGroup(_ path: String) throws -> HDF5Group {
        let id = try state.id(of: handle)
        let full = joinPath(self.path, path)
        let lcpl = try h5check(H5Pcreate(chrono_h5p_link_create()), "H5Pcreate", label(full))
        defer { H5Pclose(lcpl) }
        try h5check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group", label(full))
        let group = try h5check(H5Gcreate2(id, path, lcpl, chrono_h5p_default(), chrono_h5p_default()),
                                "H5Gcreate2", label(full))
        return HDF5Group(state: state, handle: state.adopt(group, kind: .group, name: full), path: full)
    }

    /// Opens the existing group at `path` (`H5Gopen2`). Not collective.
    /// - Throws: `HDF5Error.notFound` if there is no such object, `.callFailed` if it is not a
    ///   group or cannot be opened.
    public func openGroup(_ path: String) throws -> HDF5Group {
        let id = try state.id(of: handle)
        let full = joinPath(self.path, path)
        guard try exists(path) else { throw HDF5Error.notFound(object: label(self.path), name: path) }
        let group = try h5check(H5Gopen2(id, path, chrono_h5p_default()), "H5Gopen2", label(full))
        return HDF5Group(state: state, handle: state.adopt(group, kind: .group, name: full), path: full)
    }

    /// Whether a link (group, dataset, ...) exists at `path`, checking each component in turn so
    /// a missing intermediate group answers `false` (`H5Lexists`). Not collective.
    public func exists(_ path: String) throws -> Bool {
        let id = try state.id(of: handle)
        let parts = pathComponents(path)
        if parts.isEmpty { return true }
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in parts {
            prefix += "/" + part
            if !(try h5checkBool(H5Lexists(id, prefix, chrono_h5p_default()), "H5Lexists", label(joinPath(self.path, path)))) {
                return false
            }
        }
        return true
    }

    /// The names of the group's direct members (groups, datasets, other links), in name order
    /// (`H5Gget_info`, `H5Lget_name_by_idx`). Not collective.
    public func memberNames() throws -> [String] {
        let id = try state.id(of: handle)
        var info = H5G_info_t()
        try h5check(H5Gget_info(id, &info), "H5Gget_info", label(path))
        var names: [String] = []
        names.reserveCapacity(Int(info.nlinks))
        for i in 0..<Int(info.nlinks) {
            names.append(try NameBuffer.linkName(group: id, index: i, label: label(path)))
        }
        return names
    }

    /// Creates a chunked, extendible dataset of `T` at `path` with `rows` rows to start
    /// (`H5Dcreate2`). It is 1-D when `columns` is `nil`, else 2-D of rows × `columns`
    /// (a table of fixed-size records, e.g. 32-byte records as `UInt8` × 32). Rows can be
    /// added without limit with `HDF5Dataset.extend(to:)`.
    ///
    /// Collective over the file's communicator for a parallel file.
    /// - Parameters:
    ///   - chunkRows: rows per chunk (the unit of storage allocation and I/O).
    ///   - fillsNewChunks: `true` (HDF5's default): chunks are written with the fill value (zeros)
    ///     when allocated, which in a parallel file happens inside `extend(to:)`, a collective
    ///     write of every chunk the new extent reaches. `false` (`H5D_FILL_TIME_NEVER`, allocation
    ///     early): allocating writes nothing, so `extend(to:)` does no data I/O, and rows not yet
    ///     written read as whatever the file's space held (zeros on a fresh file system block).
    /// - Throws: `HDF5Error.invalidArgument` for non-positive sizes, `.callFailed` if the
    ///   dataset exists or cannot be created.
    public func createDataset<T: HDF5Element>(_ path: String, of _: T.Type, columns: Int? = nil,
                                              chunkRows: Int = 4096, rows: Int = 0,
                                              fillsNewChunks: Bool = true) throws -> HDF5Dataset {
        try createDataset(path, elementType: T.hdf5Type, columns: columns, chunkRows: chunkRows, rows: rows,
                          fillsNewChunks: fillsNewChunks)
    }

    /// Creates a chunked, extendible dataset whose element type is given at run time; see
    /// `createDataset(_:of:columns:chunkRows:rows:fillsNewChunks:)`. Collective over the file's
    /// communicator for a parallel file.
    public func createDataset(_ path: String, elementType: HDF5ElementType, columns: Int? = nil,
                              chunkRows: Int = 4096, rows: Int = 0, fillsNewChunks: Bool = true) throws -> HDF5Dataset {
        let id = try state.id(of: handle)
        let full = joinPath(self.path, path)
        guard chunkRows > 0, rows >= 0, (columns ?? 1) > 0 else {
            throw HDF5Error.invalidArgument(
                object: label(full),
                detail: "chunkRows (\(chunkRows)) and columns (\(columns ?? 1)) must be positive, rows (\(rows)) not negative")
        }
        let dims = columns.map { [rows, $0] } ?? [rows]
        let maxDims: [Int?] = columns.map { [nil, $0] } ?? [nil]
        let chunk = columns.map { [chunkRows, $0] } ?? [chunkRows]
        let space = try Dataspace.simple(dims, maxDims: maxDims, label: label(full))
        defer { H5Sclose(space) }
        let dcpl = try h5check(H5Pcreate(chrono_h5p_dataset_create()), "H5Pcreate", label(full))
        defer { H5Pclose(dcpl) }
        try DatasetCreation.setChunk(dcpl, chunk, label: label(full))
        if !fillsNewChunks { try DatasetCreation.setNoFill(dcpl, label: label(full)) }
        let lcpl = try h5check(H5Pcreate(chrono_h5p_link_create()), "H5Pcreate", label(full))
        defer { H5Pclose(lcpl) }
        try h5check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group", label(full))
        let dataset = try h5check(
            H5Dcreate2(id, path, elementType.fileType, space, lcpl, dcpl, chrono_h5p_default()),
            "H5Dcreate2", label(full))
        let h = state.adopt(dataset, kind: .dataset, name: full)
        return HDF5Dataset(state: state, handle: h, path: full, elementType: elementType, columns: columns)
    }

    /// Opens the existing dataset at `path` (`H5Dopen2`), reading its element type and shape.
    /// Not collective.
    /// - Parameter chunkCache: `false` opens it without a chunk cache (`H5Pset_chunk_cache` of 0
    ///   bytes): each read goes straight from the file into the caller's buffer, partial chunks
    ///   included, with no copy through the cache — for large reads that do not come back.
    /// - Throws: `HDF5Error.notFound`, `.unsupported` for types or ranks the wrapper does not
    ///   handle (only the `HDF5ElementType`s, 1-D or 2-D), or `.callFailed`.
    public func openDataset(_ path: String, chunkCache: Bool = true) throws -> HDF5Dataset {
        let id = try state.id(of: handle)
        let full = joinPath(self.path, path)
        guard try exists(path) else { throw HDF5Error.notFound(object: label(self.path), name: path) }
        let dapl = chunkCache ? chrono_h5p_default() : try h5check(H5Pcreate(chrono_h5p_dataset_access()), "H5Pcreate", label(full))
        defer { if !chunkCache { H5Pclose(dapl) } }
        if !chunkCache { try h5check(H5Pset_chunk_cache(dapl, 0, 0, 1.0), "H5Pset_chunk_cache", label(full)) }
        let dataset = try h5check(H5Dopen2(id, path, dapl), "H5Dopen2", label(full))
        do {
            let type = try h5check(H5Dget_type(dataset), "H5Dget_type", label(full))
            defer { H5Tclose(type) }
            guard let element = HDF5ElementType.from(datatype: type) else {
                throw HDF5Error.unsupported(object: label(full), detail: "element type \(HDF5ElementType.describe(datatype: type))")
            }
            let dims = try Dataspace.dims(ofDataset: dataset, label: label(full))
            guard dims.count == 1 || dims.count == 2 else {
                throw HDF5Error.unsupported(object: label(full), detail: "\(dims.count)-dimensional dataset")
            }
            let h = state.adopt(dataset, kind: .dataset, name: full)
            return HDF5Dataset(state: state, handle: h, path: full, elementType: element,
                               columns: dims.count == 2 ? dims[1] : nil)
        } catch {
            H5Dclose(dataset)
            throw error
        }
    }

    /// Closes the group (`H5Gclose`); objects opened through it stay open. Later calls do
    /// nothing. Collective over the file's communicator for a parallel file.
    public func close() throws {
        guard state.isOpen else { return }
        try state.close(handle)
    }

    private func label(_ p: String) -> String { "\(state.path):\(p)" }
}
