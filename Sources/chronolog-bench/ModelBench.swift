import ArgumentParser
import ChronoModel
import Foundation

/// `chronolog-bench model`: micro-benchmarks of ChronoModel's hot paths (no MPI).
///
/// 1. appending a 256-byte event to a client batch (target ≤ 100 ns/event);
/// 2. merging two sorted 1 M-event chunks (target ≥ 50 M events/s);
/// 3. encoding and decoding a 64 MiB chunk (target ≥ 2 GB/s).
///
/// Each measurement is repeated `--iterations` times; the best run is reported (the noise on a
/// shared 2-core machine only ever makes runs slower) together with the median.
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Micro-benchmarks of ChronoModel: batch append, chunk merge, chunk encode/decode.")

    @Option(help: "Events appended per append run.")
    var appendEvents = 5_000_000

    @Option(help: "Events in each of the two merged chunks.")
    var mergeEvents = 1_000_000

    @Option(help: "Record sizes (bytes) for the merge benchmark, comma-separated.")
    var mergeRecordBytes = "32,256"

    @Option(help: "Size of the encoded/decoded chunk in MiB.")
    var chunkMiB = 64

    @Option(help: "Repetitions of each measurement.")
    var iterations = 5

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Result: Codable {
        var name: String
        var value: Double
        var unit: String
        var target: String
        var met: Bool
        var median: Double
        var detail: String
    }

    mutating func run() throws {
        var results: [Result] = []
        results += try appendBenchmark()
        for size in mergeRecordBytes.split(separator: ",").compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            results += try mergeBenchmark(recordBytes: size)
        }
        results += try codecBenchmark()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let payload: [String: [Result]] = ["results": results]
            print(String(decoding: try encoder.encode(payload), as: UTF8.self))
        } else {
            for r in results {
                let mark = r.met ? "ok  " : "MISS"
                print("\(mark) \(r.name.padding(toLength: 44, withPad: " ", startingAt: 0)) "
                    + "\(format(r.value)) \(r.unit) (median \(format(r.median)); target \(r.target)) \(r.detail)")
            }
        }
    }

    private func format(_ v: Double) -> String { String(format: "%.2f", v) }

    private func measure(_ body: () throws -> Void) rethrows -> [Double] {
        var seconds: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<max(iterations, 1) {
            let elapsed = try clock.measure(body)
            seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        return seconds.sorted()
    }

    // MARK: 1. append

    private func appendBenchmark() throws -> [Result] {
        let record = [UInt8](repeating: 0x61, count: 256)
        let n = appendEvents
        var checksum: UInt64 = 0
        var builder = EventBatchBuilder(storyId: StoryID(rawValue: 1), clientId: ClientID(1), maxEvents: 4096,
                                        maxBytes: 1 << 20, maxEventBytes: 65536, lingerNanoseconds: 1_000_000)
        // Append only (the full batch is dropped, keeping its buffers).
        let appendOnly = try record.withUnsafeBytes { raw in
            try measure {
                for i in 0..<n {
                    checksum &+= UInt64(try builder.append(time: UInt64(i), record: raw).index)
                    if builder.isFull { builder.discardPending() }
                }
            }
        }
        // Append and ship: the full batch is encoded into a reused message buffer.
        var message: [UInt8] = []
        message.reserveCapacity(2 << 20)
        var shipped = EventBatchBuilder(storyId: StoryID(rawValue: 1), clientId: ClientID(1), maxEvents: 4096,
                                        maxBytes: 1 << 20, maxEventBytes: 65536, lingerNanoseconds: 1_000_000)
        let withShip = try record.withUnsafeBytes { raw in
            try measure {
                for i in 0..<n {
                    checksum &+= UInt64(try shipped.append(time: UInt64(i), record: raw).index)
                    if shipped.isFull {
                        message.removeAll(keepingCapacity: true)
                        shipped.encodeMessage(watermark: UInt64(i), into: &message)
                        checksum &+= UInt64(message.count)
                    }
                }
            }
        }
        let perEvent = { (s: Double) in s * 1e9 / Double(n) }
        return [
            Result(name: "append 256-B event to client batch", value: perEvent(appendOnly[0]), unit: "ns/event",
                   target: "≤ 100 ns/event", met: perEvent(appendOnly[0]) <= 100, median: perEvent(appendOnly[appendOnly.count / 2]),
                   detail: "(\(n) events, batches of 4096; checksum \(checksum % 1000))"),
            Result(name: "append 256-B event + encode full batches", value: perEvent(withShip[0]), unit: "ns/event",
                   target: "≤ 100 ns/event", met: perEvent(withShip[0]) <= 100, median: perEvent(withShip[withShip.count / 2]),
                   detail: "(batch message written into a reused buffer)"),
        ]
    }

    // MARK: 2. merge

    private func sortedChunk(events: Int, recordBytes: Int, client: UInt64, timeOffset: UInt64) throws -> StoryChunk {
        var records: [EventRecord] = []
        records.reserveCapacity(events)
        var payload = [UInt8](repeating: 0, count: events * recordBytes)
        for i in 0..<events {
            payload[i * recordBytes] = UInt8(truncatingIfNeeded: i)
            records.append(EventRecord(time: UInt64(i) * 2 + timeOffset, clientId: client, index: UInt32(i),
                                       length: UInt32(recordBytes), offset: UInt64(i * recordBytes)))
        }
        return try StoryChunk(validatingStoryId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: UInt64(events) * 2 + 2),
                              revision: 0, records: records, payload: payload)
    }

    private func mergeBenchmark(recordBytes: Int) throws -> [Result] {
        let a = try sortedChunk(events: mergeEvents, recordBytes: recordBytes, client: 1, timeOffset: 0)
        let b = try sortedChunk(events: mergeEvents, recordBytes: recordBytes, client: 2, timeOffset: 1)
        var count = 0
        let fresh = try measure {
            let merged = try a.merged(with: b)
            count = merged.count
        }
        // The grapher's way: merge into a scratch chunk whose storage is reused (no page faults after the first).
        var scratch = StoryChunk.empty(storyId: a.storyId, range: a.range)
        try scratch.assignMerge(of: a, and: b)
        let reused = try measure {
            try scratch.assignMerge(of: a, and: b)
        }
        guard scratch.count == count else { throw ValidationError("merge results differ") }
        let rate = { (s: Double) in Double(2 * mergeEvents) / s / 1e6 }
        let gb = { (s: Double) in String(format: "%.2f", Double(2 * mergeEvents * (recordBytes + 32)) / s / 1e9) }
        return [
            Result(name: "merge 2 × \(mergeEvents) ev, \(recordBytes)-B, reused storage", value: rate(reused[0]),
                   unit: "M events/s", target: "≥ 50 M events/s", met: rate(reused[0]) >= 50, median: rate(reused[reused.count / 2]),
                   detail: "(\(count) events out, \(gb(reused[0])) GB/s)"),
            Result(name: "merge 2 × \(mergeEvents) ev, \(recordBytes)-B, new arrays", value: rate(fresh[0]),
                   unit: "M events/s", target: "≥ 50 M events/s", met: rate(fresh[0]) >= 50, median: rate(fresh[fresh.count / 2]),
                   detail: "(\(gb(fresh[0])) GB/s, includes first-touch page faults of the output)"),
        ]
    }

    // MARK: 3. encode / decode

    private func codecBenchmark() throws -> [Result] {
        let recordBytes = 256
        let target = chunkMiB << 20
        let events = (target - StoryChunk.headerByteCount) / (recordBytes + EventRecord.byteSize)
        let chunk = try sortedChunk(events: events, recordBytes: recordBytes, client: 1, timeOffset: 0)
        let size = Double(chunk.encodedByteCount)
        var reused: [UInt8] = []
        reused.reserveCapacity(chunk.encodedByteCount)
        let encodeReused = measure {
            reused.removeAll(keepingCapacity: true)
            chunk.encode(into: &reused)
        }
        var fresh: [UInt8] = []
        let encodeFresh = measure { fresh = chunk.encode() }
        var decoded: StoryChunk? = nil
        let decode = try measure { decoded = try StoryChunk.decode(fresh) }
        var scratch = StoryChunk.empty(storyId: chunk.storyId, range: chunk.range)
        let decodeReused = try fresh.withUnsafeBytes { raw in
            try measure { try scratch.assign(decoding: raw) }
        }
        guard decoded == chunk, scratch == chunk, reused == fresh else { throw ValidationError("codec round trip failed") }
        let gbps = { (s: Double) in size / s / 1e9 }
        let detail = "(\(String(format: "%.1f", size / 1_048_576)) MiB, \(events) events of \(recordBytes) B)"
        return [
            Result(name: "encode chunk into reused buffer", value: gbps(encodeReused[0]), unit: "GB/s", target: "≥ 2 GB/s",
                   met: gbps(encodeReused[0]) >= 2, median: gbps(encodeReused[encodeReused.count / 2]), detail: detail),
            Result(name: "encode chunk into new array", value: gbps(encodeFresh[0]), unit: "GB/s", target: "≥ 2 GB/s",
                   met: gbps(encodeFresh[0]) >= 2, median: gbps(encodeFresh[encodeFresh.count / 2]), detail: detail),
            Result(name: "decode + validate chunk into reused storage", value: gbps(decodeReused[0]), unit: "GB/s",
                   target: "≥ 2 GB/s", met: gbps(decodeReused[0]) >= 2, median: gbps(decodeReused[decodeReused.count / 2]),
                   detail: detail),
            Result(name: "decode + validate chunk into new arrays", value: gbps(decode[0]), unit: "GB/s", target: "≥ 2 GB/s",
                   met: gbps(decode[0]) >= 2, median: gbps(decode[decode.count / 2]), detail: detail + " incl. page faults"),
        ]
    }
}
