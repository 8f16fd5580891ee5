import Foundation
import Testing
import TestSupport

/// `chronolog export --format chrome-trace` on a known archive, and `scripts/plot-events.py` on its output.
@Suite("chronolog export", .serialized)
struct CLIExportTests {
    /// One parsed trace: the instants with their track names, and the document's origin.
    struct Trace {
        struct Instant {
            var pid: Int, tid: Int, ts: Double, name: String, story: String, time: UInt64, clientId: UInt64, index: UInt32
        }
        var instants: [Instant] = []
        var origin: UInt64 = 0
        var metadata = 0

        /// Parses `text` as JSON and checks the fields Perfetto reads on every trace event.
        init(_ text: String) throws {
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object")
            let other = try #require(doc["otherData"] as? [String: Any])
            origin = try #require(UInt64(other["chronolog_time_origin_ns"] as? String ?? ""))
            let events = try #require(doc["traceEvents"] as? [[String: Any]])
            var threads: [[Int]: String] = [:]
            for e in events {
                let ph = try #require(e["ph"] as? String), name = try #require(e["name"] as? String, "\(e)")
                let pid = try #require((e["pid"] as? NSNumber)?.intValue), tid = try #require((e["tid"] as? NSNumber)?.intValue)
                let ts = try #require((e["ts"] as? NSNumber)?.doubleValue, "\(e)")
                if ph == "M" {
                    metadata += 1
                    let label = try #require((e["args"] as? [String: Any])?["name"] as? String)
                    if name == "thread_name" { threads[[pid, tid]] = label }
                    continue
                }
                #expect(ph == "i" && e["s"] as? String == "t", "\(e)")
                let args = try #require(e["args"] as? [String: Any])
                let story = try #require(threads[[pid, tid]], "track \(pid)/\(tid) used before it was named")
                instants.append(Instant(
                    pid: pid, tid: tid, ts: ts, name: name, story: story,
                    time: try #require(UInt64(args["time_ns"] as? String ?? "")), clientId: try #require(UInt64(args["client_id"] as? String ?? "")),
                    index: try #require((args["index"] as? NSNumber)?.uint32Value)))
            }
        }
    }

    func export(_ archive: KnownArchive, _ args: [String]) throws -> JobResult {
        try chronolog(["export", archive.path] + args)
    }

    /// Checks the trace holds exactly `expected` (per "chronicle/story"), on one track per client
    /// and story, timestamps in µs from the origin and never going back on a track.
    func check(_ trace: Trace, equals expected: [String: [ExpectedEvent]]) {
        let total = expected.values.reduce(0) { $0 + $1.count }
        #expect(trace.instants.count == total, "one trace event per logged event")
        var got: [String: [ExpectedEvent]] = [:]
        var lastTs: [[Int]: Double] = [:], clientOfPid: [Int: UInt64] = [:]
        for i in trace.instants {
            got[i.story, default: []].append(ExpectedEvent(time: i.time, clientId: i.clientId, index: i.index, hex: ""))
            #expect(i.ts >= lastTs[[i.pid, i.tid], default: 0], "ts goes back on track \(i.pid)/\(i.tid)")
            lastTs[[i.pid, i.tid]] = i.ts
            // Exact to the ns near the origin; a double's rounding (about 0.25 µs) for absolute times.
            #expect(abs(i.ts - Double(i.time - trace.origin) / 1000) < max(0.0005, i.ts * 3e-16), "ts \(i.ts) for time \(i.time)")
            #expect(clientOfPid.updateValue(i.clientId, forKey: i.pid) ?? i.clientId == i.clientId, "one pid per client")
        }
        for (story, events) in expected where !events.isEmpty {
            let want = events.map { ExpectedEvent(time: $0.time, clientId: $0.clientId, index: $0.index, hex: "") }
            #expect(got[story].map(Set.init) == Set(want) && got[story]?.count == want.count, "\(story)")
        }
        #expect(Set(got.keys).isSubset(of: Set(expected.keys)))
        #expect(Set(clientOfPid.values).count == clientOfPid.count, "one client per pid")
        if let first = trace.instants.map(\.time).min() { #expect(trace.origin <= first) }
    }

    @Test("every story: valid JSON, one instant per event on its client's track, µs timestamps in order per track; the plot script draws it")
    func wholeArchive() throws {
        let archive = try KnownArchive()
        let out = archive.directory.path("trace.json")
        let r = try export(archive, ["--format", "chrome-trace", "-o", out])
        #expect(r.exitCode == 0 && r.stdout.isEmpty, "\(r)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let trace = try Trace(text)
        check(trace, equals: archive.expected)
        #expect(trace.origin == archive.expected.values.flatMap { $0 }.map(\.time).min(), "the default origin is the first event")
        // Names: the record's first ≤ 64 bytes when it is UTF-8, else "event".
        var records: [String: String] = [:]
        for (story, events) in archive.expected {
            for e in events { records["\(story) \(e.time) \(e.clientId) \(e.index)"] = e.hex }
        }
        for i in trace.instants {
            let bytes = Self.bytes(hex: records["\(i.story) \(i.time) \(i.clientId) \(i.index)"] ?? "")
            if let s = String(validating: bytes, as: UTF8.self), !s.isEmpty {
                #expect(i.name.utf8.count <= 64 && bytes.starts(with: Array(i.name.utf8)), "name \(i.name.debugDescription)")
            } else {
                #expect(i.name == "event")
            }
        }
        // The standard output form is the same document.
        let stdout = try export(archive, [])
        #expect(stdout.exitCode == 0 && stdout.stdout == text)
        // scripts/plot-events.py draws events per second per story and client.
        let png = archive.directory.path("events.png")
        let plot = try MPIJob.runCommand([systemPython, Self.plotScript, out, "-o", png], timeout: 120)
        #expect(plot.exitCode == 0, "\(plot)")
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: png)).readData(ofLength: 8)
        #expect(Array(head) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
    }

