import Foundation

/// The archive's catalog: every chronicle and story a job over an archive directory created,
/// their attributes, destroyed marks, and each writer's event count per story. Pure value, no
/// I/O (the file lives in `ChronoArchive`'s `CatalogFile`); its JSON form is specified in
/// `docs/ARCHIVE.md` ("The catalog").
///
/// Destroyed chronicles and stories stay in the catalog, marked: their archived events remain in
/// the HDF5 file but readers hide them. A story created again after being destroyed starts fresh:
/// the events of the earlier incarnation stay hidden (``CatalogStory/hidden``).
public struct ArchiveCatalog: Sendable, Equatable, Codable {
    /// The catalog file's name inside `archive.directory`.
    public static let fileName = "chronolog-catalog.json"
    /// The format version this code writes and reads.
    public static let formatVersion = 1

    /// Format version (``formatVersion``).
    public var version: Int
    /// Client ids below this value may have been handed out by a job over this directory: the
    /// next job starts its ids here, so a writer's events are never confused with another's.
    public var nextClientId: UInt64
    /// Chronicles by name, destroyed ones included.
    public var chronicles: [String: CatalogChronicle]

    /// An empty catalog.
    public init() {
        version = Self.formatVersion
        nextClientId = 1
        chronicles = [:]
    }

    enum CodingKeys: String, CodingKey {
        case version, chronicles
        case nextClientId = "next_client_id"
    }

    /// Why bytes are not a catalog this code reads.
    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong.
        public let message: String
        public var description: String { message }
    }

    /// Decodes a catalog from its JSON form.
    /// - Throws: ``FormatError`` naming what is wrong (not JSON, another version, bad fields).
    public init(json: Data) throws(FormatError) {
        do {
            self = try JSONDecoder().decode(ArchiveCatalog.self, from: json)
        } catch {
            throw FormatError(message: "not a catalog: \(Self.describe(error))")
        }
        guard version == Self.formatVersion else {
            throw FormatError(message: "catalog version \(version) is not supported (this program reads version \(Self.formatVersion))")
        }
        guard nextClientId >= 1 else { throw FormatError(message: "next_client_id must be at least 1") }
    }

    /// The JSON form (sorted keys, so equal catalogs give equal bytes).
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        // Encoding plain strings, integers and booleans cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): c.debugDescription + Self.path(c.codingPath)
        case DecodingError.keyNotFound(let key, let c): "missing \"\(key.stringValue)\"" + Self.path(c.codingPath)
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c): c.debugDescription + Self.path(c.codingPath)
        default: "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "" : " at " + keys.map(\.stringValue).joined(separator: ".")
    }

    // MARK: - Changes (the visor applies each after the directory accepted it)

    /// A chronicle was created (again, if it was destroyed: its destroyed stories stay hidden).
    public mutating func createChronicle(_ name: String, attributes: [String: String], flags: UInt32) {
        var chronicle = chronicles[name] ?? CatalogChronicle(attributes: attributes, flags: flags)
        chronicle.attributes = attributes
        chronicle.flags = flags
        chronicle.destroyed = false
        chronicles[name] = chronicle
    }

    /// A chronicle was destroyed: it and its stories are marked. Stories that never had an event
    /// are forgotten (nothing of them is archived), and so is the chronicle if nothing is left.
    public mutating func destroyChronicle(_ name: String) {
        guard var chronicle = chronicles[name] else { return }
        chronicle.destroyed = true
        for storyName in Array(chronicle.stories.keys) { chronicle.destroyStory(storyName) }
        chronicles[name] = chronicle.stories.isEmpty ? nil : chronicle
    }

    /// `client` acquired a story (created with `attributes` when new or destroyed): it is a writer
    /// whose count is unknown until it releases.
    public mutating func acquire(chronicle: String, story: String, attributes: [String: String], by client: ClientID) {
        guard var entry = chronicles[chronicle] else { return }
        var s = entry.stories[story] ?? CatalogStory(attributes: attributes)
        if s.destroyed {
            s.destroyed = false
            s.attributes = attributes
        }
        s.setWriter(client.rawValue, count: nil)
        entry.stories[story] = s
        chronicles[chronicle] = entry
    }

    /// `client` released a story having written events 0..<`count` to it.
    public mutating func release(chronicle: String, story: String, by client: ClientID, count: UInt64) {
        chronicles[chronicle]?.stories[story]?.setWriter(client.rawValue, count: count)
    }

    /// A story was destroyed: marked, its writers' events hidden (forgotten if it never had an event).
    public mutating func destroyStory(chronicle: String, story: String) {
        chronicles[chronicle]?.destroyStory(story)
    }

    // MARK: - Questions

    /// A story's entry, `nil` when the catalog does not know it.
    public func story(chronicle: String, story: String) -> CatalogStory? {
        chronicles[chronicle]?.stories[story]
    }

    /// Whether the catalog marks the story (or its chronicle) destroyed.
    public func isDestroyed(chronicle: String, story: String) -> Bool {
        guard let c = chronicles[chronicle] else { return false }
        return c.destroyed || (c.stories[story]?.destroyed ?? false)
    }
}

