import CChronoKernels
import ChronoModel

/// The HDF5 archive layout: names, shapes and constants shared by the writer, the reader and
/// `docs/ARCHIVE.md` (which describes the same layout for h5py users).
///
/// ```
/// /                                   attrs: layout_version (u64), creator (UTF-8)
/// /rounds                             u64 [R × 8]  one row per flushed round (the manifest)
/// /commit                             u64 [2 × 8]  the commit record (committed rounds, clean close)
/// /chronicles/<chronicle component>/  attrs: name (UTF-8), chronicle_id (u64)
///     <story component>/              attrs: chronicle, story (UTF-8), story_id (u64)
///         events                      u8  [N × 32] EventRecord rows, offsets story-global
///         payload                     u8  [P]      record bytes
///         index                       u64 [C × 13] one row per archived chunk (the time index)
/// ```
public enum ArchiveLayout {
    /// Layout version stored in every archive file (root attribute `layout_version`).
    public static let version: UInt64 = 1

    /// The value of the root attribute `creator`.
    public static let creator = "ChronoLog-Swift"

    /// The archive file name used when none is given.
    public static let defaultFileName = "chronolog-archive.h5"

    /// File name extension the reader looks for when given a directory.
    public static let fileExtension = ".h5"

    // MARK: Paths and attribute names

    /// Group holding one group per chronicle.
    public static let chroniclesGroup = "chronicles"
    /// The per-round manifest dataset at the root.
    public static let roundsDataset = "rounds"
    /// The commit record at the root (two slots written in turn; absent in files written before it).
    public static let commitDataset = "commit"
    /// Per-story dataset of 32-byte event records.
    public static let eventsDataset = "events"
    /// Per-story dataset of record bytes.
    public static let payloadDataset = "payload"
    /// Per-story time index dataset.
    public static let indexDataset = "index"

    /// Root attribute: layout version (u64).
    public static let versionAttribute = "layout_version"
    /// Root attribute: creator (UTF-8).
    public static let creatorAttribute = "creator"
    /// Chronicle group attribute: the chronicle's name (UTF-8).
    public static let nameAttribute = "name"
    /// Chronicle group attribute: the chronicle id (u64).
    public static let chronicleIdAttribute = "chronicle_id"
    /// Story group attribute: the chronicle's name (UTF-8).
    public static let chronicleAttribute = "chronicle"
    /// Story group attribute: the story's name (UTF-8).
    public static let storyAttribute = "story"
    /// Story group attribute: the story id (u64).
    public static let storyIdAttribute = "story_id"
    /// Dataset attribute naming the columns of `index` and `rounds`, comma-separated.
    public static let columnsAttribute = "columns"

    // MARK: Shapes and chunking

    /// Bytes per row of `events`.
    public static let eventRowBytes = EventRecord.byteSize
    /// Rows per HDF5 chunk of `events` (32 Ki rows = 1 MiB).
    public static let eventChunkRows = 32 * 1024
    /// Bytes per HDF5 chunk of `payload` (1 MiB).
    public static let payloadChunkBytes = 1 << 20
    /// Rows per HDF5 chunk of `index` (512 rows = 52 KiB).
    public static let indexChunkRows = 512
    /// Rows per HDF5 chunk of `rounds`.
    public static let roundsChunkRows = 256

    /// The columns of `index`, in order (all u64).
    public static let indexColumns = [
        "range_start", "range_end", "revision", "first_event", "event_count", "payload_start",
        "payload_bytes", "min_time", "max_time", "round", "events_hash", "payload_hash", "row_hash",
    ]
    /// The columns of `rounds`, in order (all u64).
    public static let roundsColumns = [
        "round", "unix_time_ns", "ranks", "stories", "index_rows", "events", "payload_bytes", "row_hash",
    ]

    /// The columns of `commit`, in order (all u64).
    public static let commitColumns = [
        "sequence", "rounds", "state", "unix_time_ns", "index_rows", "events", "payload_bytes", "row_hash",
    ]

    /// The HDF5 path of a chronicle's group.
    public static func chroniclePath(_ chronicle: ChronicleName) -> String {
        "/\(chroniclesGroup)/\(chronicle.pathComponent)"
    }

    /// The HDF5 path of a story's group.
    public static func storyPath(chronicle: ChronicleName, story: StoryName) -> String {
        "\(chroniclePath(chronicle))/\(story.pathComponent(in: chronicle))"
    }
}

