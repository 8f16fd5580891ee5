import ChronoModel
import ChronoSystem
import Foundation
import Testing

/// The read-only file mappings a player lends replay payloads from, and the cache through which a
/// reader on the player's node copies them: only the file named (host boot, path and identity),
/// mapped again when it grew, refused for good when the path names another file.
@Suite("Mapped archive files")
struct MappedFileTests {
    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-mapped-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    private func write(_ bytes: [UInt8], to url: URL) throws {
        try Data(bytes).write(to: url)
    }

    private func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test("a mapping holds the file's bytes, knows where its parts lie, and refuses another file at the path")
    func mapping() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
        try write(pattern(10_000, seed: 1), to: a)
        try write(pattern(100, seed: 2), to: b)
        let file = try #require(MappedFile(path: a.path))
        #expect(file.byteCount == 10_000)
        let part = try #require(file.bytes(at: 4096, count: 100))
        #expect(Array(part) == Array(pattern(10_000, seed: 1)[4096..<4196]))
        #expect(file.offset(of: part) == 4096)
        #expect(file.bytes(at: 9_950, count: 51) == nil && file.bytes(at: 10_001, count: 0) == nil)
        let other = try #require(MappedFile(path: b.path))
        let outside = try #require(other.bytes(at: 0, count: 10))
        #expect(file.offset(of: outside) == nil)
        #expect(MappedFile(path: b.path, expected: file.identity) == nil)
        #expect(MappedFile(path: a.path, expected: file.identity) != nil)
        #expect(MappedFile(path: dir.appendingPathComponent("missing").path) == nil)
        try write([], to: b)
        #expect(MappedFile(path: b.path) == nil, "an empty file has nothing to map")
        #expect(HostBoot.id?.isEmpty == false, "this Linux host names its boot")
        // A path through a symbolic link and "..": the mapping names the file itself, absolutely
        // (a reader's working directory and links may differ from the player's).
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("link"), withDestinationURL: a)
        let roundabout = try #require(MappedFile(path: dir.path + "/sub/../link"))
        #expect(roundabout.path == dir.path + "/sub/../link" && roundabout.identity == file.identity)
        let resolved = try #require(realpath(a.path, nil))
        defer { free(resolved) }
        #expect(roundabout.absolutePath == String(cString: resolved))
    }

    @Test("the cache copies from the file named on this host, maps it again when it grew, refuses another host's or another file")
    func cache() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.h5")
        var bytes = pattern(8192, seed: 3)
        try write(bytes, to: a)
        let identity = try #require(MappedFile(path: a.path)).identity
        let boot = Array("this-boot".utf8)
        var cache = MappedFileCache(bootId: boot)

        let read = cache.bytes(bootId: boot, path: a.path, identity: identity, ranges: [(100, 50), (8000, 192)])
        let parts = try #require(read)
        #expect(parts.map { Array($0) } == [Array(bytes[100..<150]), Array(bytes[8000..<8192])])
        #expect(cache.mappedCount == 1)
        // Another host's file: never mapped, whatever the path and identity say.
        #expect(cache.bytes(bootId: Array("other-boot".utf8), path: a.path, identity: identity, ranges: [(0, 1)]) == nil)
        // A range past the file's end: refused, the file still served.
        #expect(cache.bytes(bootId: boot, path: a.path, identity: identity, ranges: [(8000, 193)]) == nil)
        #expect(cache.bytes(bootId: boot, path: a.path, identity: identity, ranges: [(UInt64.max - 1, 4)]) == nil)

        // The file grows (an archive round appended): mapped again to reach the new bytes.
        let more = pattern(5000, seed: 4)
        let handle = try FileHandle(forWritingTo: a)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(more))
        try handle.close()
        bytes += more
        let readGrown = cache.bytes(bootId: boot, path: a.path, identity: identity, ranges: [(9000, 4000)])
        let grown = try #require(readGrown)
        #expect(Array(grown[0]) == Array(bytes[9000..<13_000]))

        // Another file put at the path: the old identity is refused, and stays refused.
        let b = dir.appendingPathComponent("b.h5")
        try write(pattern(20_000, seed: 5), to: b)
        #expect(rename(b.path, a.path) == 0)
        var fresh = MappedFileCache(bootId: boot)
        #expect(fresh.bytes(bootId: boot, path: a.path, identity: identity, ranges: [(0, 10)]) == nil)
        #expect(fresh.mappedCount == 0)
        let newIdentity = try #require(MappedFile(path: a.path)).identity
        #expect(newIdentity != identity)
        #expect(fresh.bytes(bootId: boot, path: a.path, identity: newIdentity, ranges: [(0, 10)]).map { Array($0[0]) }
                == Array(pattern(20_000, seed: 5)[0..<10]))

        // A reader whose host's boot is unknown maps nothing.
        var unknown = MappedFileCache(bootId: nil)
        #expect(unknown.bytes(bootId: boot, path: a.path, identity: newIdentity, ranges: [(0, 10)]) == nil)
    }

    @Test("the cache keeps at most its bound of files mapped, the least recently used going first")
    func bounded() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let boot = Array("b".utf8)
        var cache = MappedFileCache(bootId: boot)
        var files: [(String, FileIdentity)] = []
        for k in 0...MappedFileCache.maxFiles {
            let url = dir.appendingPathComponent("f\(k)")
            try write(pattern(4096, seed: UInt8(k)), to: url)
            files.append((url.path, try #require(MappedFile(path: url.path)).identity))
        }
        for (path, identity) in files {
            #expect(cache.bytes(bootId: boot, path: path, identity: identity, ranges: [(0, 16)]) != nil)
        }
        #expect(cache.mappedCount == MappedFileCache.maxFiles)
        // The first one was dropped, not refused: it maps again.
        let readAgain = cache.bytes(bootId: boot, path: files[0].0, identity: files[0].1, ranges: [(0, 16)])
        let again = try #require(readAgain)
        #expect(Array(again[0]) == Array(pattern(4096, seed: 0)[0..<16]))
        #expect(cache.mappedCount == MappedFileCache.maxFiles)
    }
}
