import ChronoArchive
import ChronoModel
import Foundation

/// The thread that writes the visor's catalog snapshots to the file, so the visor's loop never
/// waits for JSON encoding or `fsync`. Only the newest snapshot submitted is written (older ones
/// waiting are skipped: it contains them). ``wait(for:)`` blocks until a given snapshot (or a newer
/// one) is on disk.
final class CatalogWriterThread: CatalogStore, @unchecked Sendable {
    private let file: CatalogFile
    private let condition = NSCondition()
    private var pending: (catalog: ArchiveCatalog, generation: UInt64)?
    private var submitted: UInt64 = 0
    /// The newest generation written (or failed), and the outcome of that attempt.
    private var completed: UInt64 = 0
    private var lastOutcome: CatalogFileError?
    private var writes: UInt64 = 0
    private var failures: UInt64 = 0
    private var stopping = false
    private var running = false

    /// A writer for `file`; call ``start()``.
    init(file: CatalogFile) {
        self.file = file
    }

    /// The file's path.
    var path: String { file.path }

    /// The file's catalog, nil when there is no file yet.
    /// - Throws: ``CatalogFileError`` when it exists but is unreadable or damaged.
    func load() throws(CatalogFileError) -> ArchiveCatalog? { try file.load() }

    /// Starts the thread. Call once.
    func start() {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in loop() }
        thread.name = "chronolog-catalog-writer"
        thread.start()
    }

    /// Hands a snapshot to the thread. - Returns: its generation, for ``wait(for:)``.
    func submit(_ catalog: ArchiveCatalog) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        submitted += 1
        pending = (catalog, submitted)
        condition.broadcast()
        return submitted
    }

    /// Blocks until snapshot `generation` or a newer one was written.
    /// - Throws: ``CatalogFileError`` when that write failed.
    func wait(for generation: UInt64) throws(CatalogFileError) {
        condition.lock()
        while completed < generation && running { condition.wait() }
        let outcome = completed >= generation ? lastOutcome : CatalogFileError(path: file.path, problem: "the catalog writer stopped")
        condition.unlock()
        if let outcome { throw outcome }
    }

    /// Writes and failures so far, and the newest write's error (nil after a success).
    var status: (writes: UInt64, failures: UInt64, lastError: CatalogFileError?) {
        condition.lock()
        defer { condition.unlock() }
        return (writes, failures, lastOutcome)
    }

    /// Stops the thread after it wrote what was submitted, and waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while pending == nil && !stopping { condition.wait() }
            guard let (catalog, generation) = pending else {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            pending = nil
            condition.unlock()
            var outcome: CatalogFileError?
            do { try file.write(catalog) } catch { outcome = error }
            condition.lock()
            completed = generation
            lastOutcome = outcome
            if outcome == nil { writes += 1 } else { failures += 1 }
            condition.broadcast()
            condition.unlock()
        }
    }
}