/// One row of a story's `index` dataset: the durable record of one archived chunk.
///
/// Offsets in `events` rows are story-global (positions in the story's `payload`), so the bytes of
/// the chunk are `payload[payloadStart ..< payloadStart + payloadBytes]` and its records are
/// `events[firstEvent ..< firstEvent + eventCount]`. `rowHash` covers the other twelve columns; a
/// row whose hash does not match was never completely written (or was damaged).
public struct ArchiveIndexRow: Sendable, Hashable {
    /// The chunk's time range.
    public var range: TimeRange
    /// The chunk's revision (0 for the first chunk of a range).
    public var revision: UInt32
    /// First row of the chunk's records in `events`.
    public var firstEvent: UInt64
    /// Number of records.
    public var eventCount: UInt64
    /// First byte of the chunk's record bytes in `payload`.
    public var payloadStart: UInt64
    /// Number of record bytes.
    public var payloadBytes: UInt64
    /// Smallest event time (0 when the chunk is empty).
    public var minTime: UInt64
    /// Largest event time (0 when the chunk is empty).
    public var maxTime: UInt64
    /// The file's round (row of `/rounds`) that wrote the chunk.
    public var round: UInt64
    /// `ArchiveChecksum` of the chunk's stored `events` rows.
    public var eventsHash: UInt64
    /// `ArchiveChecksum` of the chunk's record bytes.
    public var payloadHash: UInt64

    /// A void row: written over an index row that a crash left incompletely written, when a later
    /// job reopens the file. All columns 0 except `round`; readers skip it.
    static func void(round: UInt64) -> ArchiveIndexRow {
        ArchiveIndexRow(range: TimeRange(start: 0, end: 0), revision: 0, firstEvent: 0, eventCount: 0, payloadStart: 0,
                        payloadBytes: 0, minTime: 0, maxTime: 0, round: round, eventsHash: 0, payloadHash: 0)
    }

    /// Whether this is a void row (see `void(round:)`).
    var isVoid: Bool {
        range.start == 0 && range.end == 0 && revision == 0 && firstEvent == 0 && eventCount == 0 && payloadStart == 0
            && payloadBytes == 0 && minTime == 0 && maxTime == 0 && eventsHash == 0 && payloadHash == 0
    }

    /// Splits decoded index rows (`nil` = checksum mismatch) into the positions to use, the
    /// positions to ignore (void rows; incompletely written rows of the file's last round, which a
    /// crash can leave anywhere among that round's rows), and the positions that are damage (an
    /// invalid row followed by valid rows of an earlier or non-final round).
    /// - Parameter lastRound: the file's last round (rows of `/rounds` − 1; −1 when none).
    static func classify(_ rows: [ArchiveIndexRow?], lastRound: Int) -> (use: [Int], ignored: Int, damaged: [Int]) {
        var use: [Int] = [], damaged: [Int] = []
        var ignored = 0
        let finalRound = rows.compactMap { $0?.round }.max()
        // For each position: whether every valid row after it belongs to the final, last round.
        var onlyFinalAfter = [Bool](repeating: true, count: rows.count + 1)
        for i in stride(from: rows.count - 1, through: 0, by: -1) {
            let ok = rows[i].map { $0.round == finalRound } ?? true
            onlyFinalAfter[i] = onlyFinalAfter[i + 1] && ok
        }
        let finalIsLast = finalRound.map { Int(clamping: $0) >= lastRound } ?? true
        for (i, row) in rows.enumerated() {
            if let row {
                if row.isVoid { ignored += 1 } else { use.append(i) }
            } else if onlyFinalAfter[i + 1] && finalIsLast {
                ignored += 1
            } else {
                damaged.append(i)
            }
        }
        return (use, ignored, damaged)
    }

    /// Number of u64 columns of an encoded row.
    public static let columnCount = 13

    /// Creates a row.
    public init(range: TimeRange, revision: UInt32, firstEvent: UInt64, eventCount: UInt64, payloadStart: UInt64,
                payloadBytes: UInt64, minTime: UInt64, maxTime: UInt64, round: UInt64, eventsHash: UInt64,
                payloadHash: UInt64) {
        self.range = range
        self.revision = revision
        self.firstEvent = firstEvent
        self.eventCount = eventCount
        self.payloadStart = payloadStart
        self.payloadBytes = payloadBytes
        self.minTime = minTime
        self.maxTime = maxTime
        self.round = round
        self.eventsHash = eventsHash
        self.payloadHash = payloadHash
    }

    /// The first twelve columns (everything but `row_hash`).
    var dataColumns: [UInt64] {
        [range.start, range.end, UInt64(revision), firstEvent, eventCount, payloadStart, payloadBytes,
         minTime, maxTime, round, eventsHash, payloadHash]
    }

