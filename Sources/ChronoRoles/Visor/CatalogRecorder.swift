import ChronoArchive
import ChronoModel

/// The visor's copy of the archive catalog (``ArchiveCatalog``) and its writes to
/// `archive.directory`. Every metadata change marks it changed; it is written at most once per
/// ``writeInterval`` (so thousands of acquires a second cost ten writes), always at shutdown, and
/// at once when a new block of client ids is reserved. A crash of the visor loses at most the
/// changes of the last ``writeInterval``; client ids are reserved in blocks written before any
/// id of the block is handed out, so ids are never reused.
final class CatalogRecorder {
    /// Longest time a change waits before it is written.
    static let writeInterval: Duration = .milliseconds(100)
    /// Client ids reserved per catalog write.
    static let clientIdBlock: UInt64 = 1024

    /// The catalog as changed so far.
    private(set) var catalog: ArchiveCatalog
    /// The file.
    let file: CatalogFile
    /// Whether the catalog existed when the job started.
    let existed: Bool
    private var changed = false
    private var lastWrite = ContinuousClock.now
    /// Successful writes and failed ones.
    private(set) var writes: UInt64 = 0
    private(set) var failures: UInt64 = 0
    /// The last write error (cleared by a successful write).
    private(set) var lastError: CatalogFileError?

    /// Loads the catalog of `directory` (an empty one if there is none).
    /// - Throws: ``CatalogFileError`` naming the file when it exists but is unreadable or damaged.
    init(directory: String) throws(CatalogFileError) {
        file = CatalogFile(directory: directory)
        let loaded = try file.load()
        existed = loaded != nil
        catalog = loaded ?? ArchiveCatalog()
    }

    /// Reserves client ids `from..<from + clientIdBlock` and writes the catalog at once.
    /// - Throws: ``CatalogFileError`` when the catalog cannot be written.
    func reserveClientIds(from next: UInt64) throws(CatalogFileError) {
        catalog.nextClientId = max(catalog.nextClientId, next + Self.clientIdBlock)
        changed = true
        try writeNow()
    }

    /// Whether client id `next` is past the reservation (reserve before handing it out).
    func needsReservation(next: UInt64) -> Bool { next >= catalog.nextClientId }

    /// Applies a change; it is written within ``writeInterval``.
    func change(_ body: (inout ArchiveCatalog) -> Void) {
        body(&catalog)
        changed = true
    }

    /// Writes the catalog if it changed and the last write is at least ``writeInterval`` old.
    /// - Returns: whether it wrote (or tried to).
    @discardableResult
    func writeIfDue() -> Bool {
        guard changed, ContinuousClock.now - lastWrite >= Self.writeInterval else { return false }
        try? writeNow()
        return true
    }

    /// Writes the catalog if it changed (at shutdown).
    /// - Throws: ``CatalogFileError`` when it cannot be written.
    func flush() throws(CatalogFileError) {
        guard changed else { return }
        try writeNow()
    }

    private func writeNow() throws(CatalogFileError) {
        lastWrite = ContinuousClock.now
        do {
            try file.write(catalog)
            writes += 1
            changed = false
            lastError = nil
        } catch {
            failures += 1
            lastError = error
            throw error
        }
    }
}
