import ChronoArchive

#if canImport(Glibc)
import Glibc
#endif

/// A run-time failure of a `chronolog` command: printed as one line on standard error,
/// `chronolog: <path>: <problem>`, and the tool exits with status 1.
struct ChronologFailure: Error, CustomStringConvertible {
    /// The path the problem is about (the archive, one of its files, or an output file).
    let path: String
    /// What is wrong, on one line.
    let problem: String

    /// `<path>: <problem>`, on one line.
    var description: String { oneLine("\(path): \(problem)") }

    init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    /// Describes an `ArchiveError` met while working on the archive at `archive`.
    init(archive: String, error: ArchiveError) {
        switch error {
        case .notFound(let path):
            self.init(path: path, problem: ArchivePath.whyNoArchive(at: path))
        case .unlistableDirectory(let path, let reason):
            self.init(path: path, problem: "cannot list the directory: \(reason)")
        case .unreadableFile(let path, let reason):
            self.init(path: path, problem: "cannot be opened as an archive file (truncated, damaged or not HDF5): \(reason)")
        case .incompatibleLayout(let path, let detail):
            self.init(path: path, problem: "is not a ChronoLog-Swift archive this tool reads: \(detail)")
        case .foreignFile(let path, let detail):
            self.init(path: path, problem: "is an HDF5 file but no ChronoLog-Swift archive: \(detail)")
        case .corrupt(let location, let detail):
            self.init(path: location, problem: "archive damaged: \(detail) (run `chronolog verify \(archive)` for a full report)")
        case .storyNotFound(let chronicle, let story):
            self.init(path: archive, problem: "no story '\(story)' in chronicle '\(chronicle)' (`chronolog ls \(archive)` lists the stories)")
        default:
            self.init(path: archive, problem: "\(error)")
        }
    }
}

/// Collapses line breaks (HDF5 error stacks span several lines) so a message stays one line.
func oneLine(_ text: String) -> String {
    text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
        .map { $0.trimmingCharacters(in: " \t") }
        .filter { !$0.isEmpty }
        .joined(separator: "; ")
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self[...]
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}

/// Writes `text` to standard error, unbuffered.
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(2, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { break }
            done += n
        }
    }
}
