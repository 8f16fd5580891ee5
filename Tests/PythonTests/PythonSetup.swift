import Foundation
import Testing
import TestSupport

/// The Python module as the tests use it: this build installed under a scratch prefix by
/// `scripts/install.sh` (which also installs `py_chronolog_client` for Debian's `/usr/bin/python3`
/// into `PREFIX/lib/python3/site-packages`), and the scripts of `python/tests/`.
final class PythonSetup: Sendable {
    /// The package's root directory.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Debian's Python, which has mpi4py, NumPy, h5py and pytest.
    static let debianPython = "/usr/bin/python3"

    /// The scratch directory holding the prefix; removed by nobody but the system's tmp cleaning
    /// (the suite's tests share it).
    let scratch: URL
    /// Where install.sh installed this build.
    let prefix: URL

    /// One installation per test process, made by the first test that asks.
    static let shared: Result<PythonSetup, any Error> = Result { try PythonSetup() }

    private init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-python-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        prefix = scratch.appendingPathComponent("prefix")
        let r = try MPIJob.runCommand(["bash", Self.packageRoot.appendingPathComponent("scripts/install.sh").path, "--prefix",
                                       prefix.path, "--from", MPIJob.binDirectory.path], timeout: 180)
        guard r.exitCode == 0, r.stdout.contains("installed py_chronolog_client") else { throw SetupError.install("\(r)") }
    }

    /// Why the installation failed.
    enum SetupError: Error { case install(String) }

    /// The installed `bin/` executable `name`.
    func bin(_ name: String) -> String { prefix.appendingPathComponent("bin/\(name)").path }

    /// The site-packages directory install.sh filled for Debian's python3.
    var debianSite: String { prefix.appendingPathComponent("lib/python3/site-packages").path }

    /// The environment for Debian's python3 with the installed module.
    var debianEnvironment: [String: String] { ["PYTHONPATH": debianSite, "PYTHONDONTWRITEBYTECODE": "1"] }

    /// A script of `python/tests/`.
    static func script(_ name: String) -> String {
        packageRoot.appendingPathComponent("python/tests/\(name)").path
    }

    /// A fresh working directory for one job (its archive lands there).
    func workDirectory() throws -> URL {
        let dir = scratch.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `mpirun -n 4 chronolog-job --workload none : -n ranks argv...` in `dir`, lines tagged with
    /// their rank (`[job,rank]<stdout>:`).
    func runMPMD(ranks: Int, _ argv: [String], in dir: URL, environment: [String: String], timeout: Int = 90) throws -> JobResult {
        try MPIJob.run([(4, [bin("chronolog-job"), "--workload", "none"]), (ranks, argv)], timeout: timeout,
                       environment: environment, extraFlags: ["--tag-output"], workingDirectory: dir)
    }
}

extension JobResult {
    /// Standard output lines of the application ranks (world ranks from 4 on, after the 4 service
    /// ranks). mpirun's `--tag-output` tags each piece it reads (`[job,rank]<stdout>:`), and a
    /// line may come in several pieces: each rank's text is put back together from the pieces
    /// that follow its tags, then split into lines.
    func applicationLines() -> [String] {
        let tags = stdout.matches(of: #/\[\d+,(\d+)\]<stdout>:/#)
        var byRank: [Int: String] = [:]
        for (k, tag) in tags.enumerated() {
            guard let rank = Int(tag.output.1), rank >= 4 else { continue }
            let end = k + 1 < tags.count ? tags[k + 1].range.lowerBound : stdout.endIndex
            byRank[rank, default: ""] += stdout[tag.range.upperBound..<end]
        }
        return byRank.keys.sorted().flatMap { byRank[$0]!.split(separator: "\n").map(String.init) }
    }
}
