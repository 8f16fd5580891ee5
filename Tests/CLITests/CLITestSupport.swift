import ChronoArchive
import ChronoModel
import Foundation
import Testing
import TestSupport

/// A temporary directory removed when the value goes away.
final class ScratchDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// One expected event: what `archive-checks expected` prints, record bytes in hex.
struct ExpectedEvent: Hashable, CustomStringConvertible {
    var time: UInt64
    var clientId: UInt64
    var index: UInt32
    var hex: String
    var description: String { "\(time)/\(clientId)/\(index): \(hex.count / 2) B" }
}

/// A known archive: written by `archive-checks write` under mpirun (1 rank, 3 rounds), with the
/// events `archive-checks expected` says it holds, per "chronicle/story".
struct KnownArchive {
    static let chronicle = "Chronik Ü-🚀"
    static let shared = "geteilt 日本"
    static let otherChronicle = "..dots and spaces.."
    static let big = "groß"

    let directory: ScratchDirectory
    /// The archive directory (holds `chronolog-archive.h5`).
    var path: String { directory.path("archive") }
    var file: String { directory.path("archive/chronolog-archive.h5") }
    let expected: [String: [ExpectedEvent]]

    init() throws {
        directory = try ScratchDirectory()
        let checks = MPIJob.executable("archive-checks")
        let write = try MPIJob.run(ranks: 1, [checks, "write", "--dir", directory.path("archive"), "--rounds", "3"], timeout: 120)
        try #require(write.exitCode == 0, "\(write)")
        let listed = try MPIJob.runCommand([checks, "expected", "--ranks", "1", "--rounds", "3"], timeout: 60)
        try #require(listed.exitCode == 0, "\(listed)")
        var expected: [String: [ExpectedEvent]] = [:]
        for line in listed.stdout.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            try #require(f.count == 6, "expected line \(line)")
            expected["\(f[0])/\(f[1])", default: []].append(
                ExpectedEvent(time: UInt64(f[2])!, clientId: UInt64(f[3])!, index: UInt32(f[4])!, hex: f[5]))
        }
        self.expected = expected
    }

    /// A copy of the archive file in a fresh directory (to damage).
    func copy() throws -> (ScratchDirectory, String) {
        let dir = try ScratchDirectory()
        let target = dir.path("copy.h5")
        try FileManager.default.copyItem(atPath: file, toPath: target)
        return (dir, target)
    }
}

/// Runs `chronolog args...`.
func chronolog(_ args: [String], timeout: Int = 120) throws -> JobResult {
    try MPIJob.runCommand([MPIJob.executable("chronolog")] + args, timeout: timeout)
}

/// Lowercase hex of `bytes`.
func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Flips the first byte of the first occurrence of `pattern` in the file at `path`.
func flipFirst(_ pattern: [UInt8], in path: String) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let n = pattern.count
    let at = try #require((0...(bytes.count - n)).first { i in bytes[i] == pattern[0] && Array(bytes[i..<(i + n)]) == pattern },
                          "pattern not found in \(path)")
    bytes[at] ^= 0xFF
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Debian's Python, which has h5py and numpy (pyenv's `python3` may not).
let systemPython = "/usr/bin/python3"
