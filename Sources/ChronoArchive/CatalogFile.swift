import ChronoModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The catalog file of an archive directory (`<directory>/chronolog-catalog.json`, see
/// ``ArchiveCatalog``): read at a job's start, replaced atomically on every write (temporary
/// file, `fsync`, `rename`, `fsync` of the directory), so a crash leaves the old or the new
/// catalog, never a mix.
public struct CatalogFile: Sendable {
    /// The catalog's path.
    public let path: String
    /// The directory holding it.
    public let directory: String

    /// The catalog of archive directory `directory`.
    public init(directory: String) {
        self.directory = directory
        self.path = (directory as NSString).appendingPathComponent(ArchiveCatalog.fileName)
    }

    /// The catalog that belongs to an archive path as `chronolog` takes it: a directory, or one
    /// archive file (its directory's catalog).
    public init(archivePath: String) {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: archivePath, isDirectory: &isDirectory)
        self.init(directory: exists && !isDirectory.boolValue ? (archivePath as NSString).deletingLastPathComponent : archivePath)
    }

    /// Reads the catalog; `nil` when there is none (a new directory, or an archive older than catalogs).
    /// - Throws: ``CatalogFileError`` naming the file when it exists but cannot be read or parsed.
    public func load() throws(CatalogFileError) -> ArchiveCatalog? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue { throw CatalogFileError(path: path, problem: "is a directory, not the catalog file") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            // Foundation's own text can be "… error 256": the system's reason says more.
            let reason = access(path, R_OK) != 0 ? Self.errnoText() : error.localizedDescription
            throw CatalogFileError(path: path, problem: "cannot be read: \(reason)")
        }
        do {
            return try ArchiveCatalog(json: data)
        } catch {
            throw CatalogFileError(path: path, problem: error.message)
        }
    }

    /// Replaces the catalog with `catalog`, atomically and durably. Creates the directory if needed.
    /// - Throws: ``CatalogFileError`` naming the file and the system error (disk full, permissions).
    public func write(_ catalog: ArchiveCatalog) throws(CatalogFileError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CatalogFileError(path: path, problem: "cannot create the directory: \(error.localizedDescription)")
        }
        let temporary = path + ".tmp"
        let bytes = [UInt8](catalog.json())
        try writeSynced(bytes, to: temporary)
        guard rename(temporary, path) == 0 else {
            let problem = "cannot rename \(temporary) to it: \(Self.errnoText())"
            unlink(temporary)
            throw CatalogFileError(path: path, problem: problem)
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY)
        guard dir >= 0 else { throw CatalogFileError(path: path, problem: "cannot open its directory to sync: \(Self.errnoText())") }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw CatalogFileError(path: path, problem: "cannot sync its directory: \(Self.errnoText())") }
    }

    private func writeSynced(_ bytes: [UInt8], to temporary: String) throws(CatalogFileError) {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CatalogFileError(path: path, problem: "cannot create \(temporary): \(Self.errnoText())") }
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "cannot write \(temporary): \(Self.errnoText())"
                    return
                }
                done += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "cannot sync \(temporary): \(Self.errnoText())" }
        if close(fd) != 0, failure == nil { failure = "cannot close \(temporary): \(Self.errnoText())" }
        if let failure {
            unlink(temporary)
            throw CatalogFileError(path: path, problem: failure)
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A catalog file that cannot be read, parsed or written.
public struct CatalogFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The catalog's path.
    public let path: String
    /// What is wrong.
    public let problem: String

    /// The error for the catalog at `path`.
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "archive catalog \(path): \(problem)" }
}
