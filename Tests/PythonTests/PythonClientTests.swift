import Foundation
import Testing
import TestSupport

/// `py_chronolog_client` (python/) as installed by `scripts/install.sh` for Debian's python3 and by
/// `pip install` into a fresh venv, run MPMD beside `chronolog-job`: seed 002's calls and codes,
/// an mpi4py application with threads, several clients per process, array replay and offline
/// archive reading checked against `ReplayStory` and `chronolog replay`.
@Suite("Python client", .serialized)
struct PythonClientTests {
    private func setup() throws -> PythonSetup { try PythonSetup.shared.get() }

    /// Runs the seed-style writer on 2 ranks, then the reader in a second job over the same archive,
    /// then compares the archive with what was logged. `python` runs the scripts.
    private func writeThenRead(_ s: PythonSetup, python: String, environment: [String: String]) throws {
        let dir = try s.workDirectory()
        let w = try s.runMPMD(ranks: 2, [python, PythonSetup.script("seed_writer.py"), "logged.jsonl"], in: dir,
                              environment: environment)
        #expect(w.exitCode == 0, "\(w)")
        // The module prints nothing: the application ranks print only the script's own lines.
        #expect(w.applicationLines().sorted() == ["WRITER rank=4 logged=4", "WRITER rank=5 logged=4"], "\(w)")
        #expect(w.stdout.contains("lost=0") && w.stdout.contains("exit status: 0"), "\(w)")
        let r = try s.runMPMD(ranks: 1, [python, PythonSetup.script("seed_reader.py"), "logged.jsonl"], in: dir,
                              environment: environment)
        #expect(r.exitCode == 0, "\(r)")
        let lines = r.applicationLines()
        #expect(lines.last == "READER ok 8" && lines.filter { $0.hasPrefix("EVENT py_chronicle story-") }.count == 8, "\(r)")
        let c = try MPIJob.runCommand([PythonSetup.debianPython, PythonSetup.script("check_archive.py"), "logged.jsonl",
                                       "chronolog-archive", s.bin("chronolog")], timeout: 60,
                                      environment: s.debianEnvironment, workingDirectory: dir)
        #expect(c.exitCode == 0 && c.stdout.contains("ARCHIVE ok 8"), "\(c)")
    }

    @Test("seed-style writer (2 ranks) and reader (a second job): every code as documented, replayed = logged = chronolog replay = read_archive")
    func writerAndReader() throws {
        let s = try setup()
        try writeThenRead(s, python: PythonSetup.debianPython, environment: s.debianEnvironment)
    }

    @Test("a damaged archive row: ReplayStory and replay_array return -18 (CL_ERR_PARTIAL_RESULT) with what could be read")
    func partialReplay() throws {
        let s = try setup()
        let dir = try s.workDirectory()
        let w = try s.runMPMD(ranks: 2, [PythonSetup.debianPython, PythonSetup.script("seed_writer.py"), "logged.jsonl"], in: dir,
                              environment: s.debianEnvironment)
        #expect(w.exitCode == 0 && w.stdout.contains("lost=0"), "\(w)")
        try ArchiveSurgery.flipIndexByte(file: dir.appendingPathComponent("chronolog-archive/chronolog-archive.h5").path,
                                         chronicle: "py_chronicle", story: "story-4", row: 0, column: 4)
        let r = try s.runMPMD(ranks: 1, [PythonSetup.debianPython, PythonSetup.script("partial_reader.py")], in: dir,
                              environment: s.debianEnvironment)
        #expect(r.exitCode == 0 && r.applicationLines() == ["PARTIAL ok"], "\(r)")
    }

