import ChronoModel
import ChronoSystem
import HDF5
import HeapModule

#if canImport(Glibc)
import Glibc
#endif

/// Reads archives serially, without MPI: in a plain process (the `chronolog` CLI, tests) or
/// inside one rank (a player).
///
/// Opened on one archive file or on a directory holding several (every `*.h5` file in it, in name
/// order; a story stored in several files is read from all of them). The reader sees the files
/// as they were when opened. Only index rows whose checksum matches are used. Each file's commit
/// record (`/commit`) says which invalid rows are a crash tail (rows of rounds never committed,
/// ignored) and which are damage (any in a file closed cleanly; in a file not closed, rows of
/// committed rounds); files without one are read by the older rule (invalid rows among the last
/// round are a crash tail) and reported as legacy. Not thread-safe: use one reader from one thread.
public final class ArchiveReader {
    /// The path the reader was opened on.
    public let path: String
    /// The archive files, in the order they are read.
    public var files: [String] { readers.map(\.path) }
    /// Chronicle and story groups of the files that could not be read, left out of every listing
    /// and replay (the rest of the archive stays readable).
    public var damagedGroups: [ArchiveProblem] { readers.flatMap(\.damagedGroups) }

    let readers: [ArchiveFileReader]

    /// The `*.h5` files of the directory that are HDF5 but no archive (an application's own
    /// files beside the archive), left out.
    public let foreignFiles: [String]

    /// Opens the archive file at `path`, or every archive file (`*.h5`) of the directory at `path`.
    /// In a directory, HDF5 files that are no ChronoLog-Swift archive at all are left out
    /// (``foreignFiles``): only the archive's own files are read.
    /// - Throws: `ArchiveError.notFound` when nothing is at `path` or the directory has no `.h5`
    ///   file; `.unreadableFile` when a file is not HDF5 or is truncated; `.incompatibleLayout`
    ///   when it is an archive of another layout; `.foreignFile` for an HDF5 file that is no
    ///   archive (`path` itself, or every `.h5` file of the directory); `.corrupt` for damaged names.
    public init(path: String) throws(ArchiveError) {
        self.path = path
        let paths = try Self.archiveFiles(at: path)
        var readers: [ArchiveFileReader] = [], foreign: [String] = []
        var firstForeign: ArchiveError?
        for p in paths {
            do throws(ArchiveError) {
                readers.append(try ArchiveFileReader(path: p))
            } catch .foreignFile(let file, let detail) where p != path {
                foreign.append(file)
                firstForeign = firstForeign ?? .foreignFile(path: file, detail: detail)
            }
        }
        if readers.isEmpty, let firstForeign { throw firstForeign }
        self.readers = readers
        self.foreignFiles = foreign
    }

