import Foundation
import Testing
import TestSupport

/// Swift applications depend on this package by version. SwiftPM refuses a dependency resolved by
/// version whose library products' targets carry `unsafeFlags` (tools 6.1: "the target … in
/// product … contains unsafe build flags", reported when the package graph loads).
@Suite("Swift packages depending on this one")
struct DependentPackageTests {
    /// This package's manifest and targets, as a git repository tagged 0.1.0 in `directory`.
    static func taggedCopy(in directory: URL) throws -> URL {
        let repo = directory.appendingPathComponent("ChronoLogSwift")
        let root = CProgram.packageRoot.path
        let script = """
            set -e; mkdir -p '\(repo.path)'; cp -R '\(root)/Package.swift' '\(root)/Sources' '\(root)/Tests' '\(repo.path)/'
            cd '\(repo.path)'; git init -q; git add -A
            git -c user.name=test -c user.email=test@localhost commit -qm copy; git tag 0.1.0
            """
        let r = try MPIJob.runCommand(["bash", "-c", script], timeout: 60)
        try #require(r.exitCode == 0, "\(r)")
        return repo
    }

    @Test("a package depending on this one by version (products ChronoModel, ChronoClient, ChronoLog) loads: no unsafe build flags")
    func dependentByVersion() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = try Self.taggedCopy(in: dir)
        let app = dir.appendingPathComponent("app")
        try FileManager.default.createDirectory(at: app.appendingPathComponent("Sources/app"), withIntermediateDirectories: true)
        let products = ["ChronoModel", "ChronoClient", "ChronoLog"]
            .map { #".product(name: "\#($0)", package: "ChronoLogSwift")"# }.joined(separator: ", ")
        try """
            // swift-tools-version:6.1
            import PackageDescription
            let package = Package(
                name: "app",
                dependencies: [.package(url: "\(repo.absoluteString)", from: "0.1.0")],
                targets: [.executableTarget(name: "app", dependencies: [\(products)])]
            )
            """.write(to: app.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        try "import ChronoModel\nprint(ReturnCode.success.rawValue)\n"
            .write(to: app.appendingPathComponent("Sources/app/main.swift"), atomically: true, encoding: .utf8)
        // Resolving and loading the graph is where SwiftPM refuses; building is this package's own build.
        let r = try MPIJob.runCommand(["swift", "package", "--package-path", app.path, "show-dependencies"], timeout: 300)
        #expect(r.exitCode == 0 && !r.stderr.contains("unsafe build flags"), "\(r)")
        #expect(r.stdout.contains("chronologswift<"), "\(r)")
    }
}