    @Test("--story, --chronicle, --from/--to and --origin choose what is exported")
    func selection() throws {
        let archive = try KnownArchive()
        let sharedKey = "\(KnownArchive.chronicle)/\(KnownArchive.shared)"
        let one = try export(archive, ["--story", sharedKey])
        #expect(one.exitCode == 0, "\(one)")
        check(try Trace(one.stdout), equals: [sharedKey: archive.expected[sharedKey] ?? []])

        let chronicle = archive.expected.filter { $0.key.hasPrefix("\(KnownArchive.otherChronicle)/") }
        #expect(!chronicle.isEmpty)
        let whole = try export(archive, ["--chronicle", KnownArchive.otherChronicle, "--story", sharedKey])
        #expect(whole.exitCode == 0, "\(whole)")
        check(try Trace(whole.stdout), equals: chronicle.merging([sharedKey: archive.expected[sharedKey] ?? []]) { a, _ in a })

        let times = (archive.expected[sharedKey] ?? []).map(\.time).sorted()
        let from = times[times.count / 3], to = times[2 * times.count / 3] + 1
        let window = try export(archive, ["--story", sharedKey, "--from", String(from), "--to", String(to), "--origin", "0"])
        #expect(window.exitCode == 0, "\(window)")
        let trace = try Trace(window.stdout)
        #expect(trace.origin == 0)
        check(trace, equals: [sharedKey: (archive.expected[sharedKey] ?? []).filter { $0.time >= from && $0.time < to }])
    }

    @Test("bad arguments: clear errors, status 2 for usage and 1 for what the archive lacks")
    func badArguments() throws {
        let archive = try KnownArchive()
        let first = archive.expected.values.flatMap { $0 }.map(\.time).min() ?? 0
        let cases: [([String], Int32, String)] = [
            (["--story", "no-slash"], 2, "expected CHRONICLE/STORY"),
            (["--story", "/story"], 2, "expected CHRONICLE/STORY"),
            (["--story", "\(KnownArchive.chronicle)/missing"], 1, "no story 'missing'"),
            (["--chronicle", "missing"], 1, "no chronicle 'missing'"),
            (["--format", "csv"], 2, "csv"),
            (["--from", "10", "--to", "5"], 2, "must not be reversed"),
            (["--origin", String(first + 1)], 2, "--origin \(first + 1) is after the earliest exported event time"),
            (["-o", "/nonexistent-dir/t.json"], 1, "cannot create the output file"),
        ]
        for (args, status, needle) in cases {
            let r = try export(archive, args)
            #expect(r.exitCode == status && r.stderr.contains(needle), "\(args): \(r)")
        }
        let missing = try chronolog(["export", archive.directory.path("nothing-here")])
        #expect(missing.exitCode == 1 && missing.stderr.contains("no such file or directory"), "\(missing)")
        let badBin = try MPIJob.runCommand([systemPython, Self.plotScript, archive.directory.path("none.json")], timeout: 60)
        #expect(badBin.exitCode == 1 && badBin.stderr.contains("cannot read the trace"), "\(badBin)")
    }

    /// The bytes of lowercase hex.
    static func bytes(hex: String) -> [UInt8] {
        func nibble(_ c: UInt8) -> UInt8 { c >= 0x61 ? c - 0x61 + 10 : c - 0x30 }
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    /// `scripts/plot-events.py` of this checkout.
    static let plotScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/plot-events.py").path
}
