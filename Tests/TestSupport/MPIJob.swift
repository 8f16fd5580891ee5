import Foundation
import Synchronization

/// What one `mpirun` launch produced.
public struct JobResult: Sendable, CustomStringConvertible {
    /// The exit status of mpirun (124 or 137 when the timeout ended it).
    public let exitCode: Int32
    /// Everything the ranks printed to standard output.
    public let stdout: String
    /// Everything the ranks and mpirun printed to standard error.
    public let stderr: String
    /// Each rank's standard output on its own, in rank order (`mpirun --output-filename`), when
    /// the launch kept it: mpirun interleaves the ranks' output in `stdout`, and a rank's line
    /// written in two pieces can be split by another rank's.
    public var rankStdout: [String]? = nil
    /// Whether the time limit ended the job.
    public var timedOut: Bool { exitCode == 124 || exitCode == 137 }

    public var description: String {
        "exit \(exitCode)\(timedOut ? " (timed out)" : "")\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)"
    }

    /// The ranks' standard output with each rank's lines whole: the per-rank outputs joined in
    /// rank order when the launch kept them, else `stdout`.
    public var wholeLines: [String] {
        guard let ranks = rankStdout else { return stdout.split(separator: "\n").map(String.init) }
        return ranks.flatMap { $0.split(separator: "\n").map(String.init) }
    }

    /// Lines of standard output that start with `prefix` (each rank's lines kept whole).
    public func lines(startingWith prefix: String) -> [String] {
        wholeLines.filter { $0.hasPrefix(prefix) }
    }

    /// The `key=value` counters of the job summary's line for `role` (`  keeper (2 ranks): ...`).
    public func counters(role: String) -> [String: UInt64] {
        guard let line = wholeLines.first(where: { $0.hasPrefix("  \(role) (") }) else { return [:] }
        var out: [String: UInt64] = [:]
        for field in line.split(separator: " ") {
            let kv = field.split(separator: "=", maxSplits: 1)
            if kv.count == 2, let v = UInt64(kv[1]) { out[String(kv[0])] = v }
        }
        return out
    }
}

/// Launches small MPI programs under `mpirun` for the tests, one at a time, each bounded by
/// `timeout` so a hang fails the test instead of stalling CI.
public enum MPIJob {
    private static let launchLock = Mutex(())

