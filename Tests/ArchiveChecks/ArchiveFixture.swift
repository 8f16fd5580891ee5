import CheckHarness
import ChronoArchive
import ChronoModel

/// The deterministic chunks `archive-checks write` archives and `verify`/`expected` regenerate,
/// as functions of (run, ranks, rank, round).
///
/// Stories (names with spaces, dots, umlauts, CJK and emoji):
/// - `Chronik Ü-🚀 / geteilt 日本`: every non-idle rank, every round, its own client id
///   (so several ranks write one story in one round); rank 0 adds a revision chunk of the
///   previous round's range in every round ≥ 1 with late events and one duplicate.
/// - `Chronik Ü-🚀 / rank <r> 🌊`: one story per rank.
/// - `..dots and spaces.. / leer`: chunks without events (durable empty ranges).
/// - `..dots and spaces.. / groß`: one 64 KiB event per round, from rank `round % ranks`.
/// - `..dots and spaces.. / selten`: rank 0, even rounds only.
/// Record sizes cycle through 0 B … 64 KiB. A rank is idle (passes an empty list) in rounds where
/// `(rank + round) % 4 == 3` when there are more than 2 ranks.
enum ArchiveFixture {
    static let chronicleA = "Chronik Ü-🚀"
    static let chronicleB = "..dots and spaces.."
    static let shared = "geteilt 日本"
    static let empty = "leer"
    static let big = "groß"
    static let sparse = "selten"
    static func own(_ rank: Int) -> String { "rank \(rank) 🌊" }

    /// Nanoseconds per round's range.
    static let duration: UInt64 = 1_000_000
    static let sizes = [0, 1, 7, 31, 255, 1000, 4096, 17, 65536, 3]

    static func range(run: Int, round: Int) -> TimeRange {
        let start = 1_700_000_000_000_000_000 + UInt64(run) * 10_000 * duration + UInt64(round) * duration
        return TimeRange(start: start, end: start + duration)
    }

    static func isIdle(ranks: Int, rank: Int, round: Int) -> Bool {
        ranks > 2 && (rank + round) % 4 == 3
    }

    static func storyId(_ chronicle: String, _ story: String) -> StoryID {
        // The names are fixed and valid.
        StoryID(chronicle: try! ChronicleName(chronicle), story: try! StoryName(story))
    }

    /// Deterministic bytes from a seed (xorshift).
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<count {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            out[i] = UInt8(truncatingIfNeeded: x)
        }
        return out
    }

    static func events(run: Int, rank: Int, round: Int, story: Int, count: Int, in range: TimeRange,
                       sizeOverride: Int? = nil, indexBase: Int = 0) -> [Event] {
        let client = ClientID(rawValue: UInt64(1 + rank + 64 * run))
        return (0..<count).map { i in
            let time = range.start + UInt64((i * 7919 + rank * 131 + story * 17) % Int(range.duration))
            let size = sizeOverride ?? sizes[(i + rank + round + story) % sizes.count]
            let seed = UInt64(run) << 48 | UInt64(rank) << 36 | UInt64(round) << 20 | UInt64(story) << 16 | UInt64(i)
            return Event(time: time, clientId: client, index: UInt32(indexBase + round * 1000 + i),
                         record: bytes(size, seed: seed))
        }
    }

    /// The chunks rank `rank` archives in `round` of job run `run`.
    static func chunks(run: Int, ranks: Int, rank: Int, round: Int) -> [ArchiveChunk] {
        if isIdle(ranks: ranks, rank: rank, round: round) { return [] }
        let r = range(run: run, round: round)
        var out: [ArchiveChunk] = []
        func add(_ chronicle: String, _ story: String, _ events: [Event], range: TimeRange, revision: UInt32 = 0) {
            let chunk = try! StoryChunk(storyId: storyId(chronicle, story), range: range, revision: revision, events: events)
            out.append(ArchiveChunk(chronicle: chronicle, story: story, chunk: chunk))
        }
        add(chronicleA, shared, events(run: run, rank: rank, round: round, story: 1, count: 12 + rank, in: r), range: r)
        add(chronicleA, own(rank), events(run: run, rank: rank, round: round, story: 2, count: 5 + round % 3, in: r), range: r)
        add(chronicleB, empty, [], range: r)
        if round % max(ranks, 1) == rank {
            add(chronicleB, big, events(run: run, rank: rank, round: round, story: 3, count: 1, in: r, sizeOverride: 65536),
                range: r)
        }
        if rank == 0, round % 2 == 0 {
            add(chronicleB, sparse, events(run: run, rank: rank, round: round, story: 4, count: 3, in: r), range: r)
        }
        if rank == 0, round >= 1 {
            // A revision of the previous range: late events and one retransmitted duplicate.
            let previous = range(run: run, round: round - 1)
            var late = events(run: run, rank: rank, round: round, story: 5, count: 4, in: previous, indexBase: 500)
            if !isIdle(ranks: ranks, rank: rank, round: round - 1) {
                late.append(events(run: run, rank: rank, round: round - 1, story: 1, count: 12 + rank, in: previous)[3])
            }
            add(chronicleA, shared, late, range: previous, revision: 1)
        }
        return out
    }

    /// Every expected event, merged per story, for runs with the given rank counts and rounds (the last
    /// rounds count applies to later runs; `acknowledgedRounds` limits run `crashedRun`, by default the last).
    static func expected(ranksPerRun: [Int], roundsPerRun: [Int], acknowledgedRounds: Int? = nil,
                         crashedRun: Int? = nil) -> [StoryKeyText: StoryChunk] {
        var all: [StoryKeyText: [StoryChunk]] = [:]
        for (run, ranks) in ranksPerRun.enumerated() {
            let rounds = roundsPerRun[min(run, roundsPerRun.count - 1)]
            let limit = run == (crashedRun ?? ranksPerRun.count - 1) ? (acknowledgedRounds ?? rounds) : rounds
            for round in 0..<limit {
                for rank in 0..<ranks {
                    for c in chunks(run: run, ranks: ranks, rank: rank, round: round) {
                        all[StoryKeyText(chronicle: c.chronicle, story: c.story), default: []].append(c.chunk)
                    }
                }
            }
        }
        return all.mapValues { try! StoryChunk.merge($0)! }
    }
}

/// A story's names, ordered by their UTF-8 bytes.
struct StoryKeyText: Hashable, Comparable {
    let chronicle: String
    let story: String

    static func < (a: StoryKeyText, b: StoryKeyText) -> Bool {
        let (x, y) = (Array(a.chronicle.utf8), Array(b.chronicle.utf8))
        if x != y { return x.lexicographicallyPrecedes(y) }
        return Array(a.story.utf8).lexicographicallyPrecedes(Array(b.story.utf8))
    }
}
