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
    /// Mutation: snapshots are kept with every destroyed mark cleared.
    var forgetsDestroys = false

    func load() throws(CatalogFileError) -> ArchiveCatalog? { stored }

    func start() {}

    func submit(_ catalog: ArchiveCatalog) -> UInt64 {
        generation += 1
        var catalog = catalog
        if forgetsDestroys {
            for (name, var c) in catalog.chronicles {
                c.destroyed = false
                for (story, var s) in c.stories where s.destroyed {
                    s.destroyed = false
                    s.writers = s.hidden
                    s.hidden = []
                    c.stories[story] = s
                }
                catalog.chronicles[name] = c
            }
        }
        if !skipsEverySecondSnapshot || generation % 2 == 1 { stored = catalog }
        writes += 1
        return generation
    }

    func wait(for generation: UInt64) throws(CatalogFileError) {}

    var status: (writes: UInt64, failures: UInt64, lastError: CatalogFileError?) { (writes, 0, nil) }

    func stop() {}
}
