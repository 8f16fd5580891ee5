import ChronoArchive
import ChronoModel

/// Where the visor's archive catalog is kept: loaded once at start, then written snapshot by
/// snapshot without the visor's loop waiting (except in ``wait(for:)``). The product's store is
/// ``CatalogWriterThread`` (the file in `archive.directory`, written from its own thread); a test
/// or the simulator injects one that keeps the catalog in memory.
public protocol CatalogStore: AnyObject {
    /// The catalog's path, named in errors.
    var path: String { get }
    /// The stored catalog, nil when there is none yet.
    /// - Throws: ``CatalogFileError`` when it exists but cannot be read or is damaged.
    func load() throws(CatalogFileError) -> ArchiveCatalog?
    /// Starts the store (its thread, if it has one). Called once, after ``load()``.
    func start()
    /// Hands a snapshot over to be written. - Returns: its generation, for ``wait(for:)``.
    func submit(_ catalog: ArchiveCatalog) -> UInt64
    /// Returns once snapshot `generation` or a newer one was written.
    /// - Throws: ``CatalogFileError`` when that write failed.
    func wait(for generation: UInt64) throws(CatalogFileError)
    /// Writes and failures so far, and the newest write's error (nil after a success).
    var status: (writes: UInt64, failures: UInt64, lastError: CatalogFileError?) { get }
    /// Stops the store after what was submitted is written.
    func stop()
}