/// A chronicle in the ``ArchiveCatalog``.
public struct CatalogChronicle: Sendable, Equatable, Codable {
    /// Attributes given at creation (`owner`, `access.write`, `access.read`, anything else).
    public var attributes: [String: String]
    /// Creation flags.
    public var flags: UInt32
    /// Whether it was destroyed (its stories are then destroyed too).
    public var destroyed = false
    /// Stories by name.
    public var stories: [String: CatalogStory] = [:]

    /// A live chronicle without stories.
    public init(attributes: [String: String], flags: UInt32) {
        self.attributes = attributes
        self.flags = flags
    }

    mutating func destroyStory(_ name: String) {
        guard var story = stories[name] else { return }
        story.destroy()
        stories[name] = story.hidden.isEmpty ? nil : story
    }
}

/// A story in the ``ArchiveCatalog``.
public struct CatalogStory: Sendable, Equatable, Codable {
    /// Attributes given at creation (its first acquire).
    public var attributes: [String: String]
    /// Whether it was destroyed.
    public var destroyed = false
    /// The writers of the current incarnation, sorted by client id.
    public var writers: [CatalogWriter] = []
    /// Events of earlier incarnations that readers hide: a writer's events with index below its
    /// `count` (all its events when the count is unknown). Sorted by client id.
    public var hidden: [CatalogWriter] = []

    /// A new story.
    public init(attributes: [String: String]) {
        self.attributes = attributes
    }

    /// Whether readers hide the event of `client` with `index`.
    public func hides(client: UInt64, index: UInt32) -> Bool {
        guard let h = hidden.first(where: { $0.client == client }) else { return false }
        return h.count.map { UInt64(index) < $0 } ?? true
    }

    /// The first visible index of `client` (0 unless an earlier incarnation's events are hidden).
    public func firstVisibleIndex(client: UInt64) -> UInt64 {
        guard let h = hidden.first(where: { $0.client == client }) else { return 0 }
        return h.count ?? .max
    }

    /// The writers of the current incarnation whose ids are below `firstClientId` (the running
    /// job's first id: they wrote in earlier jobs), as a replay checks them
    /// (``ReplayRequest/earlierWriters``). Writers whose incarnation holds no event are left out.
    public func earlierWriters(before firstClientId: UInt64) -> [ReplayRequest.EarlierWriter] {
        writers.compactMap { w in
            guard w.client < firstClientId else { return nil }
            let first = firstVisibleIndex(client: w.client)
            if let count = w.count, count <= first { return nil }
            return ReplayRequest.EarlierWriter(client: w.client, first: first, count: w.count)
        }
    }

    mutating func setWriter(_ client: UInt64, count: UInt64?) {
        if let i = writers.firstIndex(where: { $0.client == client }) {
            writers[i].count = count
        } else {
            writers.append(CatalogWriter(client: client, count: count))
            writers.sort { $0.client < $1.client }
        }
    }

    mutating func destroy() {
        destroyed = true
        for w in writers {
            if let i = hidden.firstIndex(where: { $0.client == w.client }) {
                // The larger bound hides more; an unknown count hides everything.
                let old = hidden[i].count
                hidden[i].count = old.flatMap { o in w.count.map { max(o, $0) } }
            } else {
                hidden.append(w)
            }
        }
        // A writer that released having written nothing hides nothing.
        hidden.removeAll { $0.count == 0 }
        hidden.sort { $0.client < $1.client }
        writers = []
    }
}

/// A writer of a story: its client id and how many events it wrote (indexes 0..<count), `nil`
/// while it holds the story or when it never released it.
public struct CatalogWriter: Sendable, Equatable, Codable {
    /// The writer's client id.
    public var client: UInt64
    /// Its event count, known once it released the story.
    public var count: UInt64?

    /// A writer entry.
    public init(client: UInt64, count: UInt64?) {
        self.client = client
        self.count = count
    }
}
