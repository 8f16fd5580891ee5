import ChronoArchive
import ChronoModel

/// The visor's copy of the archive catalog (``ArchiveCatalog``) and its writes to
/// `archive.directory`. Every metadata change marks it changed; a snapshot is handed to its store
/// (``CatalogStore``; the product's is ``CatalogWriterThread``, a writer thread) at most once per
/// ``writeInterval`` (so thousands of acquires a second cost ten writes, and the visor's loop never
/// waits for encoding or `fsync`), always at shutdown, and at once (waiting for it) when a new
/// block of client ids is reserved. A crash of the visor loses at most the changes of the last
/// ``writeInterval``; client ids are reserved in blocks written before any id of the block is
/// handed out, so ids are never reused.
final class CatalogRecorder {
    /// Longest time a change waits before it is written.
    static let writeInterval: Duration = .milliseconds(100)
    /// Client ids reserved per catalog write.
    static let clientIdBlock: UInt64 = 1024

    /// The catalog as changed so far.
    private(set) var catalog: ArchiveCatalog
    /// Where the catalog is written.
    private let writer: any CatalogStore
    private var changed = false
    private var lastSubmit: ContinuousClock.Instant
    /// Elapsed time (the write interval), the visor's.
    private let clock: any RoleClock
    private var seenFailures: UInt64 = 0

    /// Loads the catalog of `store` (an empty one if there is none) and starts the store.
    /// - Throws: ``CatalogFileError`` naming the file when it exists but is unreadable or damaged.
    init(store: any CatalogStore, clock: any RoleClock) throws(CatalogFileError) {
        self.clock = clock
        lastSubmit = clock.instant()
        catalog = try store.load() ?? ArchiveCatalog()
        writer = store
        writer.start()
    }

    /// The catalog's path, named in errors.
    var path: String { writer.path }

    /// Reserves client ids `from..<from + clientIdBlock` and waits until the catalog saying so is written.
    /// - Throws: ``CatalogFileError`` when the catalog cannot be written.
    func reserveClientIds(from next: UInt64) throws(CatalogFileError) {
        catalog.nextClientId = max(catalog.nextClientId, next + Self.clientIdBlock)
        changed = false
        lastSubmit = clock.instant()
        try writer.wait(for: writer.submit(catalog))
    }

    /// Whether client id `next` is past the reservation (reserve before handing it out).
    func needsReservation(next: UInt64) -> Bool { next >= catalog.nextClientId }

    /// Applies a change; it is written within ``writeInterval``.
    func change(_ body: (inout ArchiveCatalog) -> Void) {
        body(&catalog)
        changed = true
    }

    /// Every ``writeInterval``: hands the catalog to the writer thread if it changed (a failed
    /// write is retried this way).
    /// - Returns: the error of a write that failed since the last call, to be logged.
    func writeIfDue() -> CatalogFileError? {
        let now = clock.instant()
        guard now - lastSubmit >= Self.writeInterval else { return nil }
        var failure: CatalogFileError?
        let status = writer.status
        if status.failures > seenFailures {
            seenFailures = status.failures
            failure = status.lastError
            changed = true
        }
        if changed {
            changed = false
            lastSubmit = now
            _ = writer.submit(catalog)
        }
        return failure
    }

    /// Writes the catalog (at shutdown), waits for it and stops the store.
    /// - Returns: writes and failures over the job.
    /// - Throws: ``CatalogFileError`` when the last write failed.
    func finish() throws(CatalogFileError) -> (writes: UInt64, failures: UInt64) {
        defer { writer.stop() }
        let generation = writer.submit(catalog)
        changed = false
        try writer.wait(for: generation)
        let status = writer.status
        return (status.writes, status.failures)
    }

    /// Stops the store without writing (a start-up failure).
    func abandon() { writer.stop() }
}
