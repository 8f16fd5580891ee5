import ChronoModel

/// The visor's chronicle and story metadata: names, attributes, who holds which story, and
/// which recording group records it. Pure state, no MPI: every rule of COMPAT.md about
/// chronicles and stories lives here and is tested without a job.
public struct ChronicleDirectory: Sendable {
    /// A story's metadata.
    public struct Story: Sendable, Equatable {
        /// The story's name.
        public let name: StoryName
        /// Stable id (hash of chronicle and story names).
        public let id: StoryID
        /// Attributes given at creation.
        public var attributes: [String: String]
        /// Clients holding the story (acquired and not yet released).
        public var holders: Set<ClientID> = []
        /// The recording group recording the story while it has holders.
        public var group: UInt32?
        /// The group that recorded it last (kept after the last release: its keepers may still
        /// hold events that are not archived yet, which a replay must see).
        public var lastGroup: UInt32?
    }

    /// A chronicle's metadata.
    public struct Chronicle: Sendable, Equatable {
        /// The chronicle's name.
        public let name: ChronicleName
        /// Attributes given at creation (kept and returned, unlike ChronoLog which ignores them).
        public var attributes: [String: String]
        /// Creation flags.
        public var flags: UInt32
        /// Who may write and read it (from `attributes`).
        public var access: ChronicleAccess
        /// Its stories.
        public var stories: [StoryName: Story] = [:]
    }

    /// Every chronicle by name.
    public private(set) var chronicles: [ChronicleName: Chronicle] = [:]

    public init() {}

    /// The directory a job over an existing archive starts with: the catalog's live chronicles and
    /// stories with their attributes (no holders, no groups).
    /// - Throws: `.invalidName` or `.invalidArgument` (−2) for a name or access attribute the
    ///   catalog should never hold (a damaged catalog).
    public init(catalog: ArchiveCatalog) throws(ChronoLogError) {
        for (rawName, c) in catalog.chronicles where !c.destroyed {
            try createChronicle(rawName, attributes: c.attributes, flags: c.flags)
            let cname = try ChronicleName(rawName)
            for (rawStory, s) in c.stories where !s.destroyed {
                let sname = try StoryName(rawStory)
                chronicles[cname]?.stories[sname] = Story(name: sname, id: StoryID(chronicle: cname, story: sname), attributes: s.attributes)
            }
        }
    }

    /// Creates a chronicle. Its `owner` attribute defaults to `creator` (``ChronicleAccess``).
    /// - Throws: `.invalidName` (−2) for a bad name, `.invalidArgument` (−2) for bad access
    ///   attributes, `.chronicleExists` (−6).
    public mutating func createChronicle(_ rawName: String, attributes: [String: String], flags: UInt32,
                                         creator: String = "") throws(ChronoLogError) {
        let name = try ChronicleName(rawName)
        var attributes = attributes
        if attributes[ChronicleAccess.ownerKey] == nil && !creator.isEmpty { attributes[ChronicleAccess.ownerKey] = creator }
        let access = try ChronicleAccess(attributes: attributes)
        guard chronicles[name] == nil else { throw .chronicleExists(rawName) }
        chronicles[name] = Chronicle(name: name, attributes: attributes, flags: flags, access: access)
    }

    /// Checks that the client named `user` may perform `operation` on a chronicle. A missing
    /// chronicle (chronicles of earlier jobs over the same archive directory are loaded from its
    /// catalog; an archive without one is unknown here) is not checked: the request itself then
    /// answers −3, or replays what the archive holds.
    /// - Throws: `.invalidName` (−2), `.notAuthorized` (−9).
    public func authorize(_ operation: ChronicleAccess.Operation, chronicle rawName: String, user: String) throws(ChronoLogError) {
        guard let chronicle = chronicles[try ChronicleName(rawName)] else { return }
        try chronicle.access.authorize(operation, user: user, chronicle: rawName)
    }

    /// Destroys a chronicle and its stories.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound` (−3), `.storyAcquired` (−4) while any
    ///   story of it is held.
    public mutating func destroyChronicle(_ rawName: String) throws(ChronoLogError) {
        let name = try ChronicleName(rawName)
        guard let chronicle = chronicles[name] else { throw .chronicleNotFound(rawName) }
        if let held = chronicle.stories.values.first(where: { !$0.holders.isEmpty }) {
            throw .storyAcquired(chronicle: rawName, story: held.name.value)
        }
        chronicles[name] = nil
    }

