import CChronoShims
import CHDF5

/// Where one chunk of a dataset lies in its file (``HDF5Dataset/chunkExtent(containingRow:)``).
public struct HDF5ChunkExtent: Sendable, Hashable {
    /// The rows the chunk holds (all of its size, rows past the extent included).
    public var rows: Range<Int>
    /// Byte offset in the file of the chunk's first row (rows follow each other, `rowByteCount` each).
    public var fileOffset: Int
}

/// An open chunked dataset: 1-D, or 2-D with a fixed number of columns (a table of fixed-size
/// records). Reads and writes address whole rows; for a 1-D dataset a row is one element.
///
/// For a parallel file: `extend(to:)`, attribute writes and `close()` are collective over the
/// file's communicator (every rank calls with the same arguments); `write` and `read` are
/// collective or independent as their `transfer` says. A collective transfer needs every rank,
/// so a rank with nothing to write passes an empty array (an empty selection).
public final class HDF5Dataset {
    let state: FileState
    let handle: ObjectHandle

    /// The absolute path of the dataset inside the file.
    public let path: String
    /// The type of the stored elements.
    public let elementType: HDF5ElementType
    /// Elements per row: `nil` for a 1-D dataset, the fixed second dimension for a 2-D one.
    public let columns: Int?

    /// Rows per chunk and filters, once looked up (``chunkExtent(containingRow:)``).
    private var layoutCache: (rows: Int, filters: Int)?

    init(state: FileState, handle: ObjectHandle, path: String, elementType: HDF5ElementType, columns: Int?) {
        self.state = state
        self.handle = handle
        self.path = path
        self.elementType = elementType
        self.columns = columns
    }

    deinit {
        // A serial file's dataset is closed quietly; a parallel file's waits for `HDF5File.close()`.
        if !state.isParallel, handle.id != nil, state.isOpen { try? state.close(handle) }
    }

    /// Whether the dataset and its file are open.
    public var isOpen: Bool { state.isOpen && handle.id != nil }

    /// The attributes of this dataset.
    public var attributes: HDF5Attributes { HDF5Attributes(state: state, handle: handle) }

    /// Elements per row (1 for a 1-D dataset).
    public var rowWidth: Int { columns ?? 1 }

    /// Bytes per row in memory.
    public var rowByteCount: Int { rowWidth * elementType.byteCount }

    private var rank: Int { columns == nil ? 1 : 2 }
    private var label: String { "\(state.path):\(path)" }

    /// The current number of rows (`H5Dget_space`, `H5Sget_simple_extent_dims`). Not collective;
    /// after a collective `extend(to:)` every rank sees the new extent.
    public var extent: Int {
        get throws {
            let id = try state.id(of: handle)
            return try Dataspace.dims(ofDataset: id, label: label)[0]
        }
    }

    /// Grows the dataset to `rows` rows (`H5Dset_extent`). Until written, new rows read as zeros
    /// in a serial file. In a parallel file the chunks the new extent reaches are allocated at
    /// once and, for a dataset created with `fillsNewChunks: true` (the default), written with
    /// zeros by every rank collectively inside this call; created with `fillsNewChunks: false`,
    /// nothing is written and their content is unspecified until written.
    ///
    /// Collective over the file's communicator for a parallel file: every rank passes the same
    /// `rows`.
    /// - Throws: `HDF5Error.invalidArgument` if `rows` is below the current extent (so every
    ///   rank fails alike, before any collective call), `.callFailed` otherwise.
    public func extend(to rows: Int) throws {
        let id = try state.id(of: handle)
        let current = try extent
        guard rows >= current else {
            throw HDF5Error.invalidArgument(object: label, detail: "cannot shrink from \(current) to \(rows) rows")
        }
        try DatasetExtent.set(id, columns.map { [rows, $0] } ?? [rows], label: label)
    }

