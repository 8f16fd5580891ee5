import ArgumentParser
import ChronoArchive
import ChronoModel

#if canImport(Glibc)
import Glibc
#endif

/// The archive argument shared by `ls`, `verify` and `stats`: optional, defaulting to the jobs'
/// default `archive.directory`.
struct ArchivePathArgument: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "Archive directory (every *.h5 file in it is read) or one archive file.",
        discussion: "Default: \(ArchivePath.defaultPath), the directory jobs archive to by default (archive.directory).",
        valueName: "path"))
    var path: String = ArchivePath.defaultPath
}

/// `--json`, shared by the commands that print a report.
struct JSONOutputOption: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document instead of text.")
    var json = false
}

/// Opening archives and explaining why a path holds none.
enum ArchivePath {
    /// The jobs' default `archive.directory`.
    static let defaultPath = "chronolog-archive"

    /// Opens the archive at `path`.
    /// - Throws: `ChronologFailure` naming the path and the problem (missing path, empty
    ///   directory, a file that is not an archive or is damaged).
    static func open(_ path: String) throws(ChronologFailure) -> ArchiveReader {
        do {
            return try ArchiveReader(path: path)
        } catch {
            throw ChronologFailure(archive: path, error: error)
        }
    }

    /// Lists the archive's chronicles, without the stories its catalog marks destroyed unless
    /// `includeDestroyed`.
    /// - Throws: `ChronologFailure` when an index is damaged or unreadable, or the catalog is damaged.
    static func chronicles(of reader: ArchiveReader, includeDestroyed: Bool = false) throws(ChronologFailure) -> [ArchivedChronicle] {
        let all: [ArchivedChronicle]
        do {
            all = try reader.chronicles()
        } catch {
            throw ChronologFailure(archive: reader.path, error: error)
        }
        let catalog = try CatalogView(archivePath: reader.path)
        let listed = includeDestroyed ? all : catalog.visible(all)
        // Not when groups are unreadable: a story the catalog knows may be in one of them.
        return reader.damagedGroups.isEmpty ? catalog.addingStoriesWithoutEvents(to: listed) : listed
    }

    /// Fails (after the command printed what it could) when index rows of some story were left out
    /// as damage, so a listing or totals that miss them never pass for complete.
    /// - Throws: `ChronologFailure` naming the path, the damaged rows' count and their stories.
    static func requireUndamaged(_ chronicles: [ArchivedChronicle], path: String,
                                 groups: [ArchiveProblem] = []) throws(ChronologFailure) {
        if let first = groups.first {
            throw ChronologFailure(path: path, problem: "archive damaged: \(groups.count) chronicle or story group\(groups.count == 1 ? "" : "s") "
                + "unreadable and left out, first \(first.location) (run `chronolog verify \(path)` for a full report)")
        }
        let damaged = chronicles.flatMap(\.stories).filter { $0.damagedRows > 0 }
        guard !damaged.isEmpty else { return }
        let rows = damaged.reduce(0) { $0 + $1.damagedRows }
        let names = damaged.prefix(3).map { "\"\($0.chronicle)\"/\"\($0.name)\"" }.joined(separator: ", ")
        throw ChronologFailure(path: path, problem: "archive damaged: \(rows) index row\(rows == 1 ? "" : "s") of \(names)"
            + "\(damaged.count > 3 ? " …" : "") left out (run `chronolog verify \(path)` for a full report)")
    }

    /// Why `ArchiveReader` found no archive at `path`: nothing there, or a directory without `*.h5`.
    static func whyNoArchive(at path: String) -> String {
        problemFindingFiles(at: path) ?? "no archive here"
    }

    /// Fails unless `path` is a file or a directory holding at least one `*.h5` file (checked
    /// before verification, which reports damaged files itself).
    static func requireExisting(_ path: String) throws(ChronologFailure) {
        if let problem = problemFindingFiles(at: path) { throw ChronologFailure(path: path, problem: problem) }
    }

    /// `nil` when `path` is a file or a directory with a `*.h5` file (what `ArchiveReader` reads),
    /// otherwise what is missing.
    private static func problemFindingFiles(at path: String) -> String? {
        var info = stat()
        // The system's reason: a directory above that the user may not enter is "permission denied".
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)).lowercased() }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        guard let dir = opendir(path) else { return "cannot list the directory: " + String(cString: strerror(errno)).lowercased() }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".h5"), !name.hasPrefix(".") { return nil }
        }
        return "no archive here: the directory holds no *.h5 file"
    }

    /// The size in bytes of the file at `path`, 0 when it cannot be examined.
    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}