    /// The thirteen stored columns, `row_hash` last.
    public var columns: [UInt64] {
        let data = dataColumns
        return data + [ArchiveChecksum.hash(words: data)]
    }

    /// Decodes a stored row; `nil` if the row hash does not match or a field is out of range.
    public init?(columns c: ArraySlice<UInt64>) {
        guard c.count == Self.columnCount else { return nil }
        let data = Array(c.prefix(12))
        guard ArchiveChecksum.hash(words: data) == c[c.startIndex + 12], let revision = UInt32(exactly: data[2]) else {
            return nil
        }
        self.init(range: TimeRange(start: data[0], end: data[1]), revision: revision, firstEvent: data[3],
                  eventCount: data[4], payloadStart: data[5], payloadBytes: data[6], minTime: data[7],
                  maxTime: data[8], round: data[9], eventsHash: data[10], payloadHash: data[11])
    }

    /// Why the row cannot describe data inside datasets of the given extents, or `nil` when it fits:
    /// non-empty range, times inside it, rows and bytes inside the extents (overflow-safe), and
    /// matching empty/non-empty fields.
    func boundsProblem(eventsExtent: Int, payloadExtent: Int) -> String? {
        if range.isEmpty { return "empty time range \(range)" }
        let (eventEnd, o1) = firstEvent.addingReportingOverflow(eventCount)
        if o1 || eventEnd > UInt64(eventsExtent) {
            return "events rows \(firstEvent)+\(eventCount) past the extent of \(eventsExtent) rows"
        }
        let (payloadEnd, o2) = payloadStart.addingReportingOverflow(payloadBytes)
        if o2 || payloadEnd > UInt64(payloadExtent) {
            return "payload bytes \(payloadStart)+\(payloadBytes) past the extent of \(payloadExtent) bytes"
        }
        if eventCount == 0 && payloadBytes != 0 { return "no events but \(payloadBytes) payload bytes" }
        if eventCount > 0 && !(range.contains(minTime) && range.contains(maxTime) && minTime <= maxTime) {
            return "min/max time \(minTime)/\(maxTime) outside \(range)"
        }
        return nil
    }

    /// Rows of `events` covered by the chunk (only after `boundsProblem` returned `nil`).
    var eventRows: Range<Int> { Int(firstEvent)..<Int(firstEvent + eventCount) }
    /// Bytes of `payload` covered by the chunk.
    var payloadRange: Range<Int> { Int(payloadStart)..<Int(payloadStart + payloadBytes) }
}

/// The checksum stored in the `index` and `rounds` rows: position-salted, order-sensitive, fast
/// (one multiply per 8 bytes, no carried dependency) and easy to recompute with numpy.
///
/// For `n` bytes, zero-padded to whole little-endian u64 words `w[0..<m]` (all arithmetic mod 2^64):
/// `x[i] = (w[i] ^ (i * K1)) * K2; x[i] ^= x[i] >> 31; h = n * K3 + Σ x[i]; result = h ^ (h >> 29)`
/// with `K1 = 0x9E3779B97F4A7C15`, `K2 = 0xBF58476D1CE4E5B9`, `K3 = 0x94D049BB133111EB`.
/// It detects damaged bytes, not deliberate forgery.
public enum ArchiveChecksum {
    static let k1: UInt64 = 0x9E37_79B9_7F4A_7C15
    static let k2: UInt64 = 0xBF58_476D_1CE4_E5B9
    static let k3: UInt64 = 0x94D0_49BB_1331_11EB

