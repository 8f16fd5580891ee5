import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file a program will write at its end (a JSON summary), tried at its start: a whole job or
/// benchmark must not run only to find the file cannot be written.
public enum OutputFile {
    /// Why `path` cannot be created, or nil when it can: an empty path, a directory, a directory
    /// that is missing or not writable, or a file system that refuses it (`/proc`, read-only, out
    /// of inodes). Tried by creating the file (removed at once; a file already there is opened for
    /// writing, not changed). Several ranks may try the same path at once.
    public static func problem(creating path: String) -> String? {
        guard !path.isEmpty else { return "needs a file name" }
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return "is a directory"
        }
        let dir = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "the directory \(dir) does not exist"
        }
        guard FileManager.default.isWritableFile(atPath: dir) else { return "the directory \(dir) is not writable" }
        // One rank may create the file while another finds it and opens it, or finds it gone
        // again; three tries settle that.
        var failure = Int32(0)
        for _ in 0..<3 {
            let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if created >= 0 {
                close(created)
                unlink(path)
                return nil
            }
            failure = errno
            guard failure == EEXIST else { break }
            let existing = open(path, O_WRONLY | O_CLOEXEC)
            if existing >= 0 {
                close(existing)
                return nil
            }
            failure = errno
            guard failure == ENOENT else { break }
        }
        return "cannot be created: \(String(cString: strerror(failure)))"
    }
}
