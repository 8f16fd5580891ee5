import CChronoShims
import CHDF5

/// One open group or dataset id, shared by the Swift object that uses it and the file that
/// closes it. `id` becomes `nil` once closed.
final class ObjectHandle {
    enum Kind { case group, dataset }

    let kind: Kind
    /// Where the object is, for messages: `file.h5:/path`.
    let label: String
    private(set) var id: hid_t?

    init(id: hid_t, kind: Kind, label: String) {
        self.id = id
        self.kind = kind
        self.label = label
    }

    /// Closes the id (`H5Gclose` / `H5Dclose`) once; later calls do nothing.
    func close() throws(HDF5Error) {
        guard let id else { return }
        self.id = nil
        switch kind {
        case .group: try h5check(H5Gclose(id), "H5Gclose", label)
        case .dataset: try h5check(H5Dclose(id), "H5Dclose", label)
        }
    }
}

/// The state of one open file, shared by `HDF5File` and every group and dataset opened
/// through it: the file id, the property lists the wrapper made, and the open objects, which
/// `closeAll()` closes before the file, in order (datasets, then groups, newest first).
final class FileState {
    let path: String
    let isParallel: Bool
    private(set) var fileID: hid_t?
    /// File-access list (the MPI-IO driver for a parallel file), kept for the file's lifetime.
    private var fapl: hid_t?
    /// Transfer lists for a parallel file: `H5FD_MPIO_COLLECTIVE` and `H5FD_MPIO_INDEPENDENT`.
    private var collectiveDXPL: hid_t?
    private var independentDXPL: hid_t?
    private var objects: [ObjectHandle] = []

    init(path: String, fileID: hid_t, isParallel: Bool, fapl: hid_t?, collective: hid_t?, independent: hid_t?) {
        self.path = path
        self.fileID = fileID
        self.isParallel = isParallel
        self.fapl = fapl
        self.collectiveDXPL = collective
        self.independentDXPL = independent
    }

    deinit {
        // Nothing references the file or its objects any more. Collective teardown never
        // happens here: only a serial file is closed.
        if !isParallel { try? closeAll() }
    }

    var isOpen: Bool { fileID != nil }

    /// The file id, or `.closed` once the file is closed.
    func openID() throws(HDF5Error) -> hid_t {
        guard let fileID else { throw .closed(object: path) }
        return fileID
    }

    /// The id of `handle`, or `.closed` if it or its file was closed.
    func id(of handle: ObjectHandle) throws(HDF5Error) -> hid_t {
        guard fileID != nil, let id = handle.id else { throw .closed(object: handle.label) }
        return id
    }

    /// The transfer property list for a dataset read or write: the default list for a serial
    /// file, the collective or independent MPI-IO list for a parallel one.
    func transferList(_ transfer: HDF5Transfer) -> hid_t {
        switch transfer {
        case .collective: collectiveDXPL ?? chrono_h5p_default()
        case .independent: independentDXPL ?? chrono_h5p_default()
        }
    }

    /// Records an id so `closeAll()` closes it before the file.
    func adopt(_ id: hid_t, kind: ObjectHandle.Kind, name: String) -> ObjectHandle {
        let handle = ObjectHandle(id: id, kind: kind, label: "\(path):\(name)")
        objects.append(handle)
        return handle
    }

    /// Closes one object and forgets it.
    func close(_ handle: ObjectHandle) throws(HDF5Error) {
        objects.removeAll { $0 === handle }
        try handle.close()
    }

    /// Closes every open object (datasets, then groups, newest first), the file, and the
    /// property lists. Always runs to the end; throws the first failure.
    func closeAll() throws(HDF5Error) {
        guard let file = fileID else { return }
        var first: HDF5Error? = nil
        let ordered = objects.reversed().filter { $0.kind == .dataset } + objects.reversed().filter { $0.kind == .group }
        objects.removeAll()
        for handle in ordered {
            do { try handle.close() } catch { first = first ?? error }
        }
        fileID = nil
        do { try h5check(H5Fclose(file), "H5Fclose", path) } catch { first = first ?? error }
        for plist in [fapl, collectiveDXPL, independentDXPL].compactMap({ $0 }) {
            do { try h5check(H5Pclose(plist), "H5Pclose", path) } catch { first = first ?? error }
        }
        fapl = nil
        collectiveDXPL = nil
        independentDXPL = nil
        if let first { throw first }
    }
}

/// Joins a path inside the file with a path relative to it (absolute paths start with `/`).
func joinPath(_ base: String, _ relative: String) -> String {
    if relative.hasPrefix("/") { return relative }
    if base == "/" || base.isEmpty { return "/" + relative }
    return base + "/" + relative
}

/// Splits a path into its non-empty components.
func pathComponents(_ path: String) -> [String] {
    path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
}
