import ChronoArchive
import ChronoModel
import Foundation
import Testing
import TestSupport

/// `chronolog` on a known archive written by `archive-checks write` under mpirun: listings,
/// replays that parse back to exactly the expected events, stats, and verification.
@Suite("chronolog on a known archive", .serialized)
struct CLIArchiveTests {
    /// One row of `replay --format jsonl`.
    struct JSONLine: Decodable {
        var time: UInt64
        var client_id: UInt64
        var index: UInt32
        var length: UInt32
        var record: String?
        var record_base64: String?
    }

    /// Parses `replay --format csv` output into events (record bytes as hex).
    func parseCSV(_ text: String) throws -> [ExpectedEvent] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.last == "", "csv output does not end with a newline")
        lines.removeLast()
        try #require(lines.first == "time,client_id,index,length,record", "csv header: \(lines.first ?? "none")")
        return try lines.dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            try #require(f.count == 5, "csv row \(line)")
            let bytes = try #require(Data(base64Encoded: f[4]), "not base64: \(f[4])")
            #expect(Int(f[3]) == bytes.count, "length column \(f[3]) for \(bytes.count) bytes")
            return ExpectedEvent(time: UInt64(f[0])!, clientId: UInt64(f[1])!, index: UInt32(f[2])!, hex: hex(bytes))
        }
    }

    /// Parses `replay --format jsonl` output into events.
    func parseJSONL(_ text: String) throws -> [ExpectedEvent] {
        try text.split(separator: "\n").map { line in
            let row = try JSONDecoder().decode(JSONLine.self, from: Data(line.utf8))
            let bytes: [UInt8]
            if let s = row.record {
                #expect(row.record_base64 == nil)
                bytes = Array(s.utf8)
            } else {
                let b64 = try #require(row.record_base64, "no record in \(line)")
                bytes = [UInt8](try #require(Data(base64Encoded: b64)))
            }
            #expect(Int(row.length) == bytes.count)
            return ExpectedEvent(time: row.time, clientId: row.client_id, index: row.index, hex: hex(bytes))
        }
    }

    @Test("ls lists every story with the reader's counts; --json parses")
    func list() throws {
        let archive = try KnownArchive()
        let text = try chronolog(["ls", archive.path])
        #expect(text.exitCode == 0, "\(text)")
        #expect(text.stdout.contains("story \"\(KnownArchive.shared)\"") && text.stdout.contains("story \"leer\""), "\(text)")

        let r = try chronolog(["ls", archive.path, "--json"])
        try #require(r.exitCode == 0, "\(r)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let chronicles = try #require(doc["chronicles"] as? [[String: Any]])
        var listed: [String: Int] = [:]
        for c in chronicles {
            for s in try #require(c["stories"] as? [[String: Any]]) {
                listed["\(c["name"] as! String)/\(s["name"] as! String)"] = (s["events"] as! NSNumber).intValue
            }
        }
        let reader = try ArchiveReader(path: archive.path)
        var truth: [String: Int] = [:]
        for s in try reader.chronicles().flatMap(\.stories) { truth["\(s.chronicle)/\(s.name)"] = s.eventCount }
        #expect(listed == truth)
        // Every story with events is listed; stored counts equal the distinct events except where a
        // revision re-sent one (the shared story holds a duplicate per round ≥ 1).
        for (key, events) in archive.expected {
            let count = try #require(listed[key], "\(key) not listed")
            if key.hasSuffix(KnownArchive.shared) { #expect(count >= events.count) } else { #expect(count == events.count, "\(key)") }
        }
        #expect(listed["\(KnownArchive.otherChronicle)/leer"] == 0)
        #expect(listed.count == 5, "\(listed.keys.sorted())")
    }

    @Test("replay --format csv and jsonl parse back to exactly the expected events, whole story and a sub-range")
    func replayRoundTrip() throws {
        let archive = try KnownArchive()
        for (key, events) in archive.expected.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            let times = events.map(\.time)
            let from = times[times.count / 3], to = times[2 * times.count / 3] + 1
            let windows: [(args: [String], want: [ExpectedEvent])] = [
                ([], events),
                (["--from", String(from), "--to", String(to)], events.filter { $0.time >= from && $0.time < to }),
                (["--from", String(to)], events.filter { $0.time >= to }),
            ]
            for window in windows {
                let csv = try chronolog(["replay", archive.path, parts[0], parts[1], "--format", "csv"] + window.args)
                try #require(csv.exitCode == 0, "\(csv)")
                #expect(try parseCSV(csv.stdout) == window.want, "\(key) csv \(window.args)")
                let jsonl = try chronolog(["replay", archive.path, parts[0], parts[1], "--format", "jsonl"] + window.args)
                try #require(jsonl.exitCode == 0, "\(jsonl)")
                #expect(try parseJSONL(jsonl.stdout) == window.want, "\(key) jsonl \(window.args)")
                let text = try chronolog(["replay", archive.path, parts[0], parts[1]] + window.args)
                let lines = text.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                #expect(text.exitCode == 0 && lines.count == window.want.count, "\(key) text \(window.args)")
                #expect(lines.allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 5 })
            }
        }
    }

    @Test("replay jsonl and csv read with Python's json, csv and base64 give the expected events; --output writes a file")
    func replayPython() throws {
        let archive = try KnownArchive()
        let key = "\(KnownArchive.chronicle)/\(KnownArchive.shared)"
        let want = try #require(archive.expected[key])
        let out = archive.directory.path("shared.jsonl"), csvOut = archive.directory.path("shared.csv")
        for (format, file) in [("jsonl", out), ("csv", csvOut)] {
            let r = try chronolog(["replay", archive.path, KnownArchive.chronicle, KnownArchive.shared, "--format", format, "--output", file])
            try #require(r.exitCode == 0 && r.stdout.isEmpty, "\(r)")
        }
        let script = """
            import base64, csv, json, sys
            rows = []
            for line in open(sys.argv[1], encoding='utf-8'):
                o = json.loads(line)
                b = o['record'].encode('utf-8') if 'record' in o else base64.b64decode(o['record_base64'], validate=True)
                assert o['length'] == len(b)
                rows.append((o['time'], o['client_id'], o['index'], b.hex()))
            with open(sys.argv[2], newline='') as f:
                crows = [(int(r['time']), int(r['client_id']), int(r['index']), base64.b64decode(r['record'], validate=True).hex())
                         for r in csv.DictReader(f)]
            assert rows == crows, 'csv and jsonl differ'
            for r in rows: print('%d\\t%d\\t%d\\t%s' % r)
            """
        let py = try MPIJob.runCommand([systemPython, "-c", script, out, csvOut], timeout: 60)
        try #require(py.exitCode == 0, "\(py)")
        let got = py.stdout.split(separator: "\n").map(String.init)
        #expect(got == want.map { "\($0.time)\t\($0.clientId)\t\($0.index)\t\($0.hex)" })
    }

    @Test("stats --json parses and agrees with ls")
    func stats() throws {
        let archive = try KnownArchive()
        let r = try chronolog(["stats", archive.path, "--json", "--per-story"])
        try #require(r.exitCode == 0, "\(r)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let reader = try ArchiveReader(path: archive.path)
        let stories = try reader.chronicles().flatMap(\.stories)
        #expect((doc["files"] as? NSNumber)?.intValue == 1)
        #expect((doc["chronicles"] as? NSNumber)?.intValue == 2)
        #expect((doc["stories"] as? NSNumber)?.intValue == stories.count)
        #expect((doc["events"] as? NSNumber)?.intValue == stories.reduce(0) { $0 + $1.eventCount })
        #expect((doc["payload_bytes"] as? NSNumber)?.intValue == stories.reduce(0) { $0 + $1.payloadBytes })
        #expect((doc["per_story"] as? [Any])?.count == stories.count)
        let span = try #require(doc["time_span"] as? [String: Any])
        let first = archive.expected.values.flatMap { $0 }.map(\.time).min()!
        #expect((span["start"] as? NSNumber)?.uint64Value == first)
        let text = try chronolog(["stats", archive.path])
        #expect(text.exitCode == 0 && text.stdout.contains("events"), "\(text)")
    }

    @Test("sizes past 4 GiB print whole: a copy grown (sparse) to 5 GiB still opens and stats gives its exact size")
    func largeSizesPrintWhole() throws {
        let archive = try KnownArchive()
        let (dir, copy) = try archive.copy()
        try withExtendedLifetime(dir) {
            let size: Int64 = 5 << 30
            #expect(truncate(copy, off_t(size)) == 0)  // HDF5 ignores bytes past the end of its allocations
            let r = try chronolog(["stats", copy])
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.contains("5.0 GiB (\(size) B)"), "\(r)")
        }
    }

    @Test("verify: a good archive passes (exit 0); the fixture's sparse client indexes are reported")
    func verifyGood() throws {
        let archive = try KnownArchive()
        let r = try chronolog(["verify", archive.path, "--skip-client-indexes"])
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.hasPrefix("OK"), "\(r)")
        let json = try chronolog(["verify", archive.path, "--skip-client-indexes", "--json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(doc["ok"] as? Bool == true && json.exitCode == 0, "\(json)")
        // archive-checks numbers events round * 1000 + i: not dense, which verify must notice.
        let dense = try chronolog(["verify", archive.path])
        #expect(dense.exitCode == 1, "\(dense)")
        #expect(dense.stdout.contains("client 1") && dense.stdout.contains("missing"), "\(dense)")
        #expect(dense.stderr.contains(archive.path) && dense.stderr.split(separator: "\n").count == 1, "\(dense)")
    }

    @Test("replay and tail with an empty or malformed chronicle or story name: a usage error (exit 2) naming the rule, before anything is opened")
    func badNames() throws {
        let archive = try KnownArchive()
        for (args, needle) in [(["replay", archive.directory.path, "", KnownArchive.shared], "chronicle name \"\": is empty"),
                               (["replay", archive.directory.path, KnownArchive.chronicle, "a/b"], "story name \"a/b\""),
                               (["replay", "--live", "", "s"], "chronicle name \"\": is empty"),
                               (["tail", "x", ""], "story name \"\": is empty")] {
            let r = try chronolog(args)
            #expect(r.exitCode == 2 && r.stderr.contains(needle), "\(args): \(r)")
        }
    }

    @Test("a user who may not read the archive directory is told so: permission denied, not 'not HDF5' or 'no such file'",
          .enabled(if: getuid() == 0, "runs the tool as nobody (setpriv), which needs root"))
    func permissionDenied() throws {
        let archive = try KnownArchive()
        let top = "/tmp/chronolog-perm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: top) }
        try FileManager.default.createDirectory(atPath: top + "/archive", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: archive.file, toPath: top + "/archive/chronolog-archive.h5")
        chmod(top, 0o755)
        chmod(top + "/archive", 0o700)  // root's alone
        let asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", MPIJob.executable("chronolog")]
        let dir = try MPIJob.runCommand(asNobody + ["ls", top + "/archive"], timeout: 60)
        #expect(dir.exitCode == 1 && dir.stderr.contains("\(top)/archive: cannot list the directory: permission denied"), "\(dir)")
        let file = try MPIJob.runCommand(asNobody + ["ls", top + "/archive/chronolog-archive.h5"], timeout: 60)
        #expect(file.exitCode == 1 && file.stderr.contains("chronolog-archive.h5: permission denied"), "\(file)")
    }

    @Test("verify, ls and replay on a truncated copy: exit 1 naming the file")
    func truncated() throws {
        let archive = try KnownArchive()
        let (dir, damaged) = try archive.copy()
        let size = try FileManager.default.attributesOfItem(atPath: damaged)[.size] as? Int ?? 0
        #expect(truncate(damaged, off_t(size / 2)) == 0)
        let v = try chronolog(["verify", dir.path])
        #expect(v.exitCode == 1, "\(v)")
        #expect(v.stdout.contains("PROBLEMS") && v.stdout.contains(damaged), "\(v)")
        #expect(v.stderr.contains(damaged) && v.stderr.split(separator: "\n").count == 1, "\(v)")
        for args in [["ls", dir.path], ["stats", damaged], ["replay", damaged, KnownArchive.chronicle, KnownArchive.shared]] {
            let r = try chronolog(args)
            #expect(r.exitCode == 1, "\(args): \(r)")
            #expect(r.stderr.hasPrefix("chronolog: \(damaged): cannot be opened") && r.stderr.split(separator: "\n").count == 1, "\(r)")
        }
    }

    @Test("verify and replay on a copy with a flipped payload byte: verify exits 1, replay 3, both naming the damaged chunk")
    func flippedPayloadByte() throws {
        let archive = try KnownArchive()
        let reader = try ArchiveReader(path: archive.path)
        let big = try reader.events(chronicle: KnownArchive.otherChronicle, story: KnownArchive.big, range: TimeRange(start: 0, end: .max))
        try #require(big.count > 0 && big.records[0].length == 65536)
        let marker = Array(big.recordBytes(at: 0).dropFirst(30_000).prefix(32))
        let (dir, damaged) = try archive.copy()
        try flipFirst(marker, in: damaged)
        let v = try chronolog(["verify", dir.path, "--skip-client-indexes"])
        #expect(v.exitCode == 1, "\(v)")
        #expect(v.stdout.contains("payload checksum") && v.stdout.contains("/index row"), "\(v)")
        #expect(v.stderr.contains("payload checksum") && v.stderr.split(separator: "\n").count == 1, "\(v)")
        let json = try chronolog(["verify", dir.path, "--json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(doc["ok"] as? Bool == false && json.exitCode == 1, "\(json)")
        // Replay prints the story's intact events, names the damaged chunk and exits 3 (partial).
        let r = try chronolog(["replay", damaged, KnownArchive.otherChronicle, KnownArchive.big, "--format", "csv"])
        #expect(r.exitCode == 3, "\(r)")
        #expect(r.stderr.contains(damaged) && r.stderr.contains("payload checksum") && r.stderr.contains("archive damaged"), "\(r)")
        #expect(try parseCSV(r.stdout).count == big.count - 1, "\(r)")
        // Other stories still replay.
        let other = try chronolog(["replay", damaged, KnownArchive.chronicle, KnownArchive.shared, "--format", "csv"])
        #expect(other.exitCode == 0, "\(other)")
    }

    @Test("a flipped byte in an index row of the last round: verify exits 1 naming story and row; replay prints the intact events, names the row on stderr and exits 3; ls shows it")
    func damagedLastRoundRow() throws {
        let archive = try KnownArchive()
        let (dir, damaged) = try archive.copy()
        let flipped = try ArchiveSurgery.flipIndexByte(file: damaged, chronicle: KnownArchive.chronicle, story: KnownArchive.shared,
                                                       row: -1, column: 4)
        #expect(flipped.round == 2, "the story's last row is of the last round")
        let v = try chronolog(["verify", dir.path, "--skip-client-indexes"])
        #expect(v.exitCode == 1, "\(v)")
        #expect(v.stdout.contains("index row \(flipped.row): story \"\(KnownArchive.chronicle)\"/\"\(KnownArchive.shared)\"")
                && v.stdout.contains("file \(damaged): closed cleanly after 3 rounds"), "\(v)")
        #expect(v.stderr.contains("index row \(flipped.row)") && v.stderr.split(separator: "\n").count == 1, "\(v)")
        let json = try chronolog(["verify", dir.path, "--skip-client-indexes", "--json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let states = try #require(doc["file_states"] as? [[String: Any]])
        #expect(doc["ok"] as? Bool == false && states.first?["state"] as? String == "closed", "\(json)")

        let r = try chronolog(["replay", damaged, KnownArchive.chronicle, KnownArchive.shared, "--format", "csv"])
        #expect(r.exitCode == 3, "\(r)")
        let got = try parseCSV(r.stdout)
        let all = try #require(archive.expected["\(KnownArchive.chronicle)/\(KnownArchive.shared)"])
        #expect(!got.isEmpty && got.count < all.count && Set(got).isSubset(of: Set(all)), "\(got.count) of \(all.count) events")
        #expect(r.stderr.contains("partial: 1 damaged index row left out") && r.stderr.contains("index row \(flipped.row)")
                && r.stderr.contains("range ["), "\(r)")
        // ls and stats print what they can, then fail naming the damage (never a silent success).
        let ls = try chronolog(["ls", damaged])
        #expect(ls.exitCode == 1 && ls.stdout.contains("DAMAGED 1 index row") && ls.stderr.contains("archive damaged: 1 index row"), "\(ls)")
        let stats = try chronolog(["stats", damaged, "--json"])
        #expect(stats.exitCode == 1 && stats.stdout.contains("\"stories\"") && stats.stderr.contains(KnownArchive.shared), "\(stats)")
    }

    @Test("verify tells a cleanly closed file from a writer killed after a flush; replay notes a crash tail and exits 0")
    func cleanCloseVersusCrashTail() throws {
        let archive = try KnownArchive()
        let clean = try chronolog(["verify", archive.path, "--skip-client-indexes"])
        #expect(clean.exitCode == 0 && clean.stdout.contains("closed cleanly after 3 rounds"), "\(clean)")

        let dir = try ScratchDirectory()
        let write = try MPIJob.run(ranks: 1, [MPIJob.executable("archive-checks"), "write", "--dir", dir.path, "--rounds", "5",
                                              "--kill-after-rounds", "3"], timeout: 120)
        #expect(write.exitCode != 0 && write.lines(startingWith: "ACKED 3").count == 1, "\(write)")
        let killed = try chronolog(["verify", dir.path, "--skip-client-indexes"])
        #expect(killed.exitCode == 0 && killed.stdout.contains("not closed (writer killed or still writing): 3 of 3 rounds committed"),
                "\(killed)")
        let json = try chronolog(["verify", dir.path, "--skip-client-indexes", "--json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let state = try #require((doc["file_states"] as? [[String: Any]])?.first)
        #expect(state["state"] as? String == "not-closed" && (state["committed_rounds"] as? NSNumber)?.intValue == 3, "\(json)")

        // A writer killed before committing its last round leaves rows that are a crash tail.
        let file = dir.path("chronolog-archive.h5")
        try ArchiveSurgery.rollBackCommit(file: file, toRounds: 2)
        try ArchiveSurgery.flipIndexByte(file: file, chronicle: KnownArchive.chronicle, story: KnownArchive.shared, row: -1, column: 4)
        let tail = try chronolog(["verify", dir.path, "--skip-client-indexes"])
        #expect(tail.exitCode == 0 && tail.stdout.contains("2 of 3 rounds committed") && !tail.stdout.contains("uncommitted rows 0"),
                "\(tail)")
        let r = try chronolog(["replay", dir.path, KnownArchive.chronicle, KnownArchive.shared])
        #expect(r.exitCode == 0 && r.stderr.contains("partial: crash tail of 1 index row"), "\(r)")
    }

    @Test("every command whose output cannot be written (>/dev/full) exits 1 saying so")
    func unwritableOutput() throws {
        let archive = try KnownArchive()
        let commands: [[String]] = [
            ["ls", archive.path], ["ls", archive.path, "--json"], ["stats", archive.path], ["stats", archive.path, "--json"],
            ["verify", archive.path], ["verify", archive.path, "--json"], ["version"], ["--help"],
            ["replay", archive.path, KnownArchive.chronicle, KnownArchive.shared],
        ]
        for args in commands {
            let r = try MPIJob.runCommand(["bash", "-c", #""$@" >/dev/full"#, "chronolog", MPIJob.executable("chronolog")] + args,
                                          timeout: 60)
            #expect(r.exitCode == 1, "\(args): \(r)")
            #expect(r.stderr.contains("standard output: write failed: No space left on device"), "\(args): \(r)")
        }
    }

    @Test("a missing story: exit 1 naming it")
    func missingStory() throws {
        let archive = try KnownArchive()
        let r = try chronolog(["replay", archive.path, KnownArchive.chronicle, "nope"])
        #expect(r.exitCode == 1 && r.stderr.contains("no story 'nope'"), "\(r)")
    }
}

/// Paths that hold no archive: one line on stderr naming the path and the problem, exit 1.
@Suite("chronolog without an archive")
struct CLIMissingArchiveTests {
    @Test("a missing path, an empty directory and a non-archive file", arguments: ["ls", "stats", "verify", "replay"])
    func noArchive(command: String) throws {
        let dir = try ScratchDirectory()
        let garbage = dir.path("garbage.h5")
        try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: dir.path("garbage.h5")))
        let empty = dir.path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let cases: [(path: String, message: String)] = [
            (dir.path("nothing"), "no such file or directory"),
            (empty, "the directory holds no *.h5 file"),
            (garbage, "cannot be opened"),
        ]
        for c in cases {
            let extra = command == "replay" ? ["c", "s"] : []
            let r = try chronolog([command, c.path] + extra, timeout: 60)
            #expect(r.exitCode == 1, "\(command) \(c.path): \(r)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("chronolog: \(c.path): ") && lines[0].contains(c.message),
                    "\(command) \(c.path): \(r)")
        }
    }

    @Test("an application's own HDF5 file beside the archive is left out: ls, stats, verify and replay of the directory as without it; named alone, it is no archive")
    func foreignHDF5FileInTheDirectory() throws {
        let archive = try KnownArchive()
        let dir = try ScratchDirectory()
        let top = dir.path("archive")
        try FileManager.default.createDirectory(atPath: top, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: archive.file, toPath: top + "/chronolog-archive.h5")
        // Sorted before and after the archive's own file.
        let python = "import h5py, sys\nfor p in sys.argv[1:]:\n    with h5py.File(p, 'w') as f:\n        f.create_dataset('x', data=[1, 2, 3])\n"
        let made = try MPIJob.runCommand(["/usr/bin/python3", "-c", python, top + "/aaa-results.h5", top + "/zzz-mesh.h5"], timeout: 60)
        try #require(made.exitCode == 0, "\(made)")
        let stories = try #require(archive.expected.keys.sorted().first).split(separator: "/").map(String.init)
        for args in [["ls"], ["stats"], ["verify", "--skip-client-indexes"], ["replay", "--format", "jsonl"]] {
            let tail = args[0] == "replay" ? stories : []
            let alone = try chronolog([args[0], archive.path] + args.dropFirst() + tail)
            let beside = try chronolog([args[0], top] + args.dropFirst() + tail)
            #expect(alone.exitCode == 0 && beside.exitCode == 0, "\(args): \(beside)")
            // The same listing, counts and events (paths aside).
            #expect(beside.stdout.replacingOccurrences(of: top, with: archive.path) == alone.stdout, "\(args): \(beside.stdout)\n\(alone.stdout)")
        }
        let named = try chronolog(["ls", top + "/zzz-mesh.h5"])
        #expect(named.exitCode == 1 && named.stderr.contains("is an HDF5 file but no ChronoLog-Swift archive"), "\(named)")
        try FileManager.default.removeItem(atPath: top + "/chronolog-archive.h5")
        let onlyForeign = try chronolog(["ls", top])
        #expect(onlyForeign.exitCode == 1 && onlyForeign.stderr.contains("is an HDF5 file but no ChronoLog-Swift archive"), "\(onlyForeign)")
    }

    @Test("without a path, ls looks at ./chronolog-archive")
    func defaultPath() throws {
        let dir = try ScratchDirectory()
        let r = try MPIJob.runCommand([MPIJob.executable("chronolog"), "ls"], timeout: 30, workingDirectory: dir.url)
        #expect(r.exitCode == 1 && r.stderr.contains("chronolog-archive: no such file or directory"), "\(r)")
    }
}
