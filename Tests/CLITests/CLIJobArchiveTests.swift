import Foundation
import Testing
import TestSupport

/// `chronolog` on what a real job archived: `chronolog-job` (6 ranks, demo workload) writes
/// ./chronolog-archive in a scratch directory; the tool, run there without a path, finds it.
@Suite("chronolog on a job's archive", .serialized)
struct CLIJobArchiveTests {
    @Test("verify passes with the per-client index check; ls and replay agree on the events")
    func jobArchive() throws {
        let dir = try ScratchDirectory()
        let job = try MPIJob.run([(6, [MPIJob.executable("chronolog-job"), "--events", "50", "--stories", "2"])],
                                 timeout: 120, workingDirectory: dir.url)
        try #require(job.exitCode == 0, "\(job)")
        let chronolog = MPIJob.executable("chronolog")
        let verify = try MPIJob.runCommand([chronolog, "verify"], timeout: 60, workingDirectory: dir.url)
        #expect(verify.exitCode == 0, "\(verify)")
        #expect(verify.stdout.hasPrefix("OK chronolog-archive") && verify.stdout.contains("client indexes: checked"), "\(verify)")
        // The graphers closed the file at the end of the job: every round committed.
        #expect(verify.stdout.contains("chronolog-archive.h5: closed cleanly after"), "\(verify)")

        let ls = try MPIJob.runCommand([chronolog, "ls", "--json"], timeout: 60, workingDirectory: dir.url)
        try #require(ls.exitCode == 0, "\(ls)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [String: Any])
        let stories = (doc["chronicles"] as? [[String: Any]] ?? []).flatMap { $0["stories"] as? [[String: Any]] ?? [] }
        try #require(!stories.isEmpty, "\(ls)")
        var total = 0
        for s in stories {
            let (c, name) = (s["chronicle"] as! String, s["name"] as! String)
            let events = (s["events"] as! NSNumber).intValue
            total += events
            let replay = try MPIJob.runCommand([chronolog, "replay", "chronolog-archive", c, name, "--format", "jsonl"],
                                               timeout: 60, workingDirectory: dir.url)
            try #require(replay.exitCode == 0, "\(replay)")
            let lines = replay.stdout.split(separator: "\n")
            #expect(lines.count == events, "\(c)/\(name): \(lines.count) replayed, \(events) listed")
            // Each client's indexes are 0, 1, 2, … in time order.
            var next: [UInt64: UInt32] = [:]
            for line in lines {
                let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let client = (o["client_id"] as! NSNumber).uint64Value, index = (o["index"] as! NSNumber).uint32Value
                #expect(index == next[client, default: 0], "\(line)")
                next[client] = index + 1
            }
        }
        // As many events as the job's summary says the clients had acknowledged.
        let acked = (job.stdout + job.stderr).split(whereSeparator: { $0 == " " || $0 == "\n" })
            .first { $0.hasPrefix("events.acked=") }.flatMap { Int($0.dropFirst("events.acked=".count)) }
        #expect(acked != nil && total == acked, "listed \(total), job summary: \(job)")
    }

