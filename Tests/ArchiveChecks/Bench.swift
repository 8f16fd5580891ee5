import CheckHarness
import ArgumentParser
import ChronoArchive
import ChronoModel
import HDF5
import MPI

#if canImport(Glibc)
import Glibc
#endif

extension ArchiveChecks {
    /// Archive write bandwidth next to a plain collective HDF5 write of the same bytes per rank and
    /// round (one byte dataset, collective extend, collective write, flush per round), in the same
    /// job, rounds alternating between the two. Prints `BENCH` lines from rank 0 with MiB/s and the
    /// archive/plain ratio.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bench")
        @Option(help: "Scratch directory.") var dir: String
        @Option(help: "MiB of payload written by all ranks together.") var mib = 256
        @Option(help: "Rounds (one flush each).") var rounds = 8
        @Option(help: "Bytes per event record.") var eventBytes = 4096
        @Option(help: "Stories per rank.") var stories = 4
        @Option(help: "Measurements of each kind (alternating).") var repeats = 2

        func run() throws {
            runUnderMPI("archive bench") { world in
                let comm = try world.duplicate()
                let (rank, size) = (comm.rank, comm.size)
                let perRankRound = (mib << 20) / size / rounds
                let eventsPerChunk = max(1, perRankRound / stories / eventBytes)
                // Pre-built chunks (payload storage shared between rounds).
                let payload = ArchiveFixture.bytes(eventsPerChunk * eventBytes, seed: UInt64(rank + 1))
                var plan: [[ArchiveChunk]] = []
                for round in 0..<rounds {
                    let range = TimeRange(start: UInt64(round + 1) * 1_000_000_000, end: UInt64(round + 2) * 1_000_000_000)
                    var chunks: [ArchiveChunk] = []
                    for s in 0..<stories {
                        let chronicle = "bench", story = "rank \(rank) story \(s)"
                        let id = StoryID(chronicle: try ChronicleName(chronicle), story: try StoryName(story))
                        let records = (0..<eventsPerChunk).map { i in
                            EventRecord(time: range.start + UInt64(i) * 1000, clientId: UInt64(rank + 1), index: UInt32(round * eventsPerChunk + i),
                                        length: UInt32(eventBytes), offset: UInt64(i * eventBytes))
                        }
                        let chunk = try StoryChunk(validatingStoryId: id, range: range, revision: 0, records: records, payload: payload)
                        chunks.append(ArchiveChunk(chronicle: chronicle, story: story, chunk: chunk))
                    }
                    plan.append(chunks)
                }
                // Index rows hold at most archive.maxRowBytes (the writer's default): equal events,
                // each at a later time, fill whole rows greedily.
                let eventsPerRow = max(1, (4 << 20) / (eventBytes + EventRecord.byteSize))
                let rowsPerChunk = (eventsPerChunk + eventsPerRow - 1) / eventsPerRow
                let archiveBytesPerRound = stories * (eventsPerChunk * (eventBytes + EventRecord.byteSize)
                    + rowsPerChunk * ArchiveIndexRow.columnCount * 8)
                let plainBuffer = ArchiveFixture.bytes(archiveBytesPerRound, seed: 99)
                _ = ArchiveWriterDirectory.make(dir)
                var archiveRates: [Double] = [], plainRates: [Double] = []
                for repeatIndex in 0..<repeats {
                    // Plain and archive rounds alternate, so both see the same machine load.
                    let plainPath = "\(dir)/plain-\(repeatIndex).h5"
                    let f = try HDF5File.create(path: plainPath, communicator: comm)
                    let data = try f.root.createDataset("bytes", of: UInt8.self, chunkRows: 1 << 20)
                    let archiveDir = "\(dir)/archive-\(repeatIndex)"
                    let writer = try ArchiveWriter.open(directory: archiveDir, communicator: comm)
                    try expect(writer.maxRowBytes == 4 << 20, "the writer's default row size changed: \(writer.maxRowBytes)")
                    var plainSeconds = 0.0, archiveSeconds = 0.0, totalBytes = 0, flush = 0.0
                    for round in 0..<rounds {
                        try comm.barrier()
                        var start = MPIRuntime.wtime()
                        try data.extend(to: (round + 1) * size * archiveBytesPerRound)
                        try plainBuffer.withUnsafeBytes { raw in
                            try data.write(bytes: raw, at: (round * size + rank) * archiveBytesPerRound, transfer: .collective)
                        }
                        try f.flush()
                        try comm.barrier()
                        plainSeconds += MPIRuntime.wtime() - start
                        start = MPIRuntime.wtime()
                        let report = try writer.writeRound(plan[round])
                        try comm.barrier()
                        archiveSeconds += MPIRuntime.wtime() - start
                        totalBytes += report.totalBytesWritten
                        flush += report.flushSeconds
                    }
                    try f.close()
                    try writer.close()
                    let mibWritten = Double(totalBytes) / Double(1 << 20)
                    try expect(totalBytes == rounds * size * archiveBytesPerRound, "archive wrote \(totalBytes) bytes")
                    archiveRates.append(mibWritten / archiveSeconds)
                    plainRates.append(mibWritten / plainSeconds)
                    if rank == 0 {
                        say("BENCH repeat=\(repeatIndex) ranks=\(size) MiB=\(Int(mibWritten)) rounds=\(rounds) eventBytes=\(eventBytes) "
                            + "plain=\(Int(mibWritten / plainSeconds)) MiB/s archive=\(Int(mibWritten / archiveSeconds)) MiB/s "
                            + "ratio=\(Int(plainSeconds / archiveSeconds * 100))% (archive flush \(Int(flush * 1000)) ms of \(Int(archiveSeconds * 1000)) ms)")
                        unlink(plainPath)
                        unlink("\(archiveDir)/\(ArchiveLayout.defaultFileName)")
                    }
                    try comm.barrier()
                }
                if rank == 0 {
                    let a = archiveRates.max()!, p = plainRates.max()!
                    let ratios = zip(archiveRates, plainRates).map { $0 / $1 }.sorted()
                    say("BENCH best plain=\(Int(p)) MiB/s archive=\(Int(a)) MiB/s ratio=\(Int(a / p * 100))% "
                        + "median paired ratio=\(Int(ratios[ratios.count / 2] * 100))%")
                }
                try comm.free()
            }
        }
    }
}

/// Directory creation for the bench's scratch path.
enum ArchiveWriterDirectory {
    static func make(_ path: String) -> Bool {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            _ = mkdir(prefix, 0o755)
        }
        return access(path, F_OK) == 0
    }
}
