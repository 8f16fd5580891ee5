import Foundation
import Testing
import TestSupport

/// Compiles C (or C++) programs with the MPI compiler wrappers against the library built in this
/// package's build directory (`libChronoLog.so` and `chronolog.h`), for the tests to run under mpirun.
enum CProgram {
    /// The package's root directory.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The directory holding chronolog.h.
    static let includeDirectory = packageRoot.appendingPathComponent("Sources/CChronoLog/include").path

    /// Builds `source` (relative to the package root) into `directory` with `compiler` (`mpicc`,
    /// `mpicxx`), linked to libChronoLog.so with an rpath to the build directory.
    /// - Returns: the executable's path.
    static func build(_ source: String, into directory: URL, compiler: String = "mpicc",
                      flags: [String] = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread"]) throws -> String {
        let lib = MPIJob.binDirectory.path
        let output = directory.appendingPathComponent(URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent).path
        let r = try MPIJob.runCommand(
            [compiler] + flags + ["-I", includeDirectory, packageRoot.appendingPathComponent(source).path, "-o", output,
                                  "-L", lib, "-lChronoLog", "-Wl,-rpath,\(lib)"], timeout: 120)
        try #require(r.exitCode == 0, "\(compiler) \(source): \(r)")
        return output
    }

    /// Installs this build under `prefix` with `scripts/install.sh --prefix PREFIX --from BIN_DIR`.
    static func install(into prefix: URL) throws {
        let r = try MPIJob.runCommand(["bash", packageRoot.appendingPathComponent("scripts/install.sh").path, "--prefix", prefix.path,
                                       "--from", MPIJob.binDirectory.path], timeout: 120)
        try #require(r.exitCode == 0, "install.sh: \(r)")
    }

    /// Builds `source` the way the README tells a user to, against an installed prefix:
    /// `compiler source -o output $(pkg-config --cflags --libs chronolog)` (`chronolog-fortran`
    /// for `mpifort`), with nothing else but warnings as errors, in `directory` (where mpifort
    /// leaves the program's own .mod files). - Returns: the executable's path.
    static func buildInstalled(_ source: String, prefix: URL, into directory: URL, compiler: String,
                               warnings: [String]) throws -> String {
        let suffix = ["mpicxx": "_cpp", "mpifort": "_f"][compiler] ?? ""
        let package = compiler == "mpifort" ? "chronolog-fortran" : "chronolog"
        let output = directory.appendingPathComponent(URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
            + suffix).path
        let script = "cd \(directory.path) && \(compiler) \(warnings.joined(separator: " ")) "
            + "\(packageRoot.appendingPathComponent(source).path) -o \(output) $(pkg-config --cflags --libs \(package))"
        let r = try MPIJob.runCommand(["bash", "-c", script], timeout: 120,
                                      environment: ["PKG_CONFIG_PATH": prefix.appendingPathComponent("lib/pkgconfig").path])
        try #require(r.exitCode == 0, "\(script): \(r)")
        return output
    }

    /// A fresh scratch directory.
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-cabi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
