import ChronoModel
#if canImport(Glibc)
import Glibc
#endif

/// `-R` (IOR's readCheck): every event read back is compared with what its writer wrote.
///
/// A writer's `i`-th event is ``IOREventSource``'s record of `i`: `i` little-endian in its first (up
/// to) 8 bytes, then byte `b` = `b × 31 + rank` (mod 256), so the bytes name the writer and the
/// event. It went to story `k = i mod s` as that story's `j`-th event, `j = i / s`. Baselines: the
/// event in slot `j` of writer `w`'s segment has the record (client id `w`, index `j`, length `-t`)
/// and those bytes. CHRONOLOG: a replayed story holds each of its writers' events once, in the
/// order each writer logged them, so every writer's next `j` is known; its events are found by
/// their bytes.
struct IORReadCheck {
    private let eventBytes: Int
    private let stories: Int
    /// The bytes after the first 8 of each rank's records, by rank mod 256 (made when first needed).
    private var tails: [Int: [UInt8]] = [:]

    init(eventBytes: Int, stories: Int) {
        self.eventBytes = eventBytes
        self.stories = stories
    }

    /// The event index `i` of writer slot `j` in story `k`.
    @inline(__always)
    private func index(slot j: Int, story k: Int) -> Int { j * stories + k }

    private mutating func tail(of writer: Int) -> [UInt8] {
        if let t = tails[writer & 255] { return t }
        let t = (min(8, eventBytes)..<eventBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ writer) }
        tails[writer & 255] = t
        return t
    }

    /// Whether `payload` holds writer `writer`'s event `i`.
    private mutating func holds(_ payload: UnsafeRawBufferPointer, writer: Int, index i: Int) -> Bool {
        guard payload.count == eventBytes else { return false }
        let head = min(8, eventBytes)
        var stamp = UInt64(i).littleEndian
        let headEqual = withUnsafeBytes(of: &stamp) { memcmp($0.baseAddress!, payload.baseAddress!, head) == 0 }
        guard headEqual else { return false }
        guard eventBytes > head else { return true }
        return tail(of: writer).withUnsafeBytes { memcmp($0.baseAddress!, payload.baseAddress! + head, eventBytes - head) == 0 }
    }

    /// A baseline's event read back from slot `j` of writer `writer`'s segment of story `k`:
    /// nil when it is what was written, else what differs.
    mutating func baseline(record: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
                           writer: Int, slot j: Int, story k: Int) -> String? {
        let client = UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let at = UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let length = UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        guard client == UInt64(writer), at == UInt32(truncatingIfNeeded: j), length == UInt32(eventBytes) else {
            return "writer \(writer)'s event \(j) of story \(k): its record says writer \(client), event \(at), \(length) bytes"
        }
        guard holds(payload, writer: writer, index: index(slot: j, story: k)) else {
            return "writer \(writer)'s event \(j) of story \(k): its bytes differ from those written"
        }
        return nil
    }

    /// A replayed chunk of story `k`. `next[w]` is writer `w`'s next event in the story (its
    /// segment's writers only; start them at 0): each event must be some writer's next.
    mutating func replayed(_ chunk: StoryChunk, story k: Int, next: inout [Int: Int]) -> String? {
        let writers = next.keys.sorted()
        return chunk.payload.withUnsafeBytes { all -> String? in
            for r in chunk.records {
                guard Int(r.length) == eventBytes, Int(r.offset) + eventBytes <= all.count else {
                    return "story \(k): an event of \(r.length) bytes (-t \(eventBytes))"
                }
                let payload = UnsafeRawBufferPointer(rebasing: all[Int(r.offset)..<(Int(r.offset) + eventBytes)])
                guard let w = writers.first(where: { holds(payload, writer: $0, index: index(slot: next[$0]!, story: k)) }) else {
                    return "story \(k): an event (time \(r.time)) is no writer's next event: lost, repeated, out of order or changed"
                }
                next[w]! += 1
            }
            return nil
        }
    }

    /// After story `k`'s replay: nil when every writer's events were all there.
    func complete(story k: Int, next: [Int: Int], expected: [Int: Int]) -> String? {
        for (w, n) in expected.sorted(by: { $0.key < $1.key }) where next[w] != n {
            return "story \(k): writer \(w)'s events replayed \(next[w] ?? 0) of \(n)"
        }
        return nil
    }
}
