import ChronoArchive
import ChronoRoles
import ChronoModel

/// The simulator's ``CatalogStore``: the visor's archive catalog kept in memory, every snapshot
/// "written" at once, with no thread (the product writes the file in `archive.directory` from a
/// thread of its own).
final class SimCatalogStore: CatalogStore {
    let path = "simulated/catalog"
    /// The newest snapshot written.
    private(set) var stored: ArchiveCatalog?
    private var generation: UInt64 = 0
    private var writes: UInt64 = 0

    func load() throws(CatalogFileError) -> ArchiveCatalog? { stored }

    func start() {}

    func submit(_ catalog: ArchiveCatalog) -> UInt64 {
        stored = catalog
        generation += 1
        writes += 1
        return generation
    }

    func wait(for generation: UInt64) throws(CatalogFileError) {}

    var status: (writes: UInt64, failures: UInt64, lastError: CatalogFileError?) { (writes, 0, nil) }

    func stop() {}
}
