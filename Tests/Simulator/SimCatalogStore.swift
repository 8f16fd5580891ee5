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
    /// Mutation: every second snapshot handed over is reported written but not kept (a writer that
    /// loses the newest snapshot when another is waiting).
    var skipsEverySecondSnapshot = false

    func load() throws(CatalogFileError) -> ArchiveCatalog? { stored }

    func start() {}

    func submit(_ catalog: ArchiveCatalog) -> UInt64 {
        generation += 1
        if !skipsEverySecondSnapshot || generation % 2 == 1 { stored = catalog }
        writes += 1
        return generation
    }

    func wait(for generation: UInt64) throws(CatalogFileError) {}

    var status: (writes: UInt64, failures: UInt64, lastError: CatalogFileError?) { (writes, 0, nil) }

    func stop() {}
}
