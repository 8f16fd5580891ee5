import Foundation
import Testing
import TestSupport

/// The checkout's root (for benchmarks/ and jobs/).
let checkoutRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Debian's python3 when it can import matplotlib, else nil.
let plottingPython: String? = {
    guard let r = try? MPIJob.runCommand(["/usr/bin/python3", "-c", "import matplotlib, numpy"], timeout: 60), r.exitCode == 0 else { return nil }
    return "/usr/bin/python3"
}()

/// `chronolog-bench ior`: its options, its table and JSON from small runs of every API, and the plot.
@Suite("chronolog-bench ior", .serialized)
struct IORBenchTests {
    static var bench: String { MPIJob.executable("chronolog-bench") }

    @Test("ior --help documents every IOR option and the figures")
    func help() throws {
        let r = try MPIJob.runCommand([Self.bench, "ior", "--help"], timeout: 30)
        #expect(r.exitCode == 0, "\(r)")
        for option in ["-a <apis>", "-t <bytes>", "-b <size>", "-s <n>", "-F ", "-w ", "-r ", "-C ", "-R ", "-i <n>", "-D <seconds>", "-e ",
                       "-o <dir>", "-O <key=value>", "--json <file>", "-k ", "--buffer-size", "--read-cache <cold|kept>"] {
            #expect(r.stdout.contains("  \(option)"), "--help lacks \(option)")
        }
        // The discussion is wrapped to the terminal: compare with single spaces.
        let flowing = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in ["Summary of all tests", "CPU s/event", "Time-to-durable", "summaryFormat=JSON", "benchmarks/plot.py", "64 for a usage error"] {
            #expect(flowing.contains(text), "--help lacks \(text)")
        }
    }

    @Test("bad options exit 64 with a message naming the option and its bounds", arguments: [
        (["-t", "0"], "-t 0"), (["-t", "70000"], "story.maxEventBytes"), (["-a", "POSIX,FOO"], "unknown API 'FOO'"),
        (["-a", "HDF5,hdf5"], "HDF5 is named twice"), (["-b", "10"], "less than one 256-B event"), (["-b", "2x"], "-b 2x"),
        (["-b", "2t"], "more than 1 TiB"), (["-s", "5000"], "-s 5000 is outside 1…4096"), (["-b", "3e", "-s", "4"], "fewer than the 4 stories"),
        (["-i", "0"], "-i 0 is outside 1…10000"), (["-D", "90000"], "-D 90000 is outside 0…86400"), (["-r"], "-r needs"),
        (["-w", "-C"], "-C needs a read phase"), (["-O", "summaryFormat=xml"], "summaryFormat=xml"), (["-O", "colour=red"], "unknown setting"),
        (["--buffer-size", "100"], "--buffer-size 100 is outside"), (["--sample-every", "0"], "--sample-every 0"),
        (["--set", "nosuch.key=1"], "nosuch.key"), (["--read-cache", "warm"], "--read-cache warm: expected cold or kept"),
        (["-t", "-5"], "-t -5: expected a positive number"), (["-D", "-1"], "-D -1 is outside 0…86400"), (["-i", "-2"], "-i -2 is outside"),
        (["--json", "/nonexistent-dir/x.json"], "--json /nonexistent-dir/x.json: the directory /nonexistent-dir does not exist"),
        (["-O", "summaryFile=/proc/x.json"], "-O summaryFile=/proc/x.json: cannot be created"),
    ])
    func badOptions(args: [String], message: String) throws {
        let r = try MPIJob.runCommand([Self.bench, "ior"] + args, timeout: 30)
        #expect(r.exitCode == 64, "\(r)")
        #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
    }