    /// Writes `values` as whole rows starting at row `offset` (a hyperslab `H5Dwrite`); the
    /// values' own storage is used when contiguous (arrays, slices), without a copy.
    ///
    /// With `.collective` transfer on a parallel file, every rank of the file's communicator
    /// calls `write` for the same dataset; a rank with nothing to write passes an empty
    /// collection. With `.independent`, ranks write on their own. Ignored for a serial file.
    /// - Throws: `HDF5Error.typeMismatch` if the values are not of `elementType`,
    ///   `.invalidArgument` if the count is not a whole number of rows or the rows lie past the
    ///   extent (checked before HDF5 is called), `.callFailed` otherwise.
    public func write<C: Collection>(_ values: C, at offset: Int, transfer: HDF5Transfer) throws
    where C.Element: HDF5Element {
        let id = try state.id(of: handle)
        try checkType(C.Element.self)
        _ = try checkedRows(elements: values.count, offset: offset)
        try RawTransfer.writeCollection(values, dataset: id, offset: offset, columns: rowWidth, rank: rank,
                                        dxpl: state.transferList(transfer), label: label)
    }

    /// Writes raw bytes as whole rows starting at row `offset`, straight from caller memory
    /// (a hyperslab `H5Dwrite` with no copy): the hot path for event payloads. `bytes` holds
    /// native-endian elements of `elementType`, `rowByteCount` bytes per row; it may be empty.
    ///
    /// Collective or independent as `transfer` says (see `write(_:at:transfer:)`).
    /// - Throws: `HDF5Error.invalidArgument` if the length is not a whole number of rows or the
    ///   rows lie past the extent, `.callFailed` otherwise.
    public func write(bytes: UnsafeRawBufferPointer, at offset: Int, transfer: HDF5Transfer) throws {
        let id = try state.id(of: handle)
        guard bytes.count % elementType.byteCount == 0 else {
            throw HDF5Error.invalidArgument(
                object: label, detail: "\(bytes.count) bytes is not a whole number of \(elementType) elements")
        }
        let rows = try checkedRows(elements: bytes.count / elementType.byteCount, offset: offset)
        try RawTransfer.write(dataset: id, memType: elementType.nativeType, rows: rows, columns: rowWidth, rank: rank,
                              dxpl: state.transferList(transfer), bytes: bytes.baseAddress, label: label)
    }

    /// Reads the rows in `range` (a hyperslab `H5Dread`) as a flat array, row after row.
    ///
    /// Independent by default (any rank may read alone); with `.collective` on a parallel
    /// file every rank of the communicator calls (an empty range for ranks that need nothing).
    /// - Throws: `HDF5Error.typeMismatch` if `T` is not the stored element type,
    ///   `.invalidArgument` if the range lies outside the extent, `.callFailed` otherwise.
    public func read<T: HDF5Element>(_: T.Type, range: Range<Int>, transfer: HDF5Transfer = .independent) throws -> [T] {
        let id = try state.id(of: handle)
        try checkType(T.self)
        try checkRange(range)
        return try RawTransfer.readArray(T.self, dataset: id, rows: range, columns: rowWidth, rank: rank,
                                         dxpl: state.transferList(transfer), label: label)
    }

    /// Reads every row (`read(_:range:)` over `0..<extent`). Independent.
    public func readAll<T: HDF5Element>(_: T.Type) throws -> [T] {
        try read(T.self, range: 0..<extent)
    }

    /// Reads the rows in `range` into caller memory (native-endian elements of `elementType`,
    /// `range.count × rowByteCount` bytes), without an intermediate copy.
    ///
    /// Independent by default; see `read(_:range:transfer:)`.
    /// - Throws: `HDF5Error.invalidArgument` if the buffer has the wrong size or the range lies
    ///   outside the extent, `.callFailed` otherwise.
    public func read(range: Range<Int>, into buffer: UnsafeMutableRawBufferPointer,
                     transfer: HDF5Transfer = .independent) throws {
        let id = try state.id(of: handle)
        try checkRange(range)
        guard buffer.count == range.count * rowByteCount else {
            throw HDF5Error.invalidArgument(
                object: label, detail: "buffer of \(buffer.count) bytes for \(range.count) rows of \(rowByteCount) bytes")
        }
        try RawTransfer.read(dataset: id, memType: elementType.nativeType, rows: range, columns: rowWidth, rank: rank,
                             dxpl: state.transferList(transfer), into: buffer.baseAddress, label: label)
    }

