import ChronoModel
import HDF5
import MPI

/// A failed archive operation.
public enum ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing exists at `path` (or a directory holds no archive file).
    case notFound(path: String)
    /// The file at `path` cannot be opened as HDF5: not HDF5, truncated, or killed before its
    /// first flush. `reason` is the HDF5 wrapper's message.
    case unreadableFile(path: String, reason: String)
    /// The directory at `path` cannot be listed (`reason`: the system's, e.g. permission denied).
    case unlistableDirectory(path: String, reason: String)
    /// The file is HDF5 but not a ChronoLog archive of a layout this code reads.
    case incompatibleLayout(path: String, detail: String)
    /// The file is HDF5 but no ChronoLog-Swift archive at all: its root lacks the layout_version
    /// and creator attributes every archive gets when it is created, or names another creator
    /// (an application's own `.h5` file in the archive directory).
    case foreignFile(path: String, detail: String)
    /// Input handed to `ArchiveWriter.writeRound` on `rank` was refused (a bad name, a chunk whose
    /// story id does not match its names, an empty range). Every rank throws the same error and
    /// nothing of the round is written.
    case invalidChunk(rank: Int, detail: String)
    /// No story `story` of chronicle `chronicle` is in the archive.
    case storyNotFound(chronicle: String, story: String)
    /// Stored data contradicts itself at `location` (`file:/path row n`): a checksum, order, bound
    /// or attribute check failed.
    case corrupt(location: String, detail: String)
    /// Two different names map to the same HDF5 path (a 64-bit id collision).
    case pathCollision(path: String, existing: String, new: String)
    /// The writer was closed, or an earlier failure left it unusable.
    case writerUnusable(reason: String)
    /// Writing this rank's rows failed on `rank`; every rank throws it and nothing of the round
    /// is acknowledged.
    case writeFailed(rank: Int, detail: String)
    /// An HDF5 call failed.
    case hdf5(HDF5Error)
    /// An MPI call failed.
    case mpi(MPIError)

    /// A readable message.
    public var description: String {
        switch self {
        case .notFound(let path): "no archive at \(path)"
        case .unreadableFile(let path, let reason): "archive file \(path) cannot be opened: \(reason)"
        case .unlistableDirectory(let path, let reason): "archive directory \(path) cannot be listed: \(reason)"
        case .incompatibleLayout(let path, let detail): "\(path) is not a readable ChronoLog archive: \(detail)"
        case .foreignFile(let path, let detail): "\(path) is an HDF5 file but no ChronoLog-Swift archive: \(detail)"
        case .invalidChunk(let rank, let detail): "archive input refused on rank \(rank): \(detail)"
        case .storyNotFound(let chronicle, let story): "story '\(story)' of chronicle '\(chronicle)' is not archived"
        case .corrupt(let location, let detail): "archive damaged at \(location): \(detail)"
        case .pathCollision(let path, let existing, let new):
            "archive path \(path) already holds \(existing), cannot also hold \(new)"
        case .writerUnusable(let reason): "archive writer unusable: \(reason)"
        case .writeFailed(let rank, let detail): "archive write failed on rank \(rank): \(detail)"
        case .hdf5(let error): "archive HDF5 error: \(error)"
        case .mpi(let error): "archive MPI error: \(error)"
        }
    }

    /// Wraps wrapper errors; passes `ArchiveError`s through.
    static func wrap(_ error: any Error) -> ArchiveError {
        switch error {
        case let e as ArchiveError: e
        case let e as HDF5Error: .hdf5(e)
        case let e as MPIError: .mpi(e)
        default: .writeFailed(rank: -1, detail: "\(error)")
        }
    }
}

/// Runs `body`, turning any error into an `ArchiveError`.
@inline(__always)
func archiveCall<T>(_ body: () throws -> T) throws(ArchiveError) -> T {
    do { return try body() } catch { throw ArchiveError.wrap(error) }
}
