import Foundation
import Testing
import TestSupport

/// ChronoLog's style of use: the service runs (`jobs/chronolog-service.sh`) and plain
/// `python3 script.py` runs attach to it, one after the other, unchanged (docs/ATTACH.md).
@Suite("Python scripts attached to a running service", .serialized)
struct PythonAttachTests {
    @Test("seed-style writer then reader as plain python3 scripts (run directory from CHRONOLOG_ATTACH_RUN_DIRECTORY, then the default of port 5555): every code as in-job, replayed = logged = the archive; threads connecting together all get 0")
    func writerThenReader() throws {
        let s = try PythonSetup.shared.get()
        let dir = try s.workDirectory()
        let run = "/tmp/chronolog-\(getuid())/service-5555"
        let env = s.debianEnvironment.merging(["CHRONOLOG_BIN": s.bin("chronolog-job")]) { $1 }
        let py = PythonSetup.debianPython
        let script = """
            set -u
            cd \(dir.path)
            \(PythonSetup.packageRoot.path)/jobs/chronolog-service.sh --time 40 --quiet > service.log 2>&1 &
            svc=$!
            for _ in $(seq 300); do grep -q "accepting attached clients" service.log 2>/dev/null && break; sleep 0.05; done
            echo "== writer"; CHRONOLOG_ATTACH_RUN_DIRECTORY=\(run) timeout 30 \(py) \(PythonSetup.script("seed_writer.py")) logged.jsonl; echo "rc=$?"
            echo "== reader"; timeout 30 \(py) \(PythonSetup.script("seed_reader.py")) logged.jsonl; echo "rc=$?"
            echo "== threads"; CHRONOLOG_ATTACH_RUN_DIRECTORY=\(run) timeout 30 \(py) \(PythonSetup.script("thread_connect.py")); echo "rc=$?"
            kill -TERM $svc; wait $svc; echo "service_exit=$?"
            cat service.log
            echo "== nothing"; timeout 10 \(py) -c 'import time, py_chronolog_client as p
            t = time.monotonic(); c = p.Client(p.ClientPortalServiceConf())
            print("connect", c.Connect(), "ms", round((time.monotonic() - t) * 1000))'; echo "rc=$?"
            echo "== archive"; \(py) \(PythonSetup.script("check_archive.py")) logged.jsonl chronolog-archive \(s.bin("chronolog"))
            """
        let r = try MPIJob.runScript(script, timeout: 120, environment: env)
        let writer = Self.section("writer", r.stdout), reader = Self.section("reader", r.stdout)
        #expect(writer.contains("WRITER rank=0 logged=4") && writer.contains("rc=0"), "\(r)")
        #expect(reader.contains("READER ok 4") && reader.contains("rc=0"), "\(r)")
        #expect(r.stdout.contains("events: logged=4 received=4 archived=4") && r.stdout.contains("service_exit=0"), "\(r)")
        // Threads making their first Connect together attach the process once; threads sharing a
        // client all get 0 from Connect and from Disconnect (the second of each finds it done).
        let threads = Self.section("threads", r.stdout)
        #expect(threads.contains("THREADS own=[0, 0, 0, 0] shared_connect=[0, 0, 0, 0, 0, 0, 0, 0] connected=True "
                                  + "shared_disconnect=[0, 0, 0, 0, 0, 0, 0, 0]") && threads.contains("rc=0"), "\(r)")
        let nothing = Self.section("nothing", r.stdout)
        #expect(nothing.contains("connect -8 ms"), "\(r)")
        let ms = Int(nothing.split(separator: " ").last(where: { Int($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(while: \.isNumber)) != nil })?
            .prefix(while: \.isNumber) ?? "") ?? 9999
        #expect(ms < 1000, "\(nothing)")
        #expect(Self.section("archive", r.stdout).contains("ARCHIVE ok 4"), "\(r)")
    }

    static func section(_ name: String, _ text: String) -> String {
        guard let start = text.range(of: "== \(name)\n") else { return "" }
        let rest = text[start.upperBound...]
        let end = rest.range(of: "\n== ")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }
}
