import ChronoDeployment
import ArgumentParser
import ChronoArchive
import ChronoClient
import ChronoModel
import Foundation
import HDF5
import Histogram

#if canImport(Glibc)
import Glibc
#endif

/// Replay under mpirun: one client logs a large story (default 1 GiB), releases it, waits until
/// it is archived, then reads it cold (the archive file's pages dropped from the page cache with
/// `posix_fadvise(DONTNEED)`) with a plain serial HDF5 read of the story's datasets and through
/// the player; then `--warm-rounds` times warm, plain read and replay in turn, and reports the
/// medians and their ratio. Then measures how long a just-logged event takes to become visible to
/// a replay (log → seen, no flush).
struct ReplayBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay MiB/s and events/s of a large story (cold, warm) next to a plain HDF5 read; log-to-visible latency.",
        discussion: """
            Run under mpirun with one client rank, e.g. `mpirun -n 5 chronolog-bench replay` (visor, \
            keeper, grapher, player + 1 client). Targets (issue 6): replay ≥ 50 % of the plain HDF5 \
            read; a just-logged event visible to a reader within 50 ms at p99.
            """)

    @Option(help: "Size of the story to log and replay, in MiB of record bytes.")
    var mib = 1024

    @Option(help: "Bytes per event record.")
    var size = 4096

    @Option(help: "Log-to-visible samples.")
    var samples = 200

    @Option(help: "Seconds to wait after release for the story to be archived.")
    var settleSeconds = 5.0

    @Option(help: "Warm rounds: each reads the story plainly, then replays it; medians and their ratio are reported.")
    var warmRounds = 3

    @OptionGroup var configuration: ConfigurationOptions

    func validate() throws {
        guard mib > 0, size > 0, samples > 0, warmRounds > 0, settleSeconds >= 0 else {
            throw ValidationError("--mib, --size, --samples and --warm-rounds must be positive")
        }
    }

    func run() throws {
        let config = try configuration.load()
        let bytes = mib << 20, size = self.size, samples = self.samples, settle = self.settleSeconds
        let status = ChronoJob(config: config, minimumClients: 1).run { session, _ in
            guard let peers = session.peers, peers.rank == 0 else { return [:] }
            let client = ChronoLogClient(session: session, mode: .writerReader)
            try client.connect()
            try client.prepareReplay()  // not inside the first timed replay
            // A chronicle of this run's own: earlier runs over the same archive left theirs.
            let chronicle = "replay-\(PeerAgreement.stamp())"
            try client.createChronicle(chronicle)
            let count = max(1, bytes / size)
            print("replay: logging \(count) events of \(size) B (\(bytes >> 20) MiB) to \(chronicle)/big")
            let big = try client.acquireStory(chronicle, "big")
            var record = [UInt8](repeating: 0x42, count: size)
            let logStart = ContinuousClock.now
            for i in 0..<count {
                record[0] = UInt8(truncatingIfNeeded: i)
                guard big.logEvent(record) != 0 else { throw ValidationError("logEvent failed at event \(i)") }
            }
            try client.releaseStory(chronicle, "big")
            print("  logged and released in \(ContinuousClock.now - logStart); waiting \(settle) s for the archive")
            fflush(nil)
            Thread.sleep(forTimeInterval: settle)
            let archive = config.archive.directory + "/" + ArchiveLayout.defaultFileName

            /// Replays the whole story through the player. - Returns: MiB/s.
            @discardableResult
            func viaPlayer(_ label: String) throws -> Double {
                var events = 0, payload = 0
                let start = ContinuousClock.now
                try client.replayStory(chronicle, "big", from: 0, to: .max, timeoutMs: 600_000) { (chunk: StoryChunk) throws(ChronoLogError) in
                    events += chunk.count
                    payload += chunk.payload.count
                }
                if events != count { print("  WARNING: replayed \(events) events, logged \(count)") }
                return report(label, events: events, bytes: payload + events * EventRecord.byteSize, since: start)
            }
            /// Reads the story's datasets plainly. - Returns: MiB/s.
            @discardableResult
            func plainHDF5(_ label: String) throws -> Double {
                let start = ContinuousClock.now
                let (events, total) = try Self.plainRead(path: archive, chronicle: chronicle, story: "big")
                return report(label, events: events, bytes: total, since: start)
            }
            Self.dropFromPageCache(archive)
            try plainHDF5("plain HDF5 read, cold")
            Self.dropFromPageCache(archive)
            try viaPlayer("replay via player, cold")
            // Warm: alternate so that both see the same machine; the plain read's own rate varies
            // from run to run, so medians of several rounds are compared.
            var plain: [Double] = [], replay: [Double] = []
            for round in 1...warmRounds {
                plain.append(try plainHDF5("plain HDF5 read, warm \(round)"))
                replay.append(try viaPlayer("replay via player, warm \(round)"))
            }
            let plainMedian = Self.median(plain), replayMedian = Self.median(replay)
            print("  warm medians: plain \(String(format: "%.1f", plainMedian)) MiB/s, replay \(String(format: "%.1f", replayMedian)) MiB/s, "
                  + "replay/plain \(String(format: "%.0f", 100 * replayMedian / plainMedian)) % (target ≥ 50 %)")
            fflush(nil)

            // Log → visible: how long until a replay sees an event just logged (no flush).
            let fresh = try client.acquireStory(chronicle, "fresh")
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            var queries = 0
            for i in 0..<samples {
                let started = ContinuousClock.now
                let t = try fresh.log("fresh \(i)")
                while try client.replayStory(chronicle, "fresh", from: t, to: t + 1).isEmpty { queries += 1 }
                queries += 1
                histogram.record(UInt64((ContinuousClock.now - started) / .microseconds(1)))
            }
            try client.releaseStory(chronicle, "fresh")
            print("  log → visible  p50 \(Double(histogram.valueAtPercentile(50)) / 1000) ms, p99 \(Double(histogram.valueAtPercentile(99)) / 1000) ms, max \(Double(histogram.max) / 1000) ms (\(samples) events, \(queries) queries)")
            fflush(nil)
            try client.disconnect()
            return [:]
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Prints one measurement. - Returns: MiB/s.
    private func report(_ label: String, events: Int, bytes: Int, since start: ContinuousClock.Instant) -> Double {
        let seconds = Double((ContinuousClock.now - start) / .microseconds(1)) / 1e6
        let mibs = Double(bytes) / 1_048_576 / seconds
        print("  \(label.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", mibs)) MiB/s  "
              + "\(Int(Double(events) / seconds)) events/s  (\(bytes >> 20) MiB in \(String(format: "%.2f", seconds)) s)")
        fflush(nil)
        return mibs
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Evicts the file's clean pages from the page cache (no root needed), for a cold read.
    static func dropFromPageCache(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
    }

    /// Reads a story's `events` and `payload` datasets whole, serially, in 64 MiB slices into one
    /// reused buffer: what any HDF5 reader of the same bytes would do.
    /// - Returns: event rows and bytes read.
    static func plainRead(path: String, chronicle: String, story: String) throws -> (events: Int, bytes: Int) {
        let file = try HDF5File.openSerial(path: path, mode: .readOnly)
        defer { try? file.close() }
        let chronicles = try file.root.openGroup(ArchiveLayout.chroniclesGroup)
        var buffer = [UInt8](repeating: 0, count: 64 << 20)
        for c in try chronicles.memberNames() {
            let cgroup = try chronicles.openGroup(c)
            for s in try cgroup.memberNames() {
                let sgroup = try cgroup.openGroup(s)
                guard try sgroup.attributes.string(ArchiveLayout.chronicleAttribute) == chronicle,
                      try sgroup.attributes.string(ArchiveLayout.storyAttribute) == story else { continue }
                var total = 0, events = 0
                for name in [ArchiveLayout.eventsDataset, ArchiveLayout.payloadDataset] {
                    let d = try sgroup.openDataset(name)
                    let rows = try d.extent
                    if name == ArchiveLayout.eventsDataset { events = rows }
                    let step = max(1, buffer.count / d.rowByteCount)
                    var at = 0
                    while at < rows {
                        let n = min(step, rows - at)
                        try buffer.withUnsafeMutableBytes { raw in
                            try d.read(range: at..<(at + n), into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(n * d.rowByteCount)]))
                        }
                        at += n
                    }
                    total += rows * d.rowByteCount
                    try d.close()
                }
                return (events, total)
            }
        }
        throw ValidationError("story \(chronicle)/\(story) is not in \(path)")
    }
}