    @Test("stories the catalog knows with no event in the archive: verify counts the missing writers (partial, exit 1), an empty one complete; replay answers nothing and notes why (exit 0)")
    func catalogStoriesWithoutEvents() throws {
        let dir = try ScratchDirectory()
        let job = try MPIJob.run([(6, [MPIJob.executable("chronolog-job"), "--events", "20", "--stories", "1"])],
                                 timeout: 120, workingDirectory: dir.url)
        try #require(job.exitCode == 0, "\(job)")
        // As a job whose every archive write failed (a full disk) leaves it: the catalog records
        // the writers and their counts, the HDF5 file holds no event of the story.
        let catalogPath = dir.path("chronolog-archive/chronolog-catalog.json")
        var catalog = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: catalogPath))) as? [String: Any])
        var chronicles = try #require(catalog["chronicles"] as? [String: Any])
        let (name, value) = try #require(chronicles.first)
        var chronicle = try #require(value as? [String: Any])
        var stories = try #require(chronicle["stories"] as? [String: Any])
        stories["lost"] = ["attributes": [String: String](), "destroyed": false,
                           "writers": [["client": 42, "count": 1000], ["client": 43]], "hidden": [Any]()] as [String: Any]
        stories["quiet"] = ["attributes": [String: String](), "destroyed": false, "writers": [["client": 44, "count": 0]], "hidden": [Any]()] as [String: Any]
        chronicle["stories"] = stories
        chronicles[name] = chronicle
        catalog["chronicles"] = chronicles
        try JSONSerialization.data(withJSONObject: catalog, options: [.sortedKeys]).write(to: URL(fileURLWithPath: catalogPath))

        let chronolog = MPIJob.executable("chronolog")
        let verify = try MPIJob.runCommand([chronolog, "verify", "--json"], timeout: 60, workingDirectory: dir.url)
        #expect(verify.exitCode == 1, "\(verify)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any], "\(verify)")
        let completeness = try #require(doc["completeness"] as? [[String: Any]], "\(doc)")
        let lost = try #require(completeness.first { $0["story"] as? String == "lost" }, "\(completeness)")
        let reasons = lost["reasons"] as? [String] ?? []
        #expect(lost["state"] as? String == "partial" && reasons.contains { $0.contains("client 42") && $0.contains("archived 0 of 1000") }
                && reasons.contains { $0.contains("client 43") && $0.contains("never released") }, "\(lost)")
        let quiet = try #require(completeness.first { $0["story"] as? String == "quiet" }, "\(completeness)")
        #expect(quiet["state"] as? String == "complete", "\(quiet)")

        let replay = try MPIJob.runCommand([chronolog, "replay", "chronolog-archive", name, "lost", "--format", "jsonl"],
                                           timeout: 60, workingDirectory: dir.url)
        #expect(replay.exitCode == 0 && replay.stdout.isEmpty && replay.stderr.contains("partial")
                && replay.stderr.contains("archived 0 of 1000"), "\(replay)")
        // Every command shows them: ls marks them, stats counts them, export takes them (no event).
        let ls = try MPIJob.runCommand([chronolog, "ls"], timeout: 60, workingDirectory: dir.url)
        #expect(ls.exitCode == 0 && ls.stdout.contains("story \"lost\": 0 events, 0 chunks, 0 B (in the catalog only: no event archived)")
                && ls.stdout.contains("story \"quiet\": 0 events"), "\(ls)")
        let stats = try MPIJob.runCommand([chronolog, "stats", "--json"], timeout: 60, workingDirectory: dir.url)
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any], "\(stats)")
        #expect(counts["stories"] as? Int == 5 && counts["storiesWithEvents"] as? Int ?? counts["stories_with_events"] as? Int == 3, "\(counts)")
        let export = try MPIJob.runCommand([chronolog, "export", "--story", "\(name)/lost", "-o", dir.path("lost.json")], timeout: 60,
                                           workingDirectory: dir.url)
        #expect(export.exitCode == 0, "\(export)")
        let unknown = try MPIJob.runCommand([chronolog, "replay", "chronolog-archive", name, "never-was"], timeout: 60, workingDirectory: dir.url)
        #expect(unknown.exitCode == 1 && unknown.stderr.contains("no story 'never-was'"), "\(unknown)")
    }

    @Test("a reader that closes the pipe early (| head -c 100): replay and export exit 1 saying so, not killed by SIGPIPE (141)")
    func closedPipe() throws {
        let dir = try ScratchDirectory()
        let job = try MPIJob.run([(6, [MPIJob.executable("chronolog-job"), "--events", "5000", "--stories", "1", "--quiet"])],
                                 timeout: 120, workingDirectory: dir.url)
        try #require(job.exitCode == 0, "\(job)")
        // Each output is several pipe buffers (64 KiB) long, so the writer meets the closed pipe.
        for args in [["replay", "chronolog-archive", "demo", "shared"], ["export", "chronolog-archive"]] {
            let r = try MPIJob.runCommand(["bash", "-c", #""$@" | head -c 100 > /dev/null; echo "status=${PIPESTATUS[0]}""#, "chronolog",
                                           MPIJob.executable("chronolog")] + args, timeout: 60, workingDirectory: dir.url)
            #expect(r.stdout.contains("status=1") && r.stderr.contains("standard output: write failed: Broken pipe"), "\(args): \(r)")
        }
    }

    @Test("one unreadable story group (its attributes lost) is left out and named: the other stories list, replay and export; ls, verify and export fail saying so")
    func unreadableGroupLeftOut() throws {
        let dir = try ScratchDirectory()
        let job = try MPIJob.run([(6, [MPIJob.executable("chronolog-job"), "--events", "30", "--stories", "1", "--quiet"])],
                                 timeout: 120, workingDirectory: dir.url)
        try #require(job.exitCode == 0, "\(job)")
        // The "story" attribute of rank 4's story group is lost, as damaged metadata would lose it.
        let python = """
            import h5py, sys
            with h5py.File(sys.argv[1], 'r+') as f:
                def visit(name, obj):
                    if isinstance(obj, h5py.Group) and obj.attrs.get('story') == 'rank4-story0':
                        del obj.attrs['story']
                        print('damaged', name)
                        return True
                f['chronicles'].visititems(visit)
            """
        let damage = try MPIJob.runCommand(["/usr/bin/python3", "-c", python, dir.path("chronolog-archive/chronolog-archive.h5")], timeout: 60)
        try #require(damage.exitCode == 0 && damage.stdout.contains("damaged"), "\(damage)")
        let chronolog = MPIJob.executable("chronolog")
        func run(_ args: [String]) throws -> JobResult { try MPIJob.runCommand([chronolog] + args, timeout: 60, workingDirectory: dir.url) }
        let ls = try run(["ls"])
        #expect(ls.exitCode == 1 && ls.stdout.contains("\"rank5-story0\"") && ls.stdout.contains("\"shared\"")
                && ls.stderr.contains("1 chronicle or story group unreadable and left out"), "\(ls)")
        let replay = try run(["replay", "chronolog-archive", "demo", "rank5-story0"])
        #expect(replay.exitCode == 0 && replay.stdout.split(separator: "\n").count == 30, "\(replay)")
        let lost = try run(["replay", "chronolog-archive", "demo", "rank4-story0"])
        #expect(lost.exitCode == 1 && lost.stderr.contains("among the readable ones"), "\(lost)")
        let verify = try run(["verify"])
        #expect(verify.exitCode == 1 && verify.stdout.contains("story group unreadable, left out"), "\(verify)")
        let export = try run(["export", "-o", dir.path("trace.json")])
        #expect(export.exitCode == 3 && export.stderr.contains("story group unreadable"), "\(export)")
    }
}