    /// mpirun's flags on these machines: allowed as root, oversubscribed 2-core boxes, no binding.
    public static let mpirunFlags = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]

    /// The directory holding the built executables (`wrapper-checks`, `chronolog-job`, ...).
    ///
    /// `CHRONOLOG_X_BIN_DIR` wins; otherwise the directory of the running test bundle, which SwiftPM
    /// places next to the products of the same build.
    public static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["CHRONOLOG_X_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        var candidates: [URL] = []
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        if let arg0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: arg0).deletingLastPathComponent())
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        for c in candidates where FileManager.default.isExecutableFile(atPath: c.appendingPathComponent("wrapper-checks").path) {
            return c
        }
        return candidates[0]
    }

    /// The path of a built executable.
    public static func executable(_ name: String) -> String {
        binDirectory.appendingPathComponent(name).path
    }

    /// Runs `mpirun -n ranks program args...` (or an MPMD launch when `apps` has several entries).
    /// - Parameters:
    ///   - apps: one `(ranks, argv)` per application; argv[0] is the executable's path.
    ///   - timeout: seconds before the whole job is killed.
    ///   - environment: extra environment variables for every rank.
    ///   - extraFlags: extra mpirun flags.
    public static func run(
        _ apps: [(ranks: Int, argv: [String])], timeout: Int = 120,
        environment: [String: String] = [:], extraFlags: [String] = [],
        workingDirectory: URL? = nil
    ) throws -> JobResult {
        // Each rank's output also goes to a file of its own, so that tests can read its lines whole.
        let perRank = try scratchDirectory("chronolog-ranks")
        defer { try? FileManager.default.removeItem(at: perRank) }
        var args = ["-k", "5", String(timeout), "mpirun"] + mpirunFlags + ["--output-filename", perRank.path] + extraFlags
        for (i, app) in apps.enumerated() {
            if i > 0 { args.append(":") }
            args += ["-n", String(app.ranks)] + app.argv
        }
        var result = try launchLock.withLock { _ in
            let leftovers = SharedMemoryLeftovers()
            defer { leftovers.removeNew() }
            return try runProcess("/usr/bin/timeout", args, environment: environment, workingDirectory: workingDirectory)
        }
        result.rankStdout = rankOutputs(perRank)
        return result
    }

    /// The `stdout` files mpirun's `--output-filename DIR` wrote (`DIR/<job>/rank.<N>/stdout`),
    /// in job then rank order; nil when there are none.
    private static func rankOutputs(_ dir: URL) -> [String]? {
        let fm = FileManager.default
        var found: [(job: Int, rank: Int, text: String)] = []
        for job in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] {
            let jobDir = dir.appendingPathComponent(job)
            for entry in (try? fm.contentsOfDirectory(atPath: jobDir.path)) ?? [] where entry.hasPrefix("rank.") {
                let file = jobDir.appendingPathComponent(entry).appendingPathComponent("stdout")
                guard let rank = Int(entry.dropFirst("rank.".count)), let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
                found.append((Int(job) ?? 0, rank, text))
            }
        }
        guard !found.isEmpty else { return nil }
        return found.sorted { ($0.job, $0.rank) < ($1.job, $1.rank) }.map(\.text)
    }

    /// Runs `mpirun -n ranks program args...`.
    public static func run(ranks: Int, _ argv: [String], timeout: Int = 120, environment: [String: String] = [:]) throws -> JobResult {
        try run([(ranks, argv)], timeout: timeout, environment: environment)
    }

    /// Runs a bash script that launches mpirun itself (e.g. to signal the job while it runs),
    /// one launch at a time like `run`, bounded by `timeout` seconds. `$MPIRUN` in the script
    /// expands to mpirun with this machine's flags.
    public static func runScript(_ script: String, timeout: Int = 120, environment: [String: String] = [:]) throws -> JobResult {
        var env = environment
        env["MPIRUN"] = (["mpirun"] + mpirunFlags).joined(separator: " ")
        return try launchLock.withLock { _ in
            let leftovers = SharedMemoryLeftovers()
            defer { leftovers.removeNew() }
            return try runProcess("/usr/bin/timeout", ["-k", "5", String(timeout), "bash", "-c", script], environment: env,
                                  workingDirectory: nil)
        }
    }

    /// Runs any command (no mpirun) with its output captured, bounded by `timeout` seconds.
    public static func runCommand(_ argv: [String], timeout: Int = 60, environment: [String: String] = [:],
                                  workingDirectory: URL? = nil) throws -> JobResult {
        try runProcess("/usr/bin/timeout", ["-k", "5", String(timeout)] + argv, environment: environment,
                       workingDirectory: workingDirectory)
    }

    private static func runProcess(_ path: String, _ args: [String], environment: [String: String],
                                   workingDirectory: URL?) throws -> JobResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let p = Process()
        // The test runner spawns children with most signals blocked; a blocked SIGTERM would keep
        // `timeout` from stopping mpirun and mpirun from forwarding it. Clear the mask, then exec.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                       path] + args
        var env = ProcessInfo.processInfo.environment
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        // Jobs write their archive into the working directory: by default a scratch directory
        // removed afterwards, never the package checkout.
        p.currentDirectoryURL = workingDirectory ?? dir
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        let so = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let se = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return JobResult(exitCode: p.terminationStatus, stdout: so, stderr: se)
    }
}

/// A fresh, empty scratch directory under the system's temporary directory (the caller removes it).
public func scratchDirectory(_ prefix: String = "chronolog-test") throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