    @Test("a writer's tail the catalog records but the archive lacks: ReplayStory and replay_array return -18 with the archived events")
    func tailMissingReplay() throws {
        let s = try setup()
        let dir = try s.workDirectory()
        let w = try s.runMPMD(ranks: 2, [PythonSetup.debianPython, PythonSetup.script("seed_writer.py"), "logged.jsonl"], in: dir,
                              environment: s.debianEnvironment)
        #expect(w.exitCode == 0 && w.stdout.contains("lost=0"), "\(w)")
        // What a keeper killed before archiving 2 events leaves: the catalog records 6 of story-4's writer.
        let url = dir.appendingPathComponent("chronolog-archive/chronolog-catalog.json")
        var doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var chronicles = try #require(doc["chronicles"] as? [String: Any])
        var chronicle = try #require(chronicles["py_chronicle"] as? [String: Any])
        var stories = try #require(chronicle["stories"] as? [String: Any])
        var story = try #require(stories["story-4"] as? [String: Any])
        var writers = try #require(story["writers"] as? [[String: Any]])
        #expect(writers.count == 1 && (writers[0]["count"] as? Int) == 4, "\(writers)")
        writers[0]["count"] = 6
        story["writers"] = writers; stories["story-4"] = story; chronicle["stories"] = stories
        chronicles["py_chronicle"] = chronicle; doc["chronicles"] = chronicles
        try JSONSerialization.data(withJSONObject: doc).write(to: url)
        let r = try s.runMPMD(ranks: 1, [PythonSetup.debianPython, PythonSetup.script("partial_reader.py"), "tail"], in: dir,
                              environment: s.debianEnvironment)
        #expect(r.exitCode == 0 && r.applicationLines() == ["PARTIAL ok"], "\(r)")
    }

    @Test("every call's return codes, types and several clients in one process (pytest on one rank)")
    func codes() throws {
        let s = try setup()
        let r = try s.runMPMD(ranks: 1, [PythonSetup.debianPython, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                         PythonSetup.script("test_codes.py")], in: try s.workDirectory(),
                              environment: s.debianEnvironment)
        #expect(r.exitCode == 0 && r.stdout.contains("18 passed"), "\(r)")
    }

    @Test("an mpi4py application: own communicator, 2 ranks x 2 threads logging, concurrent replays, replay_array; the archive agrees")
    func mpi4pyApplication() throws {
        let s = try setup()
        let dir = try s.workDirectory()
        var env = s.debianEnvironment
        env["PY_CHRONOLOG_TEST_DUMP"] = dir.appendingPathComponent("replayed.jsonl").path
        let r = try s.runMPMD(ranks: 2, [PythonSetup.debianPython, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                         PythonSetup.script("test_mpi_app.py")], in: dir, environment: env)
        #expect(r.exitCode == 0 && r.stdout.components(separatedBy: "2 passed").count == 3, "\(r)")
        #expect(r.stdout.contains("lost=0"), "\(r)")
        let c = try MPIJob.runCommand([PythonSetup.debianPython, PythonSetup.script("check_archive.py"), "replayed.jsonl",
                                       "chronolog-archive", s.bin("chronolog")], timeout: 60,
                                      environment: s.debianEnvironment, workingDirectory: dir)
        #expect(c.exitCode == 0 && c.stdout.contains("ARCHIVE ok 1600"), "\(c)")
    }