    @Test("every API, a story per writer, read from the next rank, twice: IOR's table, a JSON with every figure positive, ratios of the same run, the plot")
    func everyAPI() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("ior.json").path, data = dir.appendingPathComponent("data").path
        let r = try MPIJob.run(ranks: 6, [Self.bench, "ior", "-b", "64k", "-F", "-s", "2", "-C", "-R", "-i", "2", "--durable-probe-ms", "5",
                                          "-o", data, "--json", json], timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("Summary of all tests:") && r.stdout.contains("CHRONOLOG as a ratio of the best baseline"), "\(r)")
        // The header says how much of the archive stays in the page cache (the baselines' files stay whole).
        #expect(r.stdout.contains("archive page cache  : 256 MiB of the archive kept per grapher"), "\(r.stdout)")
        // By default every API's files are dropped from the page cache before its read phase, and
        // each read line says what the cache held (the baselines' files are synced, so all clean).
        #expect(r.stdout.contains("read cache          : cold: every API's files"), "\(r.stdout)")
        for api in ["CHRONOLOG", "POSIX", "MPIIO", "HDF5"] {
            for access in ["write", "read"] {
                #expect(r.lines(startingWith: "\(api)").filter { $0.split(separator: " ").dropFirst().first == Substring(access) }.count == 2,
                        "\(api) \(access): a line per repetition expected\n\(r.stdout)")
            }
        }
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        try checkRows(doc, apis: 4, iterations: 2, eventsPerWriter: 256, storedBytes: 288)
        try checkRatios(doc)
        for row in try #require(doc["iterations"] as? [[String: Any]]) where row["access"] as? String == "read" {
            let cached = try #require(row["cachedAtStart"] as? Double, "\(row)")
            // The archive may keep a few dirty pages of the grapher's last round; the baselines' files none.
            #expect(row["api"] as? String == "CHRONOLOG" ? cached < 0.5 : cached == 0, "\(row["api"] ?? "?"): \(cached) cached at start")
        }
        #expect(r.lines(startingWith: "POSIX").contains { $0.contains(" read ") && $0.hasSuffix("(0 % cached at start)") }, "\(r.stdout)")
        let remaining = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasPrefix("ior-") }
        #expect(remaining.isEmpty, "the baselines' files stay without -k: \(remaining)")
        if let python = plottingPython {
            let png = dir.appendingPathComponent("ior.png").path, scaling = dir.appendingPathComponent("scaling.png").path
            let p = try MPIJob.runCommand([python, checkoutRoot.appendingPathComponent("benchmarks/plot.py").path, json, "-o", png], timeout: 120)
            #expect(p.exitCode == 0, "\(p)")
            let s = try MPIJob.runCommand([python, checkoutRoot.appendingPathComponent("benchmarks/plot.py").path, "--scaling", scaling, json],
                                          timeout: 120)
            #expect(s.exitCode == 0 && s.stdout.contains("CHRONOLOG  write"), "\(s)")
            for file in [png, scaling] {
                let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: file)).readData(ofLength: 8)
                #expect(head == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(file) is not a PNG")
            }
        }
    }

    @Test("shared stories over 3 writers with -e and -R: the JSON on standard output (-O summaryFormat=JSON), every event read back, also with the HDF5 baseline's files kept beside the archive")
    func sharedDurableJSONOnStdout() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run(ranks: 7, [Self.bench, "ior", "-a", "CHRONOLOG,MPIIO,HDF5", "-t", "100", "-b", "400e", "-s", "4", "-e", "-R", "-i", "2", "-k",
                                          "--set", "progress.intervalMs=100", "--set", "heartbeat.intervalMs=50",
                                          "-O", "summaryFormat=JSON", "-o", dir.appendingPathComponent("data").path], timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        let text = try #require(r.stdout.components(separatedBy: "chronolog-job summary:").first)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(r.stdout)")
        #expect(doc["writers"] as? Int == 3 && doc["nodes"] as? Int == 1)
        // Progress lines (every 0.1 s here, from heartbeats every 50 ms) go to standard error, never into the document.
        #expect(r.stderr.contains("chronolog-job: progress t="), "\(r.stderr)")
        // -k: the HDF5 baseline's files stay in the archive's directory (-o), where the player
        // leaves them out when the second iteration replays CHRONOLOG after HDF5.
        try checkRows(doc, apis: 3, iterations: 2, eventsPerWriter: 400, storedBytes: 132)
        try checkRatios(doc)
    }

    @Test("-R compares every event read back with what its writer wrote: a byte changed under the reader fails the phase (exit 1), each API; the default checks counts only")
    func readCheckFindsAChangedByte() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shim = dir.appendingPathComponent("flip_reads.so").path
        let cc = try MPIJob.runCommand(["cc", "-shared", "-fPIC", "-o", shim,
                                        checkoutRoot.appendingPathComponent("Tests/BenchTests/Programs/flip_reads.c").path, "-ldl"], timeout: 60)
        try #require(cc.exitCode == 0, "\(cc)")
        // Every large pread of the POSIX, MPI-IO and HDF5 files returns one byte changed. The
        // failing writer still closes its files, which MPI-IO and HDF5 close collectively.
        let environment = ["LD_PRELOAD": shim, "FLIP_MATCH": "/ior-"], passed = ["-x", "LD_PRELOAD", "-x", "FLIP_MATCH"]
        for api in ["POSIX", "MPIIO", "HDF5"] {
            let data = dir.appendingPathComponent("data-\(api)").path
            let checked = try MPIJob.run([(6, [Self.bench, "ior", "-a", api, "-b", "256k", "-R", "-o", data])], timeout: 120,
                                         environment: environment, extraFlags: passed)
            #expect(!checked.timedOut && checked.exitCode == 1 && checked.stderr.contains("\(api) read check (-R): writer "), "\(api): \(checked)")
            let unchecked = try MPIJob.run([(6, [Self.bench, "ior", "-a", api, "-b", "256k", "-o", data])], timeout: 120,
                                           environment: environment, extraFlags: passed)
            #expect(unchecked.exitCode == 0, "\(api) without -R: \(unchecked)")
        }
    }

    @Test("-C with a single writer says in the header that it reads its own data (and -R agrees)")
    func readOtherRankWithOneWriter() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try MPIJob.run(ranks: 5, [Self.bench, "ior", "-a", "POSIX", "-b", "64k", "-C", "-R", "-o", dir.appendingPathComponent("data").path],
                               timeout: 120)
        #expect(r.exitCode == 0 && r.stdout.contains("access              : write, read (-C, but with one writer it reads its own data)"), "\(r)")
    }

    @Test("a busy story's slot-sized chunks below half an index row are merged per round, their storage back in the grapher's pool (none left shared)")
    func mergedChunksGiveTheirStorageBack() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Rows of 16 MiB: the keeper's 4-MiB chunks are below half a row, so each round merges its
        // run of them. A merge that left the chunks shared (sliced out of the round's list) kept
        // the pool from reusing their storage: 78 shared, 81 fresh arrays in this run before.
        let r = try MPIJob.run(ranks: 6, [Self.bench, "ior", "-a", "CHRONOLOG", "-w", "-t", "256", "-b", "32m", "-e",
                                          "--set", "archive.maxRowBytes=16777216", "-o", dir.appendingPathComponent("data").path],
                               timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        let grapher = r.counters(role: "grapher")
        #expect(grapher["storage.shared"] == 0 && (grapher["storage.reused"] ?? 0) > 0, "\(grapher)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
    }

    @Test("-D 1 stops every writer after a second; the read phase gets back exactly what was written")
    func stonewall() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("ior.json").path
        let r = try MPIJob.run(ranks: 6, [Self.bench, "ior", "-a", "CHRONOLOG,POSIX,MPIIO", "-F", "-t", "16", "-b", "100000000e", "-D", "1", "-R",
                                          "--durable-probe-ms", "0", "-o", dir.appendingPathComponent("data").path, "--json", json,
                                          "--set", "archive.pageCacheBytes=1048576", "--read-cache", "kept"],
                               timeout: 180)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("archive page cache  : 1 MiB of the archive kept per grapher"), "a value set is kept: \(r.stdout)")
        #expect(r.stdout.contains("(stonewalled)"), "\(r.stdout)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let rows = try #require(doc["iterations"] as? [[String: Any]])
        for api in ["CHRONOLOG", "POSIX", "MPIIO"] {
            let write = try #require(rows.first { $0["api"] as? String == api && $0["access"] as? String == "write" })
            let read = try #require(rows.first { $0["api"] as? String == api && $0["access"] as? String == "read" })
            let written = try #require(write["events"] as? Int)
            #expect(write["stonewalled"] as? Bool == true && written > 0 && written < 200_000_000, "\(api): \(write)")
            #expect((write["ioSeconds"] as? Double ?? 0) < 30, "\(api): the stonewall did not stop the writers: \(write)")
            #expect(read["events"] as? Int == written, "\(api): read \(read["events"] ?? "?") of \(written) events")
            if api != "CHRONOLOG" {
                // Kept: the baselines' files are read as their write phase left them, whole in the page cache.
                #expect(read["cachedAtStart"] as? Double == 1, "\(api): \(read["cachedAtStart"] ?? "?") cached at start")
            }
        }
    }

    @Test("the HDF5 baseline's datasets are allocated without fill values: its open step writes no zeros before the data (-k keeps the file)")
    func hdf5BaselineWritesNoFill() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data").path
        let r = try MPIJob.run(ranks: 6, [Self.bench, "ior", "-a", "HDF5", "-w", "-b", "64k", "-k", "-o", data], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: data).first { $0.hasPrefix("ior-") && $0.hasSuffix(".h5") },
                                "-k keeps the baseline's file")
        let dump = try MPIJob.runCommand(["h5dump", "-p", "-H", "\(data)/\(file)"], timeout: 60)
        #expect(dump.exitCode == 0, "\(dump)")
        let fillTimes = dump.stdout.components(separatedBy: "\n").filter { $0.contains("FILL_TIME") }
        #expect(fillTimes.count == 2 && fillTimes.allSatisfy { $0.contains("H5D_FILL_TIME_NEVER") }, "\(dump.stdout)")
    }

    /// Every iteration row has every figure and they are positive; events and bytes are what was asked.
    private func checkRows(_ doc: [String: Any], apis: Int, iterations: Int, eventsPerWriter: Int, storedBytes: Int) throws {
        let rows = try #require(doc["iterations"] as? [[String: Any]])
        #expect(rows.count == apis * 2 * iterations)
        let writers = try #require(doc["writers"] as? Int)
        for row in rows {
            let label = "\(row["api"] ?? "?") \(row["access"] ?? "?") \(row["iteration"] ?? "?")"
            for key in ["bytes", "events", "ops", "seconds", "ioSeconds", "mibPerSecond", "opsPerSecond", "eventsPerSecond", "cpuSeconds",
                        "cpuSecondsPerEvent"] {
                #expect(((row[key] as? NSNumber)?.doubleValue ?? 0) > 0, "\(label): \(key) = \(row[key] ?? "missing")")
            }
            #expect(row["events"] as? Int == writers * eventsPerWriter, "\(label): \(row["events"] ?? "?") events")
            #expect(row["bytes"] as? Int == writers * eventsPerWriter * storedBytes, "\(label): \(row["bytes"] ?? "?") bytes")
            guard row["access"] as? String == "write" else { continue }
            let latency = try #require(row["latencyNs"] as? [String: Double], "\(label): no latency")
            let durable = try #require(row["durableSeconds"] as? [String: Double], "\(label): no time-to-durable")
            #expect((latency["p50"] ?? 0) > 0 && (latency["p99"] ?? 0) >= (latency["p50"] ?? 0) && (latency["p999"] ?? 0) >= (latency["p99"] ?? 0))
            #expect((durable["p50"] ?? 0) > 0 && (durable["p99"] ?? 0) >= (durable["p50"] ?? 0), "\(label): \(durable)")
        }
        let summary = try #require(doc["summary"] as? [[String: Any]])
        #expect(summary.count == apis * 2)
        for s in summary {
            let mine = rows.filter { $0["api"] as? String == s["api"] as? String && $0["access"] as? String == s["access"] as? String }
            let mean = mine.compactMap { $0["mibPerSecond"] as? Double }.reduce(0, +) / Double(mine.count)
            let stats = try #require(s["mibPerSecond"] as? [String: Double])
            #expect(abs((stats["mean"] ?? 0) - mean) <= 1e-9 * mean, "summary mean \(stats) ≠ mean of the iterations \(mean)")
            #expect((stats["max"] ?? 0) >= (stats["mean"] ?? 0) && (stats["mean"] ?? 0) >= (stats["min"] ?? 0))
        }
        let timeline = try #require(doc["timeline"] as? [[String: Any]])
        #expect(timeline.count == rows.count * writers)
        for t in timeline {
            let times = try #require(t["t"] as? [Double])
            #expect(!times.isEmpty && zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })
        }
    }

    /// Every CHRONOLOG figure divided by the best baseline's value of the same run's summary.
    private func checkRatios(_ doc: [String: Any]) throws {
        let summary = try #require(doc["summary"] as? [[String: Any]])
        let ratios = try #require(doc["ratios"] as? [[String: Any]])
        func value(_ row: [String: Any], _ figure: String) -> Double? {
            switch figure {
            case "MiB/s": (row["mibPerSecond"] as? [String: Double])?["mean"]
            case "events/s": (row["eventsPerSecond"] as? [String: Double])?["mean"]
            case "per-event call p50 ns": (row["latencyNs"] as? [String: Double])?["p50"]
            case "per-event call p99 ns": (row["latencyNs"] as? [String: Double])?["p99"]
            case "per-event call p99.9 ns": (row["latencyNs"] as? [String: Double])?["p999"]
            case "time-to-durable p50 s": (row["durableSeconds"] as? [String: Double])?["p50"]
            case "time-to-durable p99 s": (row["durableSeconds"] as? [String: Double])?["p99"]
            case "CPU s/event": row["cpuSecondsPerEvent"] as? Double
            default: nil
            }
        }
        let figures = ratios.compactMap { $0["access"] as? String == "write" ? $0["figure"] as? String : nil }
        #expect(figures.count == 8, "write ratios: \(figures)")
        #expect(ratios.filter { $0["access"] as? String == "read" }.count == 3)
        for ratio in ratios {
            let access = ratio["access"] as? String, figure = try #require(ratio["figure"] as? String)
            let rows = summary.filter { $0["access"] as? String == access }
            let mine = try #require(rows.first { $0["api"] as? String == "CHRONOLOG" }.flatMap { value($0, figure) })
            let baselines = rows.filter { $0["api"] as? String != "CHRONOLOG" }.compactMap { value($0, figure) }
            let best = (ratio["higherIsBetter"] as? Bool == true) ? baselines.max()! : baselines.min()!
            #expect(ratio["chronolog"] as? Double == mine && ratio["baselineValue"] as? Double == best, "\(figure): \(ratio)")
            #expect(abs((ratio["ratio"] as? Double ?? 0) - mine / best) <= 1e-12 * mine / best, "\(figure): \(ratio)")
        }
    }
}
