import Foundation

/// Files a job's ranks leave in /dev/shm when they are killed (by a test, or by mpirun after
/// another rank exited with an error): libfabric shm segments named `<pid>:<uid>:<n>` and Open
/// MPI `vader_segment.*` files. Tests take a snapshot before such a job and remove afterwards
/// only what appeared since and nobody uses any more (a dead pid, or a segment no live process
/// maps), so other jobs running on the machine keep theirs. Every `MPIJob` launch does this itself
/// (a job that fails has mpirun kill its other ranks).
public struct SharedMemoryLeftovers {
    static let directory = "/dev/shm"
    private let before: Set<String>

    /// Takes the snapshot.
    public init() {
        before = Set((try? FileManager.default.contentsOfDirectory(atPath: Self.directory)) ?? [])
    }

    /// Removes what appeared since the snapshot and is no longer in use. - Returns: the names removed.
    @discardableResult
    public func removeNew() -> [String] {
        var fresh = freshNames()
        guard !fresh.isEmpty else { return [] }
        // Ranks mpirun kills after another rank failed may still be exiting when mpirun returns:
        // wait (at most 2 s) until the processes these names belong to are gone.
        for _ in 0..<40 where fresh.contains(where: { Self.ownerIsAlive($0) }) {
            usleep(50_000)
            fresh = freshNames()
        }
        let mapped = Self.mappedNames()
        var removed: [String] = []
        for name in fresh {
            let stale: Bool
            if name.contains(":"), name.split(separator: ":").first.flatMap({ Int32($0) }) != nil {
                stale = !Self.ownerIsAlive(name)
            } else if name.hasPrefix("vader_segment.") {
                stale = !mapped.contains(name)
            } else {
                stale = false
            }
            if stale, (try? FileManager.default.removeItem(atPath: "\(Self.directory)/\(name)")) != nil { removed.append(name) }
        }
        return removed
    }

    /// Whether anything appeared since the snapshot (in use or not).
    public var hasNew: Bool { !freshNames().isEmpty }

    private func freshNames() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: Self.directory)) ?? []).filter { !before.contains($0) }
    }

    /// Whether `name` is a libfabric segment (`<pid>:…`) whose process still runs.
    private static func ownerIsAlive(_ name: String) -> Bool {
        guard name.contains(":"), let pid = name.split(separator: ":").first.flatMap({ Int32($0) }) else { return false }
        return kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Names in /dev/shm that some live process maps.
    private static func mappedNames() -> Set<String> {
        var names: Set<String> = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
            guard let maps = try? String(contentsOfFile: "/proc/\(entry)/maps", encoding: .utf8) else { continue }
            for line in maps.split(separator: "\n") {
                guard let r = line.range(of: "\(directory)/") else { continue }
                names.insert(String(line[r.upperBound...]).replacingOccurrences(of: " (deleted)", with: ""))
            }
        }
        return names
    }
}
