import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One job at a time writes an archive directory: two jobs appending to one HDF5 file at once
/// corrupt it (each job's graphers extend datasets and write the superblock as if alone). The
/// visor holds an exclusive `flock` on `<archive.directory>/chronolog-archive.lock` from its join
/// until it leaves (the kernel drops it when the process dies, killed or not); a second job's join
/// is refused with the holder's host and pid, which the holder writes into the file.
///
/// On a file system without working `flock` (some parallel file systems mount without it) the
/// lock cannot be taken and the job goes on, warned: nothing there stops a second job.
enum ArchiveDirectoryLock {
    static let fileName = "chronolog-archive.lock"

    /// The descriptor holding the lock, while this process holds it.
    private static let held = Mutex<Int32?>(nil)

    /// Takes the lock of `directory` (which exists).
    /// - Returns: nil when it is held now (or cannot be taken at all: a warning is printed);
    ///   otherwise why the directory is in use.
    static func take(_ directory: String) -> String? {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            return "archive.directory \(directory): cannot open its lock file \(path): \(String(cString: strerror(errno)))"
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            if reason == EWOULDBLOCK {
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                close(fd)
                return "archive.directory \(directory) is in use by another job" + (holder.isEmpty ? "" : " (\(holder))")
                    + ": one job at a time writes an archive directory (its lock: \(path)); give this job another archive.directory"
            }
            close(fd)
            printError("chronolog: warning: archive.directory \(directory): cannot lock \(path) (\(String(cString: strerror(reason)))): "
                       + "nothing keeps a second job from writing this archive at the same time")
            return nil
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let stamp = "host \(String(cString: host)), pid \(getpid()), since \(ISO8601DateFormatter().string(from: Date()))\n"
        if ftruncate(fd, 0) == 0 { _ = stamp.withCString { write(fd, $0, strlen($0)) } }
        held.withLock { $0 = fd }
        return nil
    }

    /// Lets the lock go (the job left; an embedded application may make another job).
    static func release() {
        held.withLock { fd in
            if let d = fd { close(d) }
            fd = nil
        }
    }
}
