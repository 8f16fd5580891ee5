import CChronoShims
import CHDF5

/// A failed HDF5 operation.
///
/// Every HDF5 call the wrapper makes goes through one checking helper, so a failing library
/// call arrives as `.callFailed` carrying the call's name, the object it was about, and the
/// text of HDF5's error stack (HDF5's automatic printing is turned off). Conditions the wrapper
/// checks itself before calling HDF5 (a missing file, a missing object, a type mismatch, an
/// out-of-range selection) have their own cases with readable messages.
public enum HDF5Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// No file exists at `path`.
    case fileNotFound(path: String)
    /// A file exists at `path` and creating it without overwriting was asked for.
    case fileExists(path: String)
    /// The file at `path` exists but is not an HDF5 file (or is damaged beyond opening, e.g. a
    /// process was killed before its first flush).
    case notAnHDF5File(path: String, stack: String)
    /// No group, dataset or attribute called `name` exists in `object`.
    case notFound(object: String, name: String)
    /// An HDF5 library call returned an error status.
    /// - `call`: the C function, e.g. `"H5Dwrite"`; `object`: the path or file it was about;
    ///   `stack`: HDF5's error stack, innermost reason last.
    case callFailed(call: String, object: String, stack: String)
    /// The stored element type of `object` is not the one asked for.
    case typeMismatch(object: String, expected: String, actual: String)
    /// `object` has a type or shape the wrapper does not handle (e.g. a 3-D or compound dataset).
    case unsupported(object: String, detail: String)
    /// A selection or argument outside what `object` allows (e.g. a hyperslab past the extent).
    case invalidArgument(object: String, detail: String)
    /// `object` (or the file that holds it) was already closed.
    case closed(object: String)
    /// A parallel (MPI-IO) file was asked for before `MPIRuntime.initialize` or after finalize.
    case mpiNotInitialized(path: String)
    /// An operating-system call on the file at `path` failed (e.g. reserving space for the next
    /// writes): `code` is its `errno`, `message` its `strerror` text and what was asked for.
    case systemCallFailed(call: String, path: String, code: Int32, message: String)

    /// The HDF5 C call that failed, when the error came from the library.
    public var call: String? {
        if case .callFailed(let call, _, _) = self { return call }
        if case .systemCallFailed(let call, _, _, _) = self { return call }
        if case .notAnHDF5File = self { return "H5Fopen" }
        return nil
    }

    /// HDF5's error stack text, empty when the error was detected by the wrapper itself.
    public var stack: String {
        switch self {
        case .callFailed(_, _, let stack), .notAnHDF5File(_, let stack): stack
        default: ""
        }
    }

    /// A readable message: what failed, on which file or object, and HDF5's reason.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "HDF5 file not found: \(path)"
        case .fileExists(let path):
            "HDF5 file already exists: \(path)"
        case .notAnHDF5File(let path, let stack):
            "not an HDF5 file (or damaged before its first flush): \(path)"
                + (stack.isEmpty ? "" : " [\(stack)]")
        case .notFound(let object, let name):
            "no object or attribute '\(name)' in \(object)"
        case .callFailed(let call, let object, let stack):
            "\(call) failed on \(object)" + (stack.isEmpty ? "" : ": \(stack)")
        case .typeMismatch(let object, let expected, let actual):
            "\(object) holds \(actual), not \(expected)"
        case .unsupported(let object, let detail):
            "\(object): unsupported by the wrapper: \(detail)"
        case .invalidArgument(let object, let detail):
            "\(object): \(detail)"
        case .closed(let object):
            "\(object) is already closed"
        case .mpiNotInitialized(let path):
            "parallel HDF5 file \(path) needs MPI: call MPIRuntime.initialize first"
        case .systemCallFailed(let call, let path, let code, let message):
            "\(call) failed on \(path): \(message) (errno \(code))"
        }
    }
}

/// Process-wide HDF5 setup: done once, before the first call the wrapper makes.
enum HDF5Library {
    /// Initialises the library and turns off HDF5's automatic error printing on the default
    /// stack; errors are collected into `HDF5Error` instead. A global `let` runs exactly once.
    private static let silenced: Bool = {
        _ = H5open()
        return chrono_h5e_silence() >= 0
    }()

    /// Makes sure `silenced` has run. Every entry point that creates a file calls this.
    static func prepare() {
        _ = silenced
    }
}

/// The one checking helper every HDF5 call's status goes through.
///
/// HDF5 reports failure as a negative `herr_t`, `hid_t`, `htri_t` or `ssize_t`; on failure this
/// throws `HDF5Error.callFailed` with the call's name, the object, and HDF5's error stack text
/// (which is cleared). On success it returns the value, so ids and counts can be taken from it.
@inline(__always)
@discardableResult
func h5check<T: BinaryInteger>(_ status: T, _ call: StaticString, _ object: @autoclosure () -> String) throws(HDF5Error) -> T {
    if status < 0 {
        throw HDF5Error.callFailed(call: "\(call)", object: object(), stack: HDF5ErrorStack.takeText())
    }
    return status
}

/// `h5check` for `htri_t` results: a negative value is an error, otherwise a truth value.
@inline(__always)
func h5checkBool(_ status: htri_t, _ call: StaticString, _ object: @autoclosure () -> String) throws(HDF5Error) -> Bool {
    try h5check(status, call, object()) > 0
}
