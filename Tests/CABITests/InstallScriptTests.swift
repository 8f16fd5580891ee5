import Foundation
import Testing
import TestSupport

/// `scripts/install.sh` without `--from`: it builds the release products itself. The release build
/// is stood in for by a `swift` first on PATH that records its arguments and points
/// `--show-bin-path` at this test run's build directory (a real release build takes many minutes).
@Suite("install.sh builds what it installs")
struct InstallScriptTests {
    /// Writes a stand-in `swift` into `directory/bin` that logs its arguments to `directory/swift.log`
    /// and exits with `status`. - Returns: the PATH to run install.sh with.
    func standInSwift(in directory: URL, status: Int) throws -> String {
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let script = """
            #!/usr/bin/env bash
            echo "$*" >> '\(directory.appendingPathComponent("swift.log").path)'
            [[ " $* " == *" --show-bin-path "* ]] && echo '\(MPIJob.binDirectory.path)'
            exit \(status)
            """
        let path = bin.appendingPathComponent("swift")
        try script.write(to: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path.path)
        return bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    }

    func install(prefix: URL, path: String) throws -> JobResult {
        try MPIJob.runCommand(["bash", CProgram.packageRoot.appendingPathComponent("scripts/install.sh").path, "--prefix", prefix.path],
                              timeout: 120, environment: ["PATH": path])
    }

    @Test("without --from: swift build -c release of each product, then everything installed from the release bin path")
    func buildsReleaseProducts() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("prefix")
        let r = try install(prefix: prefix, path: try standInSwift(in: dir, status: 0))
        #expect(r.exitCode == 0, "\(r)")
        let calls = try String(contentsOf: dir.appendingPathComponent("swift.log"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(calls == ["ChronoLog", "chronolog-job", "chronolog", "chronolog-bench"].map { "build -c release --product \($0)" }
                + ["build -c release --show-bin-path"], "\(calls)")
        for file in ["bin/chronolog-job", "bin/chronolog", "lib/libchronolog.so", "include/chronolog.h",
                     "lib/pkgconfig/chronolog.pc", "include/chronolog.mod", "lib/libchronolog_fortran.so",
                     "lib/pkgconfig/chronolog-fortran.pc"] {
            #expect(FileManager.default.fileExists(atPath: prefix.appendingPathComponent(file).path), "\(file) not installed")
        }
        let pc = try String(contentsOf: prefix.appendingPathComponent("lib/pkgconfig/chronolog.pc"), encoding: .utf8)
        #expect(pc.contains("prefix=\(prefix.path)\n") && pc.contains("-Wl,-rpath,${libdir}"), "\(pc)")
    }

    @Test("a failing build stops install.sh before anything is installed")
    func failedBuildInstallsNothing() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("prefix")
        let r = try install(prefix: prefix, path: try standInSwift(in: dir, status: 1))
        #expect(r.exitCode != 0, "\(r)")
        #expect(!FileManager.default.fileExists(atPath: prefix.path), "\(r)")
    }
}