    /// The archive files at `path`: the file itself, or the directory's `*.h5` files by name.
    /// - Throws: `.notFound` when there is none; `.unlistableDirectory` when the directory cannot be listed.
    public static func archiveFiles(at path: String) throws(ArchiveError) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .notFound(path: path) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return [path] }
        guard let dir = opendir(path) else { throw .unlistableDirectory(path: path, reason: String(cString: strerror(errno)).lowercased()) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasSuffix(ArchiveLayout.fileExtension), !name.hasPrefix(".") else { continue }
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            var s = stat()
            if stat(full, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG { names.append(full) }
        }
        guard !names.isEmpty else { throw .notFound(path: path) }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    // MARK: Listing

    /// Every chronicle with its stories: names, ids, chunk and event counts, payload bytes, event
    /// times and durable ranges (merged over all files), and the index rows left out as damage or as
    /// a crash tail. Chronicles and stories in byte order of their names.
    /// - Throws: `.hdf5` on read failures, `.corrupt` when a story's datasets have the wrong shape.
    public func chronicles() throws(ArchiveError) -> [ArchivedChronicle] {
        var byChronicle: [[UInt8]: [StoryKey: ArchivedStory]] = [:]
        for reader in readers {
            for (key, entry) in reader.stories {
                let index = try reader.index(for: key)
                let rows = index.rows
                var story = byChronicle[key.chronicle, default: [:]][key] ?? ArchivedStory(
                    chronicle: key.chronicleName, name: key.storyName, storyId: entry.storyId, chunkCount: 0,
                    eventCount: 0, payloadBytes: 0, eventTimes: nil, durableRanges: [], files: [])
                story.chunkCount += rows.count
                story.eventCount += rows.reduce(0) { $0 + Int($1.eventCount) }
                story.payloadBytes += rows.reduce(0) { $0 + Int($1.payloadBytes) }
                for row in rows where row.eventCount > 0 {
                    let t = TimeRange(start: row.minTime, end: row.maxTime &+ 1)
                    story.eventTimes = story.eventTimes.map { $0.union(t) } ?? t
                }
                story.durableRanges = mergeRanges(story.durableRanges + rows.map(\.range))
                story.files.append(reader.path)
                story.damagedRows += index.damaged.count
                story.uncommittedRows += index.uncommitted
                byChronicle[key.chronicle, default: [:]][key] = story
            }
        }
        return byChronicle.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { c in
            let stories = byChronicle[c]!
            let name = String(decoding: c, as: UTF8.self)
            let id = (try? ChronicleName(name)).map { ChronicleID($0) } ?? ChronicleID(rawValue: 0)
            return ArchivedChronicle(name: name, chronicleId: id,
                                     stories: stories.keys.sorted().map { stories[$0]! })
        }
    }

    // MARK: Events

    /// The events of one story with `range.start <= time < range.end`, in event order
    /// (time, clientId, index), each exactly once (revisions and duplicates are merged with
    /// `StoryChunk.merge`). Chunks are found through the story's time index by binary search;
    /// only overlapping chunks' records are read, and only the payload bytes of selected events.
    /// The result's range is `range` (an empty `range` gives an empty chunk). Strict: any damaged
    /// index row of the story fails the read (``read(chronicle:story:range:)`` reads around it and
    /// says what is missing).
    /// - Throws: `ArchiveError.storyNotFound` when no file holds the story; `.corrupt` when a
    ///   checksum, order or bound check of the data read fails; `.hdf5` on read failures.
    public func events(chronicle: String, story: String, range: TimeRange) throws(ArchiveError) -> StoryChunk {
        let key = StoryKey(chronicle: chronicle, story: story)
        let holders = readers.filter { $0.stories[key] != nil }
        guard let first = holders.first, let entry = first.stories[key] else {
            throw .storyNotFound(chronicle: chronicle, story: story)
        }
        let id = entry.storyId
        if range.isEmpty { return .empty(storyId: id, range: range) }
        var pieces: [StoryChunk] = []
        for reader in holders {
            let index = try reader.strictIndex(for: key)
            for position in index.overlapping(range) {
                let piece = try reader.chunk(index: index, row: position, window: range, storyId: id)
                if !piece.isEmpty { pieces.append(piece) }
            }
        }
        let merged: StoryChunk?
        do { merged = try StoryChunk.merge(pieces) } catch {
            throw .corrupt(location: path, detail: "merging chunks of \(chronicle)/\(story): \(error)")
        }
        guard let merged else { return .empty(storyId: id, range: range) }
        do {
            return try StoryChunk(validatingStoryId: id, range: range, revision: merged.revision,
                                  records: merged.records, payload: merged.payload)
        } catch {
            throw .corrupt(location: path, detail: "merged events of \(chronicle)/\(story): \(error)")
        }
    }

    /// Reads the archived events of `window` straight into `destination` in the chunk encoding
    /// (what `StoryChunk.encode` gives: header, records, payload) with no intermediate arrays —
    /// for a replay piece read into registered memory — when no merging is needed: the story's rows
    /// overlapping `window` are in one file, their events lie inside `window`, and no two rows'
    /// events interleave in time (no revisions or duplicates there). Rows are read whole and checked
    /// as by ``events(chronicle:story:range:)``, both checksums included.
    /// - Returns: the encoded size and event count; nil when the window needs merging or does not
    ///   fit in `destination` (read it with ``events(chronicle:story:range:)`` then).
    /// - Throws: `.storyNotFound` when no file holds the story; `.corrupt` or `.hdf5` as ``events(chronicle:story:range:)``.
    public func readEncoded(chronicle: String, story: String, window: TimeRange,
                            into destination: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> EncodedWindow? {
        try readEncoded(chronicle: chronicle, story: story, window: window, into: destination, lendingPayloadAbove: nil)
    }

    /// ``readEncoded(chronicle:story:window:into:)``, leaving the payload in the mapped file when
    /// the encoded window is larger than `threshold` bytes (nil: never): only the header and the
    /// record table are written into `destination`, and the payload's parts — checked against the
    /// index rows' checksums where they lie — come back in ``EncodedWindow/payloadInPlace`` for a
    /// player to lend. Where a part cannot be located in the file (a chunk not allocated, a filtered
    /// dataset, a file that cannot be mapped) the payload is copied as usual.
    /// - Throws: as ``readEncoded(chronicle:story:window:into:)``.
    public func readEncoded(chronicle: String, story: String, window: TimeRange, into destination: UnsafeMutableRawBufferPointer,
                            lendingPayloadAbove threshold: Int?) throws(ArchiveError) -> EncodedWindow? {
        let key = StoryKey(chronicle: chronicle, story: story)
        let holders = readers.filter { $0.stories[key] != nil }
        guard let reader = holders.first, let entry = reader.stories[key] else {
            throw .storyNotFound(chronicle: chronicle, story: story)
        }
        guard holders.count == 1, !window.isEmpty else { return nil }
        let index = try reader.strictIndex(for: key)
        // Rows whose events meet the window (a revision's range may overlap it with no event in it).
        let rows = index.overlapping(window).filter {
            let row = index.rows[$0]
            return row.eventCount > 0 && row.maxTime >= window.start && row.minTime < window.end
        }.sorted { index.rows[$0].minTime < index.rows[$1].minTime }
        var size = StoryChunk.headerByteCount
        for (k, p) in rows.enumerated() {
            let row = index.rows[p]
            guard window.contains(row.minTime), window.contains(row.maxTime) else { return nil }
            if k > 0, index.rows[rows[k - 1]].maxTime >= row.minTime { return nil }
            size += Int(row.eventCount) * EventRecord.byteSize + Int(row.payloadBytes)
        }
        guard size <= destination.count else { return nil }
        if let threshold, size > threshold,
           let lent = try reader.readEncoded(index: index, rows: rows, window: window, storyId: entry.storyId, into: destination,
                                             lendingPayload: true) {
            return lent
        }
        return try reader.readEncoded(index: index, rows: rows, window: window, storyId: entry.storyId, into: destination,
                                      lendingPayload: false)
    }

    /// The first of the consecutive windows that split `range` so that each holds about
    /// `maxBytes` of the story's archived events (32 bytes per record plus record bytes, estimated
    /// from the time index): a large range is read window by window, each starting where the last
    /// ended, with ``events(chronicle:story:range:)`` in bounded memory. The windows cover `range`
    /// exactly, in order; a chunk larger than `maxBytes` gets a window of its own; no window is cut
    /// inside a range where nothing starts.
    ///
    /// Looks only at the index rows up to the cut (binary search, then a scan in start order), so
    /// reading a story of many rows window by window costs time in proportion to its rows, not to
    /// their square.
    ///
    /// With `toleratingDamage`, damaged index rows are left out of the windows (the caller reads
    /// with ``read(chronicle:story:range:)``, which reports them) instead of failing.
    /// - Returns: `range` itself when it is small, empty or holds nothing.
    /// - Throws: `ArchiveError.storyNotFound` when no file holds the story; `.corrupt` or `.hdf5`
    ///   when its index cannot be read.
    public func firstWindow(chronicle: String, story: String, range: TimeRange, maxBytes: Int,
                            toleratingDamage: Bool = false) throws(ArchiveError) -> TimeRange {
        let key = StoryKey(chronicle: chronicle, story: story)
        let holders = readers.filter { $0.stories[key] != nil }
        guard !holders.isEmpty else { throw .storyNotFound(chronicle: chronicle, story: story) }
        if range.isEmpty { return range }
        // Each file's chunks that overlap `range`, in order of their range start.
        var scans: [ArchiveFileReader.StoryIndex.OverlapScan] = []
        for reader in holders {
            let index = toleratingDamage ? try reader.index(for: key) : try reader.strictIndex(for: key)
            scans.append(index.scan(overlapping: range))
        }
        // A chunk's span starts where its events inside `range` start (its first event time), at or
        // after its range start; spans are taken in start order from a heap, each once no chunk
        // still to be scanned can start before it.
        var spans = Heap<WindowSpan>()
        let windowStart = range.start
        var bytes = 0
        while true {
            var next: (scan: Int, row: ArchiveIndexRow)? = nil
            for i in scans.indices {
                if let row = scans[i].peek(), next.map({ row.range.start < $0.row.range.start }) ?? true { next = (i, row) }
            }
            let scanFrom = next?.row.range.start ?? .max
            while let span = spans.min, span.start < scanFrom || next == nil {
                spans.removeMin()
                if bytes > 0 && bytes + span.bytes > maxBytes && span.start > windowStart && span.start < range.end {
                    return TimeRange(start: windowStart, end: span.start)
                }
                bytes += span.bytes
            }
            guard let (i, row) = next else { return TimeRange(start: windowStart, end: range.end) }
            spans.insert(WindowSpan(start: max(range.start, row.minTime),
                                    bytes: Int(row.eventCount) * EventRecord.byteSize + Int(row.payloadBytes)))
            scans[i].position += 1
        }
    }

    /// One chunk's share of a window: where its events in the range start, and its size.
    private struct WindowSpan: Comparable {
        let start: UInt64
        let bytes: Int
        static func < (a: WindowSpan, b: WindowSpan) -> Bool { a.start < b.start }
    }

    // MARK: Verification

    /// Checks every file: it opened; layout attributes; every story's names, id and path; dataset
    /// shapes; every index row (checksum, bounds, range); every chunk's records (checksum, strict
    /// event order, times inside the range and matching min/max, offsets contiguous inside the
    /// chunk's payload) and payload (checksum); chunks not overlapping in `events` or `payload`;
    /// the `/rounds` manifest against the index rows. Never throws: problems are listed with
    /// their locations.
    public func verify() -> ArchiveVerification {
        var result = ArchiveVerification(files: files, stories: 0, chunks: 0, events: 0, uncommittedRows: 0, problems: [])
        for reader in readers { reader.verify(into: &result) }
        return result
    }

    /// Verifies the archive at `path` without throwing: a missing path, or a file that does not
    /// open, is reported as a problem; every file that opens is verified as by `verify()`.
    public static func verify(path: String) -> ArchiveVerification {
        let paths: [String]
        do { paths = try archiveFiles(at: path) } catch {
            return ArchiveVerification(files: [], stories: 0, chunks: 0, events: 0, uncommittedRows: 0,
                                       problems: [ArchiveProblem(location: path, detail: "\(error)")])
        }
        var result = ArchiveVerification(files: paths, stories: 0, chunks: 0, events: 0, uncommittedRows: 0, problems: [])
        var foreign: [ArchiveProblem] = []
        for p in paths {
            do {
                try ArchiveFileReader(path: p).verify(into: &result)
            } catch ArchiveError.foreignFile(let file, let detail) where p != path {
                // An application's own HDF5 file beside the archive: not read, so not verified.
                result.files.removeAll { $0 == file }
                foreign.append(ArchiveProblem(location: file, detail: "\(ArchiveError.foreignFile(path: file, detail: detail))"))
            } catch {
                result.problems.append(ArchiveProblem(location: p, detail: "\(error)"))
            }
        }
        if result.files.isEmpty { result.problems += foreign }
        return result
    }
}

/// What ``ArchiveReader/readEncoded(chronicle:story:window:into:)`` wrote: an encoded chunk of
/// `byteCount` bytes holding `eventCount` events — or, with ``payloadInPlace``, its header and
/// record table (`byteCount` minus the payload's bytes), the payload left where it lies in the file.
public struct EncodedWindow: Sendable {
    public var byteCount: Int
    public var eventCount: Int
    /// The payload, verified, in the mapped file: it follows the record table in the encoding
    /// but was not copied (``ArchiveReader/readEncoded(chronicle:story:window:into:lendingPayloadAbove:)``).
    public var payloadInPlace: InPlacePayload? = nil

    /// Bytes written into the destination: all of them, or the header and records alone.
    public var writtenByteCount: Int { byteCount - (payloadInPlace?.byteCount ?? 0) }

    public init(byteCount: Int, eventCount: Int, payloadInPlace: InPlacePayload? = nil) {
        self.byteCount = byteCount
        self.eventCount = eventCount
        self.payloadInPlace = payloadInPlace
    }
}

/// One open archive file: its stories and their (lazily loaded) time indexes.
final class ArchiveFileReader {
    struct StoryEntry {
        let groupPath: String
        let storyId: StoryID
    }

    /// A story's time index: valid rows sorted by range start, with the running maximum of range
    /// ends so both ends of a lookup are binary searches.
    struct StoryIndex {
        let groupPath: String
        let events: HDF5Dataset
        let payload: HDF5Dataset
        let eventsExtent: Int
        let payloadExtent: Int
        /// Valid rows in file order.
        let rows: [ArchiveIndexRow]
        /// Positions in `rows`, sorted by (range.start, range.end).
        let byStart: [Int]
        /// `maxEnd[i]` = the largest range end among `byStart[0...i]`.
        let maxEnd: [UInt64]
        /// Row numbers in the file of `rows`.
        let fileRows: [Int]
        /// Rows ignored as a crash tail: never completely written, in rounds not committed.
        let uncommitted: Int
        /// Damaged rows left out (their checksum or bounds fail where no crash tail can be).
        let damaged: [ArchiveProblem]

        /// The first position in `byStart` whose chunk may overlap `window`: before it, no chunk's
        /// range reaches `window.start` (binary search over the running maximum of range ends).
        func firstCandidate(overlapping window: TimeRange) -> Int {
            var lo = 0, hi = byStart.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if maxEnd[mid] > window.start { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }

        /// The chunks overlapping `window`, one at a time in order of range start.
        struct OverlapScan {
            let index: StoryIndex
            let window: TimeRange
            /// Position in `index.byStart` of the next chunk to look at.
            var position: Int

            /// The next overlapping chunk, without taking it (advance `position` to take it); nil
            /// when none is left.
            mutating func peek() -> ArchiveIndexRow? {
                while position < index.byStart.count {
                    let row = index.rows[index.byStart[position]]
                    if row.range.start >= window.end { return nil }
                    if row.range.overlaps(window) { return row }
                    position += 1
                }
                return nil
            }
        }

        /// A scan of the chunks overlapping `window`, from the first that may.
        func scan(overlapping window: TimeRange) -> OverlapScan {
            OverlapScan(index: self, window: window, position: firstCandidate(overlapping: window))
        }

        /// Positions in `rows` of the chunks whose range overlaps `window`, in start order.
        func overlapping(_ window: TimeRange) -> [Int] {
            let from = firstCandidate(overlapping: window)
            // ...up to the first whose start is at or after window.end.
            var lo = from, hi = byStart.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if rows[byStart[mid]].range.start < window.end { lo = mid + 1 } else { hi = mid }
            }
            return (from..<lo).map { byStart[$0] }.filter { rows[$0].range.overlaps(window) }
        }
    }

    let path: String
    let file: HDF5File
    let root: HDF5Group
    /// The file's last round: rows of `/rounds` − 1.
    private(set) var lastRound = -1
    /// The file's commit record (`/commit`).
    private(set) var commit = ArchiveCommitRecord(row: nil, present: false, problem: nil)
    /// How invalid index rows are judged (from `commit`).
    private(set) var rule = ArchiveCommitRule.legacy(lastRound: -1)
    /// Whether valid index rows of committed rounds number fewer than the commit record counts
    /// (computed when first needed: only a file that was not closed asks).
    private var committedRowsMissingCache: Bool?
    /// The story names by group path, for problem reports.
    private var names: [String: StoryKey] = [:]
    /// Stories of the file by name bytes.
    private(set) var stories: [StoryKey: StoryEntry] = [:]
    /// Chronicle and story groups that could not be read when the file was opened, left out.
    private(set) var damagedGroups: [ArchiveProblem] = []
    private var indexes: [StoryKey: StoryIndex] = [:]
    /// The file mapped for lending payloads in place (``readEncoded(index:rows:window:storyId:into:lendingPayload:)``),
    /// on first use; nil when it cannot be mapped.
    private lazy var mapping: MappedFile? = MappedFile(path: path)

    init(path: String) throws(ArchiveError) {
        self.path = path
        let opened: HDF5File
        do {
            opened = try HDF5File.openSerial(path: path, mode: .readOnly)
        } catch let error as HDF5Error {
            switch error {
            case .fileNotFound: throw ArchiveError.notFound(path: path)
            case .notAnHDF5File: throw ArchiveError.unreadableFile(path: path, reason: "\(error)")
            default: throw ArchiveError.unreadableFile(path: path, reason: "\(error)")
            }
        } catch {
            throw ArchiveError.wrap(error)
        }
        file = opened
        root = try archiveCall { try opened.root }
        try archiveCall {
            try ArchiveWriter.checkLayout(root, path: path)
            lastRound = try root.openDataset(ArchiveLayout.roundsDataset).extent - 1
            commit = try ArchiveCommitRecord.read(root)
            rule = ArchiveCommitRule(commit.row, roundsInFile: lastRound + 1)
            let chronicles = try root.openGroup(ArchiveLayout.chroniclesGroup)
            // A chronicle or story group that cannot be read (damaged metadata) is left out and
            // named in ``damagedGroups``: the other stories of the file stay readable.
            for component in try chronicles.memberNames() {
                let location = "\(path):/\(ArchiveLayout.chroniclesGroup)/\(component)"
                do {
                    let cgroup = try chronicles.openGroup(component)
                    defer { try? cgroup.close() }
                    let cname = try stringAttribute(cgroup, ArchiveLayout.nameAttribute)
                    for storyComponent in try cgroup.memberNames() {
                        do {
                            try listStory(storyComponent, of: cgroup, chronicle: cname)
                        } catch {
                            damagedGroups.append(ArchiveProblem(location: "\(location)/\(storyComponent)",
                                                                detail: "story group unreadable, left out: \(ArchiveError.wrap(error))"))
                        }
                    }
                } catch {
                    damagedGroups.append(ArchiveProblem(location: location, detail: "chronicle group unreadable, left out: \(ArchiveError.wrap(error))"))
                }
            }
        }
    }

    /// Lists one story group of a chronicle group.
    private func listStory(_ component: String, of cgroup: HDF5Group, chronicle cname: String) throws {
        let sgroup = try cgroup.openGroup(component)
        defer { try? sgroup.close() }
        let c = try stringAttribute(sgroup, ArchiveLayout.chronicleAttribute)
        let s = try stringAttribute(sgroup, ArchiveLayout.storyAttribute)
        guard Array(c.utf8) == Array(cname.utf8) else {
            throw ArchiveError.corrupt(location: "\(path):\(sgroup.path)",
                                       detail: "chronicle attribute '\(c)' differs from the group's name '\(cname)'")
        }
        let id = try sgroup.attributes.uint64(ArchiveLayout.storyIdAttribute)
        stories[StoryKey(chronicle: c, story: s)] = StoryEntry(groupPath: sgroup.path, storyId: StoryID(rawValue: id))
        names[sgroup.path] = StoryKey(chronicle: c, story: s)
    }

    private func stringAttribute(_ group: HDF5Group, _ name: String) throws -> String {
        do { return try group.attributes.string(name) } catch {
            throw ArchiveError.corrupt(location: "\(path):\(group.path)", detail: "attribute \(name): \(error)")
        }
    }

    /// The story's time index, loaded and cached on first use. Damaged rows are left out and
    /// listed in its `damaged`.
    func index(for key: StoryKey) throws(ArchiveError) -> StoryIndex {
        if let cached = indexes[key] { return cached }
        guard let entry = stories[key] else { throw .storyNotFound(chronicle: key.chronicleName, story: key.storyName) }
        let (index, _) = try loadIndex(groupPath: entry.groupPath)
        indexes[key] = index
        return index
    }

    /// The story's time index; throws `.corrupt` for its first damaged row.
    func strictIndex(for key: StoryKey) throws(ArchiveError) -> StoryIndex {
        let index = try index(for: key)
        if let first = index.damaged.first { throw .corrupt(location: first.location, detail: first.detail) }
        return index
    }

    /// What the file's end looks like (its commit record).
    var state: ArchiveFileState { commit.state(rounds: lastRound + 1) }

    /// `story "chronicle"/"story"` for the story group at `groupPath`.
    func label(_ groupPath: String) -> String {
        names[groupPath].map { "story \"\($0.chronicleName)\"/\"\($0.storyName)\"" } ?? "story at \(groupPath)"
    }

    /// Whether valid index rows of committed rounds number fewer than the commit record counts.
    private func committedRowsMissing() throws -> Bool {
        if let cached = committedRowsMissingCache { return cached }
        guard case .open(let committed) = rule, let row = commit.row else { return false }
        var found: UInt64 = 0
        for entry in stories.values {
            let group = try root.openGroup(entry.groupPath)
            let index = try group.openDataset(ArchiveLayout.indexDataset)
            let raw = try index.readAll(UInt64.self)
            try index.close()
            try group.close()
            let width = ArchiveIndexRow.columnCount
            for i in 0..<(raw.count / width) {
                if let r = ArchiveIndexRow(columns: raw[(i * width)..<((i + 1) * width)]), !r.isVoid, r.round < committed { found += 1 }
            }
        }
        committedRowsMissingCache = found < row.indexRows
        return found < row.indexRows
    }

    /// Why an invalid index row is damage, by the file's commit rule.
    private var damageDetail: String {
        switch rule {
        case .legacy: "row checksum mismatch before valid rows of other rounds"
        case .closed: "row checksum mismatch in a file closed cleanly (damage, not a crash tail)"
        case .open: "row checksum mismatch before valid rows of committed rounds"
        }
    }

    /// Reads and checks a story's index; damage is returned as problems (the damaged rows are left out).
    private func loadIndex(groupPath: String) throws(ArchiveError) -> (StoryIndex, [ArchiveProblem]) {
        try archiveCall {
            let group = try root.openGroup(groupPath)
            let events = try group.openDataset(ArchiveLayout.eventsDataset)
            // Payload reads are large and each byte is read once: straight into the caller's
            // buffer (a replay's registered slot), not through the chunk cache.
            let payload = try group.openDataset(ArchiveLayout.payloadDataset, chunkCache: false)
            let indexSet = try group.openDataset(ArchiveLayout.indexDataset)
            let here = "\(path):\(groupPath)"
            guard events.elementType == .uint8, events.columns == ArchiveLayout.eventRowBytes,
                  payload.elementType == .uint8, payload.columns == nil,
                  indexSet.elementType == .uint64, indexSet.columns == ArchiveIndexRow.columnCount else {
                throw ArchiveError.corrupt(location: here, detail: "events/payload/index have the wrong type or shape")
            }
            let eventsExtent = try events.extent, payloadExtent = try payload.extent
            let raw = try indexSet.readAll(UInt64.self)
            let n = raw.count / ArchiveIndexRow.columnCount
            var decoded: [ArchiveIndexRow?] = []
            decoded.reserveCapacity(n)
            for i in 0..<n {
                let c = raw[(i * ArchiveIndexRow.columnCount)..<((i + 1) * ArchiveIndexRow.columnCount)]
                decoded.append(ArchiveIndexRow(columns: c))
            }
            let (use, _, damaged, candidates) = ArchiveIndexRow.classify(decoded, rule: rule)
            let who = label(groupPath)
            func stored(_ i: Int) -> String {
                let c = raw[(i * ArchiveIndexRow.columnCount)...]
                return "stored (unverified) range [\(c[c.startIndex]), \(c[c.startIndex + 1])), \(c[c.startIndex + 4]) events"
            }
            var problems: [ArchiveProblem] = damaged.map {
                ArchiveProblem(location: "\(here)/\(ArchiveLayout.indexDataset) row \($0)",
                               detail: "\(who): \(damageDetail); \(stored($0))")
            }
            // Invalid rows neither damaged nor candidates: a crash tail (legacy rule).
            var tail = decoded.reduce(0) { $0 + ($1 == nil ? 1 : 0) } - damaged.count - candidates.count
            if !candidates.isEmpty {
                if try committedRowsMissing() {
                    problems += candidates.map {
                        ArchiveProblem(location: "\(here)/\(ArchiveLayout.indexDataset) row \($0)",
                                       detail: "\(who): row checksum mismatch while rows of committed rounds are missing "
                                           + "(damage, or a crash tail next to it); \(stored($0))")
                    }
                } else {
                    tail += candidates.count
                }
            }
            var rows: [ArchiveIndexRow] = []
            var fileRows: [Int] = []
            for i in use {
                let row = decoded[i]!
                if let problem = row.boundsProblem(eventsExtent: eventsExtent, payloadExtent: payloadExtent) {
                    problems.append(ArchiveProblem(location: "\(here)/\(ArchiveLayout.indexDataset) row \(i)",
                                                   detail: "\(who): \(problem); range \(row.range), \(row.eventCount) events"))
                    continue
                }
                rows.append(row)
                fileRows.append(i)
            }
            let byStart = rows.indices.sorted { (rows[$0].range.start, rows[$0].range.end) < (rows[$1].range.start, rows[$1].range.end) }
            var maxEnd: [UInt64] = []
            maxEnd.reserveCapacity(byStart.count)
            for p in byStart { maxEnd.append(max(maxEnd.last ?? 0, rows[p].range.end)) }
            let index = StoryIndex(groupPath: groupPath, events: events, payload: payload, eventsExtent: eventsExtent,
                                   payloadExtent: payloadExtent, rows: rows, byStart: byStart, maxEnd: maxEnd,
                                   fileRows: fileRows, uncommitted: tail, damaged: problems)
            return (index, problems)
        }
    }

    /// The events of index row `row` inside `window`, checked: records checksum, canonical order
    /// and offsets, and the payload checksum when the whole chunk is read.
    func chunk(index: StoryIndex, row position: Int, window: TimeRange, storyId: StoryID) throws(ArchiveError) -> StoryChunk {
        let row = index.rows[position]
        let location = "\(path):\(index.groupPath)/\(ArchiveLayout.indexDataset) row \(index.fileRows[position])"
        let records = try readRecords(index: index, row: row, location: location)
        let clipped = row.range.intersection(window)
        // Positions of the selected events (records are checked sorted by readRecords).
        let lower = records.firstPosition(atOrAfter: clipped.start)
        let upper = records.firstPosition(atOrAfter: clipped.end)
        if lower >= upper || clipped.isEmpty { return .empty(storyId: storyId, range: row.range, revision: row.revision) }
        let from = Int(records[lower].offset)
        let to = Int(records[upper - 1].offset) + Int(records[upper - 1].length)
        var bytes = [UInt8](repeating: 0, count: to - from)
        try archiveCall {
            try bytes.withUnsafeMutableBytes { raw in
                try index.payload.read(range: from..<to, into: raw)
            }
        }
        if lower == 0, upper == records.count, ArchiveChecksum.hash(bytes) != row.payloadHash {
            throw .corrupt(location: location, detail: "payload checksum mismatch")
        }
        var selected = Array(records[lower..<upper])
        for i in selected.indices { selected[i].offset -= UInt64(from) }
        do {
            return try StoryChunk(validatingStoryId: storyId, range: clipped, revision: row.revision,
                                  records: selected, payload: bytes)
        } catch {
            throw .corrupt(location: location, detail: "\(error)")
        }
    }

    /// Reads a row's records and checks them (``checkRecordRows(_:row:location:)``).
    private func readRecords(index: StoryIndex, row: ArchiveIndexRow, location: String) throws(ArchiveError) -> [EventRecord] {
        let rows = row.eventRows
        var bytes = [UInt8](repeating: 0, count: rows.count * EventRecord.byteSize)
        try archiveCall {
            try bytes.withUnsafeMutableBytes { raw in try index.events.read(range: rows, into: raw) }
        }
        let problem: ArchiveError? = bytes.withUnsafeBytes { raw in
            do throws(ArchiveError) {
                try Self.checkRecordRows(raw, row: row, location: location)
                return nil
            } catch { return error }
        }
        if let problem { throw problem }
        return bytes.withUnsafeBytes { RecordRows.decode($0) }
    }

    /// Checks a row's records as stored (32-byte rows): checksum, strict order, times inside the
    /// range and equal to min/max, offsets contiguous from `payloadStart` and covering `payloadBytes`.
    static func checkRecordRows(_ raw: UnsafeRawBufferPointer, row: ArchiveIndexRow, location: String) throws(ArchiveError) {
        guard ArchiveChecksum.hash(raw) == row.eventsHash else {
            throw .corrupt(location: location, detail: "events checksum mismatch (rows \(row.eventRows))")
        }
        let n = raw.count / EventRecord.byteSize
        var expected = row.payloadStart
        var previous: EventRecord?
        for i in 0..<n {
            let r = RecordRows.record(raw, at: i)
            if let previous, !EventRecord.precedes(previous, r) {
                throw .corrupt(location: location, detail: "event row \(row.eventRows.lowerBound + i) not after the previous one")
            }
            guard row.range.contains(r.time) else {
                throw .corrupt(location: location, detail: "event row \(row.eventRows.lowerBound + i) time \(r.time) outside \(row.range)")
            }
            guard r.offset == expected else {
                throw .corrupt(location: location, detail: "event row \(row.eventRows.lowerBound + i) offset \(r.offset), expected \(expected)")
            }
            expected &+= UInt64(r.length)
            previous = r
        }
        guard expected == row.payloadStart &+ row.payloadBytes else {
            throw .corrupt(location: location, detail: "records cover \(expected - row.payloadStart) payload bytes, index says \(row.payloadBytes)")
        }
        if n > 0, RecordRows.record(raw, at: 0).time != row.minTime || RecordRows.record(raw, at: n - 1).time != row.maxTime {
            throw .corrupt(location: location, detail: "min/max time \(row.minTime)/\(row.maxTime) differ from the records' \(RecordRows.record(raw, at: 0).time)/\(RecordRows.record(raw, at: n - 1).time)")
        }
    }

    /// Reads the rows `positions` of a story's index (whole, in this order, their events following
    /// each other in time) straight into `destination` as one encoded chunk of range `window`:
    /// header, records with offsets rebased to the chunk's payload, payload. Each row is checked
    /// like ``chunk(index:row:window:storyId:)`` does for a whole row, payload checksum included.
    ///
    /// With `lendingPayload`, only the header and records are written: each row's payload is
    /// located in the mapped file chunk by chunk (``HDF5Dataset/chunkExtent(containingRow:)``),
    /// its checksum computed where it lies, and its parts returned in ``EncodedWindow/payloadInPlace``.
    /// - Returns: the encoded size and event count (the caller checked that it fits); nil only when
    ///   lending and some part cannot be located or mapped (the caller copies instead).
    /// - Throws: `.corrupt` when a row's records or payload fail their checks.
    func readEncoded(index: StoryIndex, rows positions: [Int], window: TimeRange, storyId: StoryID,
                     into destination: UnsafeMutableRawBufferPointer, lendingPayload: Bool) throws(ArchiveError) -> EncodedWindow? {
        // Lending: where each row's payload lies in the mapped file, found before anything is read.
        // The record rows are copied from the mapping too (one copy, where `H5Dread` read them into
        // HDF5's buffer and copied them again: a quarter of a player's time per window).
        var located: [(payload: [UnsafeRawBufferPointer], records: [UnsafeRawBufferPointer])]?
        if lendingPayload {
            guard let mapping else { return nil }
            var parts: [(payload: [UnsafeRawBufferPointer], records: [UnsafeRawBufferPointer])] = []
            for position in positions {
                let row = index.rows[position]
                guard let payload = try fileParts(Int(row.payloadStart)..<(Int(row.payloadStart) + Int(row.payloadBytes)),
                                                  of: index.payload, in: mapping),
                      let records = try fileParts(row.eventRows, of: index.events, in: mapping) else { return nil }
                parts.append((payload, records))
            }
            located = parts
        }
        let events = positions.reduce(0) { $0 + Int(index.rows[$1].eventCount) }
        var recordAt = StoryChunk.headerByteCount
        // Where the payload goes in `destination` (lending: nowhere; its offsets still count from 0).
        let payloadBase = located == nil ? recordAt + events * EventRecord.byteSize : 0
        var payloadAt = payloadBase
        var revision: UInt32 = 0
        var lent: [UnsafeRawBufferPointer] = []
        for (k, position) in positions.enumerated() {
            let row = index.rows[position]
            let location = "\(path):\(index.groupPath)/\(ArchiveLayout.indexDataset) row \(index.fileRows[position])"
            let records = UnsafeMutableRawBufferPointer(rebasing: destination[recordAt..<(recordAt + row.eventRows.count * EventRecord.byteSize)])
            let hash: UInt64
            if let parts = located?[k] {
                var at = 0
                for part in parts.records {
                    UnsafeMutableRawBufferPointer(rebasing: records[at..<(at + part.count)]).copyMemory(from: part)
                    at += part.count
                }
                for part in parts.payload { mapping?.prefetch(part) }
                hash = ArchiveChecksum.hash(parts: parts.payload)
                lent += parts.payload
            } else {
                let payload = UnsafeMutableRawBufferPointer(rebasing: destination[payloadAt..<(payloadAt + Int(row.payloadBytes))])
                try archiveCall {
                    try index.events.read(range: row.eventRows, into: records)
                    if payload.count > 0 {
                        try index.payload.read(range: Int(row.payloadStart)..<(Int(row.payloadStart) + payload.count), into: payload)
                    }
                }
                hash = ArchiveChecksum.hash(UnsafeRawBufferPointer(payload))
            }
            try Self.checkRecordRows(UnsafeRawBufferPointer(records), row: row, location: location)
            guard hash == row.payloadHash else {
                throw .corrupt(location: location, detail: "payload checksum mismatch")
            }
            RecordRows.rebaseOffsets(records, by: UInt64(payloadAt - payloadBase) &- row.payloadStart)
            revision = max(revision, row.revision)
            recordAt += records.count
            payloadAt += Int(row.payloadBytes)
        }
        StoryChunk.storeHeader(into: destination, storyId: storyId, range: window, revision: revision, eventCount: events,
                               payloadBytes: payloadAt - payloadBase)
        guard located != nil, let mapping else { return EncodedWindow(byteCount: payloadAt, eventCount: events) }
        return EncodedWindow(byteCount: recordAt + payloadAt, eventCount: events,
                             payloadInPlace: InPlacePayload(parts: Self.joined(lent), owner: mapping))
    }

    /// Where the rows `range` of a dataset (payload bytes, or record rows) lie in the mapped file,
    /// chunk by chunk. Nil where a chunk is not allocated, filtered, or past the mapping's end.
    private func fileParts(_ range: Range<Int>, of dataset: HDF5Dataset,
                           in mapping: MappedFile) throws(ArchiveError) -> [UnsafeRawBufferPointer]? {
        var parts: [UnsafeRawBufferPointer] = []
        let rowBytes = dataset.rowByteCount
        var at = range.lowerBound
        while at < range.upperBound {
            let chunk: HDF5ChunkExtent? = try archiveCall { try dataset.chunkExtent(containingRow: at) }
            guard let chunk else { return nil }
            let end = min(range.upperBound, chunk.rows.upperBound)
            guard let bytes = mapping.bytes(at: chunk.fileOffset + (at - chunk.rows.lowerBound) * rowBytes,
                                            count: (end - at) * rowBytes) else { return nil }
            parts.append(bytes)
            at = end
        }
        return parts
    }

    /// Parts that follow each other in memory joined into one.
    private static func joined(_ parts: [UnsafeRawBufferPointer]) -> [UnsafeRawBufferPointer] {
        var out: [UnsafeRawBufferPointer] = []
        for part in parts where part.count > 0 {
            if let last = out.last, let end = last.baseAddress.map({ $0 + last.count }), end == part.baseAddress {
                out[out.count - 1] = UnsafeRawBufferPointer(start: last.baseAddress, count: last.count + part.count)
            } else {
                out.append(part)
            }
        }
        return out
    }

    /// Verifies the whole file into `result`.
    func verify(into result: inout ArchiveVerification) {
        var perRound: [UInt64: (rows: UInt64, events: UInt64, bytes: UInt64)] = [:]
        // Rows of the torn last round: invalid ones found in indexes, and those the manifest misses
        // (rows never written are missing from both; the larger count is the tail, counted once).
        var tailRows = 0, manifestMissing = 0
        defer { result.uncommittedRows += max(tailRows, manifestMissing) }
        result.fileStates.append(ArchiveFileStatus(file: path, state: state))
        result.problems += damagedGroups
        if let problem = commit.problem { result.problems.append(ArchiveProblem(location: "\(path):/\(ArchiveLayout.commitDataset)", detail: problem)) }
        for (key, entry) in stories.sorted(by: { $0.key < $1.key }) {
            result.stories += 1
            let here = "\(path):\(entry.groupPath)"
            // Names, id and path.
            if let c = try? ChronicleName(key.chronicleName), let s = try? StoryName(key.storyName) {
                let id = StoryID(chronicle: c, story: s)
                if id != entry.storyId {
                    result.problems.append(ArchiveProblem(location: here, detail: "story_id \(entry.storyId) is not the id \(id) of the names"))
                }
                if entry.groupPath != ArchiveLayout.storyPath(chronicle: c, story: s) {
                    result.problems.append(ArchiveProblem(location: here, detail: "group path is not \(ArchiveLayout.storyPath(chronicle: c, story: s))"))
                }
            } else {
                result.problems.append(ArchiveProblem(location: here, detail: "invalid chronicle or story name"))
            }
            let index: StoryIndex
            do {
                let (loaded, problems) = try loadIndex(groupPath: entry.groupPath)
                index = loaded
                result.problems += problems
            } catch {
                result.problems.append(ArchiveProblem(location: here, detail: "\(error)"))
                continue
            }
            tailRows += index.uncommitted
            // Chunks must not share event rows or payload bytes.
            var eventSpans: [(Int, Int, Int)] = [], payloadSpans: [(Int, Int, Int)] = []
            for (p, row) in index.rows.enumerated() {
                result.chunks += 1
                result.events += Int(row.eventCount)
                let location = "\(here)/\(ArchiveLayout.indexDataset) row \(index.fileRows[p])"
                if row.eventCount > 0 { eventSpans.append((Int(row.firstEvent), Int(row.firstEvent + row.eventCount), index.fileRows[p])) }
                if row.payloadBytes > 0 { payloadSpans.append((Int(row.payloadStart), Int(row.payloadStart + row.payloadBytes), index.fileRows[p])) }
                var t = perRound[row.round] ?? (0, 0, 0)
                t.rows += 1
                t.events += row.eventCount
                t.bytes += row.payloadBytes
                perRound[row.round] = t
                do {
                    _ = try chunk(index: index, row: p, window: row.range, storyId: entry.storyId)
                } catch {
                    if case .corrupt(_, let detail) = error {
                        result.problems.append(ArchiveProblem(location: location, detail: detail))
                    } else {
                        result.problems.append(ArchiveProblem(location: location, detail: "\(error)"))
                    }
                }
            }
            for (name, spans) in [("event rows", eventSpans), ("payload bytes", payloadSpans)] {
                let sorted = spans.sorted { $0.0 < $1.0 }
                for i in sorted.indices.dropFirst() where sorted[i].0 < sorted[i - 1].1 {
                    result.problems.append(ArchiveProblem(
                        location: "\(here)/\(ArchiveLayout.indexDataset) row \(sorted[i].2)",
                        detail: "\(name) overlap those of row \(sorted[i - 1].2)"))
                }
            }
        }
        // The manifest against the index rows.
        do {
            let rounds = try root.openDataset(ArchiveLayout.roundsDataset)
            guard rounds.elementType == .uint64, rounds.columns == ArchiveRoundRow.columnCount else {
                result.problems.append(ArchiveProblem(location: "\(path):/rounds", detail: "wrong type or shape"))
                return
            }
            let raw = try rounds.readAll(UInt64.self)
            let n = raw.count / ArchiveRoundRow.columnCount
            let decoded = (0..<n).map { i in
                ArchiveRoundRow(columns: raw[(i * ArchiveRoundRow.columnCount)..<((i + 1) * ArchiveRoundRow.columnCount)])
            }
            let lastValid = decoded.lastIndex(where: { $0 != nil }) ?? -1
            for i in 0..<(lastValid + 1) {
                let location = "\(path):/rounds row \(i)"
                guard let row = decoded[i] else {
                    result.problems.append(ArchiveProblem(location: location, detail: "row checksum mismatch before later valid rows"))
                    continue
                }
                if row.round != UInt64(i) {
                    result.problems.append(ArchiveProblem(location: location, detail: "round number \(row.round)"))
                }
                let found = perRound[UInt64(i)] ?? (0, 0, 0)
                // The last round may have been cut short by a crash (fewer rows than announced), unless committed.
                let torn = i == n - 1 && !isCommitted(round: i) && found.rows <= row.indexRows && found.events <= row.events
                    && found.bytes <= row.payloadBytes
                if torn && found.rows != row.indexRows { manifestMissing += Int(row.indexRows - found.rows) }
                if !torn, found.rows != row.indexRows || found.events != row.events || found.bytes != row.payloadBytes {
                    result.problems.append(ArchiveProblem(
                        location: location,
                        detail: "manifest says \(row.indexRows) chunks, \(row.events) events, \(row.payloadBytes) bytes; "
                            + "index rows hold \(found.rows), \(found.events), \(found.bytes)"))
                }
            }
            // Index rows of the round after the last manifest row: a crash before rank 0 wrote it.
            for r in perRound.keys where r > UInt64(lastValid) && !(r + 1 == UInt64(n) || r == UInt64(n)) {
                result.problems.append(ArchiveProblem(location: "\(path):/rounds", detail: "index rows of round \(r) have no manifest row"))
            }
        } catch {
            result.problems.append(ArchiveProblem(location: "\(path):/rounds", detail: "\(error)"))
        }
        verifyCommitCounts(perRound.mapValues(\.rows), into: &result)
    }

    /// Whether `round` is committed by the file's commit record (legacy: every round but the last).
    private func isCommitted(round: Int) -> Bool {
        switch rule {
        case .closed: true
        case .open(let c): UInt64(round) < c
        case .legacy(let last): round < last
        }
    }

    /// The commit record's count of committed index rows against the valid rows of committed rounds.
    private func verifyCommitCounts(_ rowsPerRound: [UInt64: UInt64], into result: inout ArchiveVerification) {
        guard let row = commit.row else { return }
        let location = "\(path):/\(ArchiveLayout.commitDataset)"
        if row.rounds > UInt64(lastRound + 1) {
            result.problems.append(ArchiveProblem(location: location, detail: "commits \(row.rounds) rounds, /rounds has \(lastRound + 1)"))
        }
        let found = rowsPerRound.filter { $0.key < row.rounds }.values.reduce(0, +)
        if found != row.indexRows {
            result.problems.append(ArchiveProblem(
                location: location,
                detail: "committed \(row.indexRows) index rows in rounds 0..<\(row.rounds); valid rows of those rounds: \(found)"
                    + (found < row.indexRows ? " (committed rows are damaged or missing)" : "")))
        }
    }
}
