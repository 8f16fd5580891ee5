import ChronoArchive
import ChronoModel

/// The archive catalog (``ArchiveCatalog``) as `chronolog` reads it: which stories are destroyed
/// (hidden unless asked for), which events of a story created again are hidden, and each
/// writer's event count for the completeness check. An archive without a catalog (written by
/// `archive-checks`, or older than catalogs) shows everything and has no completeness record.
struct CatalogView {
    /// The catalog, `nil` when the archive has none.
    let catalog: ArchiveCatalog?

    /// Reads the catalog that belongs to `archivePath` (a directory, or a file in one).
    /// - Throws: `ChronologFailure` naming the catalog file when it exists but is damaged.
    init(archivePath: String) throws(ChronologFailure) {
        let file = CatalogFile(archivePath: archivePath)
        do {
            catalog = try file.load()
        } catch {
            throw ChronologFailure(path: error.path, problem: "archive catalog cannot be used: \(error.problem)")
        }
    }

    /// Whether the catalog marks the story destroyed.
    func isDestroyed(_ story: ArchivedStory) -> Bool {
        catalog?.isDestroyed(chronicle: story.chronicle, story: story.name) ?? false
    }

    /// The catalog's entry for a story.
    func entry(_ story: ArchivedStory) -> CatalogStory? {
        catalog?.story(chronicle: story.chronicle, story: story.name)
    }

    /// `chronicles` without destroyed stories (and without chronicles left empty).
    func visible(_ chronicles: [ArchivedChronicle]) -> [ArchivedChronicle] {
        guard catalog != nil else { return chronicles }
        return chronicles.compactMap { c in
            var c = c
            c.stories.removeAll(where: isDestroyed)
            return c.stories.isEmpty ? nil : c
        }
    }

    /// `chronicles` with the stories the catalog knows (not destroyed) that have no event in the
    /// archive at all (every write of their job failed, or it was killed before its first round),
    /// as stories of no file and no event: every command then shows them, and the completeness
    /// check says whether their writers logged anything.
    func addingStoriesWithoutEvents(to chronicles: [ArchivedChronicle]) -> [ArchivedChronicle] {
        guard let catalog else { return chronicles }
        func byteOrder(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }
        var out = chronicles
        for (name, chronicle) in catalog.chronicles where !chronicle.destroyed {
            guard let cname = try? ChronicleName(name) else { continue }
            let index = out.firstIndex { Array($0.name.utf8) == Array(name.utf8) }
            let known = Set((index.map { out[$0].stories } ?? []).map { Array($0.name.utf8) })
            let missing: [ArchivedStory] = chronicle.stories.compactMap { storyName, entry in
                guard !entry.destroyed, !known.contains(Array(storyName.utf8)), let sname = try? StoryName(storyName) else { return nil }
                return ArchivedStory(chronicle: name, name: storyName, storyId: StoryID(chronicle: cname, story: sname), chunkCount: 0,
                                     eventCount: 0, payloadBytes: 0, eventTimes: nil, durableRanges: [], files: [])
            }
            guard !missing.isEmpty else { continue }
            if let index {
                out[index].stories = (out[index].stories + missing).sorted { byteOrder($0.name, $1.name) }
            } else {
                out.append(ArchivedChronicle(name: name, chronicleId: ChronicleID(cname), stories: missing.sorted { byteOrder($0.name, $1.name) }))
            }
        }
        return out.sorted { byteOrder($0.name, $1.name) }
    }

    /// A chunk without the events the catalog hides (an earlier incarnation's, for a story
    /// destroyed and created again).
    static func visibleEvents(of chunk: StoryChunk, entry: CatalogStory?) -> StoryChunk {
        guard let entry, !entry.hidden.isEmpty else { return chunk }
        return chunk.filter { !entry.hides(client: $0.clientId, index: $0.index) }
    }
}