    @Test("embedded: an mpi4py application run alone makes the service of 4 of its 6 ranks with init(); its 2 clients log and replay, leave with finalize(), and all 6 ranks meet in a world barrier")
    func embedded() throws {
        let s = try setup()
        let r = try MPIJob.run([(6, [PythonSetup.debianPython, PythonSetup.script("embedded_app.py")])], timeout: 90,
                               environment: s.debianEnvironment, workingDirectory: try s.workDirectory())
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "EMBEDDED ok ").sorted() == ["EMBEDDED ok rank=0 size=2 events=50",
                                                                   "EMBEDDED ok rank=1 size=2 events=50"], "\(r)")
        #expect(r.stdout.contains("lost=0") && r.stdout.contains("exit status: 0"), "\(r)")
        // finalize() on the clients lets every rank meet in a barrier of MPI.COMM_WORLD at the end.
        #expect(r.lines(startingWith: "WORLD barrier rank=").count == 6, "\(r)")
    }

    @Test("SIGTERM to every rank of an MPMD job whose Python ranks log: they leave as at exit (finally blocks run), the job drains, exit 0, nothing lost")
    func sigtermDrainsPythonRanks() throws {
        let s = try setup()
        let dir = try s.workDirectory()
        let r = try MPIJob.runScript("""
            cd \(dir.path)
            $MPIRUN -n 4 \(s.bin("chronolog-job")) --workload none --quiet : -n 2 \(PythonSetup.debianPython) \
                \(PythonSetup.script("sigterm_writer.py")) > out.txt 2>&1 &
            pid=$!
            for _ in $(seq 600); do [ "$(grep -c LOGGING out.txt)" -ge 2 ] && break; sleep 0.05; done
            sleep 0.5
            pkill -TERM -P $pid
            wait $pid
            echo "mpirun exit $?"
            cat out.txt
            """, timeout: 120, environment: s.debianEnvironment)
        // Counted in the text: mpirun merges the ranks' output, and two ranks leaving at once can
        // share a line ("…events=809609LOGGED rank=5 …").
        #expect(r.stdout.components(separatedBy: "LOGGED rank=").count - 1 == 2, "\(r)")
        let events = r.stdout.split(separator: "\n").first { $0.hasPrefix("  events: ") }.map(String.init) ?? ""
        let logged = events.firstMatch(of: /logged=(\d+)/)?.1, archived = events.firstMatch(of: /archived=(\d+)/)?.1
        #expect(logged != nil && logged != "0" && logged == archived && events.contains("lost=0"), "\(r)")
        #expect(r.stdout.contains("mpirun exit 0") && r.stdout.contains("exit status: 0"), "\(r)")
    }

    @Test("read_archive's merge: overlapping pieces in event order, each event once, the smaller bytes of differing copies (no MPI)")
    func archiveMerge() throws {
        let s = try setup()
        let r = try MPIJob.runCommand([PythonSetup.debianPython, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                       PythonSetup.script("test_arrays.py")], timeout: 60, environment: s.debianEnvironment)
        #expect(r.exitCode == 0 && r.stdout.contains("4 passed"), "\(r)")
    }

    @Test("without mpirun and without a service: importing touches no MPI, Connect() returns -8 at once, nothing is printed")
    func noService() throws {
        let s = try setup()
        let script = """
            import time, py_chronolog_client as p
            t = time.monotonic()
            c = p.Client(p.ClientPortalServiceConf(), p.ClientQueryServiceConf())
            codes = (c.Connect(), c.CreateChronicle('c', {}, 0), c.AcquireStory('c', 's', {}, 0), c.ReplayStory('c', 's', 0, 1, p.EventList()))
            assert codes == (-8, -8, (-8, None), -8), codes
            assert not p.joined() and p.app_comm() is None and time.monotonic() - t < 1.0
            import mpi4py
            mpi4py.rc.initialize = mpi4py.rc.finalize = False
            from mpi4py import MPI
            assert not MPI.Is_initialized()
            """
        let r = try MPIJob.runCommand([PythonSetup.debianPython, "-c", script], timeout: 20, environment: s.debianEnvironment)
        #expect(r.exitCode == 0 && r.stdout.isEmpty, "\(r)")
    }

    @Test("pip install into a fresh venv of the python3 on PATH (no mpi4py, no NumPy): the writer and reader still run MPMD")
    func venvInstall() throws {
        let s = try setup()
        let venv = s.scratch.appendingPathComponent("venv-\(UUID().uuidString)").path
        let src = s.scratch.appendingPathComponent("src-\(UUID().uuidString)").path
        // Offline: the venv's own setuptools, plus Debian's wheel .whl (bdist_wheel), no build isolation.
        let install = """
            set -e
            cp -r "\(PythonSetup.packageRoot.path)/python" "\(src)" && rm -rf "\(src)/build" "\(src)"/py_chronolog_client/*.so
            python3 -m venv "\(venv)"
            "\(venv)/bin/pip" install -q --no-index /usr/share/python-wheels/wheel-*.whl
            PKG_CONFIG_PATH="\(s.prefix.path)/lib/pkgconfig" "\(venv)/bin/pip" install -q --no-index --no-build-isolation "\(src)"
            "\(venv)/bin/python" -c 'import importlib.util as u, sys; sys.exit(bool(u.find_spec("numpy") or u.find_spec("mpi4py")))'
            """
        let r = try MPIJob.runCommand(["bash", "-c", install], timeout: 120, environment: ["PIP_DISABLE_PIP_VERSION_CHECK": "1"])
        #expect(r.exitCode == 0, "\(r)")
        try writeThenRead(s, python: "\(venv)/bin/python", environment: [:])
    }
}