    /// Adds `client` to the holders of a story, creating the story if needed.
    /// - Returns: the story after the change, and whether `client` already held it.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound` (−3).
    public mutating func acquire(
        chronicle rawChronicle: String, story rawStory: String, attributes: [String: String], by client: ClientID
    ) throws(ChronoLogError) -> (story: Story, alreadyHeld: Bool) {
        let cname = try ChronicleName(rawChronicle)
        let sname = try StoryName(rawStory)
        guard var chronicle = chronicles[cname] else { throw .chronicleNotFound(rawChronicle) }
        var story = chronicle.stories[sname]
            ?? Story(name: sname, id: StoryID(chronicle: cname, story: sname), attributes: attributes)
        let already = story.holders.contains(client)
        story.holders.insert(client)
        chronicle.stories[sname] = story
        chronicles[cname] = chronicle
        return (story, already)
    }

    /// Removes `client` from the holders of a story.
    /// - Returns: the story after the change (no holders left means recording should stop).
    /// - Throws: `.invalidName` (−2), `.storyNotAcquired` (−5) when `client` does not hold it
    ///   (also when the chronicle or story does not exist: nothing was acquired).
    @discardableResult
    public mutating func release(chronicle rawChronicle: String, story rawStory: String, by client: ClientID)
        throws(ChronoLogError) -> Story
    {
        let cname = try ChronicleName(rawChronicle)
        let sname = try StoryName(rawStory)
        guard var chronicle = chronicles[cname], var story = chronicle.stories[sname], story.holders.contains(client) else {
            throw .storyNotAcquired(chronicle: rawChronicle, story: rawStory)
        }
        story.holders.remove(client)
        if story.holders.isEmpty { story.group = nil }
        chronicle.stories[sname] = story
        chronicles[cname] = chronicle
        return story
    }

    /// Destroys a story.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound`/`.storyNotFound` (−3), `.storyAcquired` (−4).
    public mutating func destroyStory(chronicle rawChronicle: String, story rawStory: String) throws(ChronoLogError) {
        let cname = try ChronicleName(rawChronicle)
        let sname = try StoryName(rawStory)
        guard var chronicle = chronicles[cname] else { throw .chronicleNotFound(rawChronicle) }
        guard let story = chronicle.stories[sname] else { throw .storyNotFound(chronicle: rawChronicle, story: rawStory) }
        guard story.holders.isEmpty else { throw .storyAcquired(chronicle: rawChronicle, story: rawStory) }
        chronicle.stories[sname] = nil
        chronicles[cname] = chronicle
    }

    /// Records the group that records a story.
    public mutating func assign(group: UInt32, chronicle: ChronicleName, story: StoryName) {
        chronicles[chronicle]?.stories[story]?.group = group
        chronicles[chronicle]?.stories[story]?.lastGroup = group
    }

    /// The names of every chronicle, sorted.
    public func chronicleNames() -> [String] {
        chronicles.keys.map(\.value).sorted()
    }

    /// The names of a chronicle's stories, sorted.
    /// - Throws: `.invalidName` (−2), `.chronicleNotFound` (−3).
    public func storyNames(chronicle rawChronicle: String) throws(ChronoLogError) -> [String] {
        let cname = try ChronicleName(rawChronicle)
        guard let chronicle = chronicles[cname] else { throw .chronicleNotFound(rawChronicle) }
        return chronicle.stories.keys.map(\.value).sorted()
    }

    /// Every story `client` holds, as (chronicle, story) names.
    public func stories(heldBy client: ClientID) -> [(chronicle: String, story: String)] {
        var out: [(String, String)] = []
        for c in chronicles.values {
            for s in c.stories.values where s.holders.contains(client) { out.append((c.name.value, s.name.value)) }
        }
        return out.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    /// Looks a story up.
    public func story(chronicle: ChronicleName, story: StoryName) -> Story? {
        chronicles[chronicle]?.stories[story]
    }
}