    /// The checksum of `bytes`. The whole words are summed by a C kernel compiled for several
    /// instruction sets (eight words per multiply with AVX-512): the replay checks every payload
    /// byte it reads from the archive with it.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        hash(bytes) { chrono_checksum_word_sum($0, $1) }
    }

    /// A compiled variant of the C kernel (one per instruction set); `hash` uses the best one the
    /// CPU runs, ``hash(_:kernel:)`` any of them, so each can be tested on a CPU that has it.
    public enum Kernel: Int32, CaseIterable, Sendable {
        /// The baseline instruction set.
        case plain = 0
        /// AVX2 (x86-64 Linux).
        case avx2 = 1
        /// AVX-512DQ (x86-64 Linux).
        case avx512 = 2

        /// Whether the variant is compiled in and the running CPU can execute it.
        public var isSupported: Bool { chrono_checksum_variant_supported(rawValue) != 0 }

        /// The variant `hash` uses on this CPU.
        public static var selected: Kernel { Kernel(rawValue: chrono_checksum_best_variant()) ?? .plain }
    }

    /// The checksum of `bytes` computed with `kernel`; `nil` when this CPU cannot run it.
    public static func hash(_ bytes: UnsafeRawBufferPointer, kernel: Kernel) -> UInt64? {
        guard kernel.isSupported else { return nil }
        return hash(bytes) { chrono_checksum_word_sum_variant(kernel.rawValue, $0, $1) }
    }

    /// The checksum with the whole words summed by `wordSum`.
    private static func hash(_ bytes: UnsafeRawBufferPointer, wordSum: (UnsafeRawPointer, Int) -> UInt64) -> UInt64 {
        let n = bytes.count
        let whole = n / 8
        var sum: UInt64 = 0
        if let base = bytes.baseAddress {
            sum = wordSum(base, whole)
            if n % 8 != 0 {
                var w: UInt64 = 0
                for j in 0..<(n % 8) { w |= UInt64(base.load(fromByteOffset: whole * 8 + j, as: UInt8.self)) << (8 * UInt64(j)) }
                sum &+= mix(w, at: whole)
            }
        }
        let h = UInt64(truncatingIfNeeded: n) &* k3 &+ sum
        return h ^ (h >> 29)
    }

    /// `x[i]` of the definition, for the word `w` at word position `i`.
    static func mix(_ w: UInt64, at i: Int) -> UInt64 {
        var x = (w ^ (UInt64(truncatingIfNeeded: i) &* k1)) &* k2
        x ^= x >> 31
        return x
    }

    /// The checksum of the bytes of `parts` one after the other, as if they were one buffer (a
    /// payload whose HDF5 chunks lie apart in the file): equal to ``hash(_:)`` of their
    /// concatenation, with no copy. A word that straddles two parts is assembled on its own.
    public static func hash(parts: [UnsafeRawBufferPointer]) -> UInt64 {
        var sum: UInt64 = 0, word = 0, total = 0
        var carry: UInt64 = 0, carried = 0
        for part in parts {
            guard let base = part.baseAddress, part.count > 0 else { continue }
            total += part.count
            var p = 0
            if carried > 0 {
                while carried < 8 && p < part.count {
                    carry |= UInt64(part[p]) << (8 * UInt64(carried))
                    carried += 1
                    p += 1
                }
                guard carried == 8 else { continue }
                sum &+= mix(carry, at: word)
                word += 1
                (carry, carried) = (0, 0)
            }
            let whole = (part.count - p) / 8
            sum &+= chrono_checksum_word_sum_from(base + p, whole, UInt64(word))
            word += whole
            p += whole * 8
            while p < part.count {
                carry |= UInt64(part[p]) << (8 * UInt64(carried))
                carried += 1
                p += 1
            }
        }
        if carried > 0 { sum &+= mix(carry, at: word) }
        let h = UInt64(truncatingIfNeeded: total) &* k3 &+ sum
        return h ^ (h >> 29)
    }

    /// The checksum of a byte array.
    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// The checksum of u64 values stored little-endian (what `row_hash` covers).
    public static func hash(words: [UInt64]) -> UInt64 {
        let le = words.map { $0.littleEndian }
        return le.withUnsafeBytes { hash($0) }
    }
}

/// One row of `/rounds`: the manifest entry of one flushed round.
struct ArchiveRoundRow: Sendable, Hashable {
    var round: UInt64
    var unixTimeNs: UInt64
    var ranks: UInt64
    var stories: UInt64
    var indexRows: UInt64
    var events: UInt64
    var payloadBytes: UInt64

    static let columnCount = 8

    var columns: [UInt64] {
        let data = [round, unixTimeNs, ranks, stories, indexRows, events, payloadBytes]
        return data + [ArchiveChecksum.hash(words: data)]
    }

    init(round: UInt64, unixTimeNs: UInt64, ranks: UInt64, stories: UInt64, indexRows: UInt64, events: UInt64,
         payloadBytes: UInt64) {
        self.round = round
        self.unixTimeNs = unixTimeNs
        self.ranks = ranks
        self.stories = stories
        self.indexRows = indexRows
        self.events = events
        self.payloadBytes = payloadBytes
    }

    init?(columns c: ArraySlice<UInt64>) {
        guard c.count == Self.columnCount else { return nil }
        let data = Array(c.prefix(7))
        guard ArchiveChecksum.hash(words: data) == c[c.startIndex + 7] else { return nil }
        self.init(round: data[0], unixTimeNs: data[1], ranks: data[2], stories: data[3], indexRows: data[4],
                  events: data[5], payloadBytes: data[6])
    }
}