    /// The chunk holding `row`, and where its bytes lie in the file (`H5Dget_chunk_info_by_coord`):
    /// rows can then be read straight from the file (from a mapping of it) instead of through
    /// HDF5. Not collective.
    /// - Returns: nil when the chunk is not allocated, or the dataset stores its chunks filtered
    ///   (compressed: the file's bytes are not the rows).
    /// - Throws: `HDF5Error.invalidArgument` when `row` lies outside the extent, `.callFailed` otherwise.
    public func chunkExtent(containingRow row: Int) throws -> HDF5ChunkExtent? {
        let id = try state.id(of: handle)
        try checkRange(row..<(row + 1))
        let layout = try chunkLayout(id)
        guard layout.filters == 0, layout.rows > 0 else { return nil }
        let first = row / layout.rows * layout.rows
        var coordinates: [hsize_t] = columns == nil ? [hsize_t(first)] : [hsize_t(first), 0]
        var mask: UInt32 = 0, address: haddr_t = 0, size: hsize_t = 0
        try h5check(H5Dget_chunk_info_by_coord(id, &coordinates, &mask, &address, &size), "H5Dget_chunk_info_by_coord", label)
        let bytes = layout.rows * rowByteCount
        guard address != haddr_t.max, mask == 0, Int(size) == bytes, address < haddr_t(Int.max - bytes) else { return nil }
        return HDF5ChunkExtent(rows: first..<(first + layout.rows), fileOffset: Int(address))
    }

    /// Rows per chunk and the number of filters, from the creation property list (read once).
    private func chunkLayout(_ id: hid_t) throws -> (rows: Int, filters: Int) {
        if let known = layoutCache { return known }
        let dcpl = try h5check(H5Dget_create_plist(id), "H5Dget_create_plist", label)
        defer { H5Pclose(dcpl) }
        var dims = [hsize_t](repeating: 0, count: 2)
        let rank = try h5check(H5Pget_chunk(dcpl, 2, &dims), "H5Pget_chunk", label)
        let filters = try h5check(H5Pget_nfilters(dcpl), "H5Pget_nfilters", label)
        let layout = (rows: rank >= 1 ? Int(dims[0]) : 0, filters: Int(filters))
        layoutCache = layout
        return layout
    }

    /// Closes the dataset (`H5Dclose`). Later calls do nothing. Collective over the file's
    /// communicator for a parallel file (or leave it to `HDF5File.close()`).
    public func close() throws {
        guard state.isOpen else { return }
        try state.close(handle)
    }

    // MARK: Checks made before HDF5 is called

    private func checkType<T: HDF5Element>(_: T.Type) throws(HDF5Error) {
        guard T.hdf5Type == elementType else {
            throw .typeMismatch(object: label, expected: "\(T.self) (\(T.hdf5Type))", actual: "\(elementType)")
        }
        guard MemoryLayout<T>.stride == elementType.byteCount else {
            throw .invalidArgument(
                object: label, detail: "\(T.self) is \(MemoryLayout<T>.stride) bytes, \(elementType) needs \(elementType.byteCount)")
        }
    }

    private func checkedRows(elements: Int, offset: Int) throws -> Range<Int> {
        guard elements % rowWidth == 0 else {
            throw HDF5Error.invalidArgument(object: label, detail: "\(elements) elements is not a whole number of \(rowWidth)-element rows")
        }
        let rows = offset..<(offset + elements / rowWidth)
        try checkRange(rows)
        return rows
    }

    private func checkRange(_ rows: Range<Int>) throws {
        let current = try extent
        guard rows.lowerBound >= 0, rows.upperBound <= current else {
            throw HDF5Error.invalidArgument(object: label, detail: "rows \(rows) outside the extent of \(current) rows")
        }
    }
}
