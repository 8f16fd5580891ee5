import CheckHarness
import ArgumentParser
import Foundation
import HDF5
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// Parallel-HDF5 wrapper checks: a collective write on 2–4 ranks, a serial read-back in a
/// process that never initialises MPI, a serial round trip, and the error paths (missing file,
/// garbage file).
struct HDF5Checks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hdf5",
        abstract: "HDF5 wrapper checks.",
        subcommands: [Parallel.self, Verify.self, Serial.self, MissingFile.self, CorruptFile.self, Crash.self, AfterCrash.self, Throughput.self, ExtendIO.self, MetadataIO.self])

    /// Collectively creates a file, a nested group, chunked extendible datasets (UInt64 events,
    /// UInt8 payload bytes, a 2-D table of 32-byte records); extends them twice; each rank
    /// writes disjoint hyperslabs with collective and independent transfer (one rank with an
    /// empty collective write); sets UTF-8 and integer attributes; flushes; closes.
    struct Parallel: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "parallel")
        @Option(help: "The HDF5 file to create.") var file: String

        func run() throws {
            runUnderMPI("hdf5 parallel") { world in
                let comm = try world.duplicate()
                let (rank, size) = (comm.rank, comm.size)
                let f = try HDF5File.create(path: file, communicator: comm)
                try expect(f.isParallel && f.isOpen, "file not open in parallel")
                let root = try f.root
                try root.attributes.set(Fixture.nameAttribute, .string(Fixture.chronicleName))
                try root.attributes.set("ranks", .uint64(UInt64(size)))
                try root.attributes.set("layout", .string("placeholder, replaced below"))
                try root.attributes.set("layout", .string(Fixture.layout))  // replaces
                let story = try root.createGroup(Fixture.storyPath)
                try story.attributes.set("story", .string(Fixture.storyName))
                try story.attributes.set("origin", .int64(Fixture.origin))
                let events = try story.createDataset("events", of: UInt64.self, chunkRows: 16)
                let payload = try story.createDataset("payload", of: UInt8.self, chunkRows: 64)
                let records = try story.createDataset("records", of: UInt8.self, columns: Fixture.recordWidth, chunkRows: 8)
                try events.attributes.set("units", .string("ns"))
                try events.attributes.set("scale", .double(0.5))
                try expect(try events.extent == 0 && payload.extent == 0 && records.extent == 0, "new datasets not empty")

                // Round 1: grow, then collective writes of each rank's slice.
                let e = Fixture.eventsPerRank, b = Fixture.bytesPerRank
                try events.extend(to: e * size)
                try payload.extend(to: b * size)
                try expect(try events.extent == e * size, "events extent after first extend: \(String(describing: try? events.extent))")
                try events.write(Fixture.events(round: 0, rank: rank), at: rank * e, transfer: .collective)
                try Fixture.bytes(round: 0, rank: rank).withUnsafeBytes { raw in
                    try payload.write(bytes: raw, at: rank * b, transfer: .collective)
                }

                // Round 2: grow again, then independent writes of the second halves.
                try events.extend(to: 2 * e * size)
                try payload.extend(to: 2 * b * size)
                try expect(try payload.extent == 2 * b * size, "payload extent after second extend: \(String(describing: try? payload.extent))")
                try events.write(Fixture.events(round: 1, rank: rank)[...], at: (size + rank) * e, transfer: .independent)
                try Fixture.bytes(round: 1, rank: rank).withUnsafeBytes { raw in
                    try payload.write(bytes: raw, at: (size + rank) * b, transfer: .independent)
                }

                // Records: one 32-byte row per rank except the last, which joins the collective
                // write with nothing to write.
                try records.extend(to: size - 1)
                let mine: [UInt8] = rank < size - 1 ? Fixture.record(rank: rank) : []
                try records.write(mine, at: rank < size - 1 ? rank : size - 1, transfer: .collective)
                try f.flush()

                // Read back in parallel: each rank checks its neighbour's slices.
                try comm.barrier()
                let other = (rank + 1) % size
                let back = try events.read(UInt64.self, range: (size + other) * e..<(size + other + 1) * e)
                try expect(back == Fixture.events(round: 1, rank: other), "events of rank \(other) read back wrong")
                let all = try payload.read(UInt8.self, range: 0..<b * size, transfer: .collective)
                for r in 0..<size {
                    try expect(Array(all[r * b..<(r + 1) * b]) == Fixture.bytes(round: 0, rank: r), "payload of rank \(r) wrong")
                }
                try expect(try records.extent == size - 1, "records extent \(String(describing: try? records.extent))")

                // Errors on a parallel file are typed, and every rank fails alike (no collective reached).
                do {
                    try events.extend(to: 1)
                    throw CheckFailure(description: "shrinking a dataset did not fail")
                } catch HDF5Error.invalidArgument {}
                do {
                    try events.write([UInt64(1)], at: 2 * e * size, transfer: .independent)
                    throw CheckFailure(description: "writing past the extent did not fail")
                } catch HDF5Error.invalidArgument {}

                try f.close()
                try expect(!f.isOpen && !events.isOpen, "close left objects open")
                do {
                    _ = try events.extent
                    throw CheckFailure(description: "a closed dataset still answered")
                } catch HDF5Error.closed {}
                try f.close()  // a second close does nothing

                // Re-open collectively, read-write: append one more row to the records table
                // (only rank 0 has data; a collective write with empty selections elsewhere).
                let again = try HDF5File.open(path: file, mode: .readWrite, communicator: comm)
                let table = try again.root.openDataset(Fixture.storyPath + "/records")
                try expect(table.columns == Fixture.recordWidth && table.elementType == .uint8, "records reopened wrong")
                try table.extend(to: size)
                try table.write(rank == 0 ? Fixture.record(rank: size - 1) : [], at: rank == 0 ? size - 1 : size,
                                transfer: .collective)
                let rows = try table.read(UInt8.self, range: 0..<size, transfer: .collective)
                for r in 0..<size {
                    try expect(Array(rows[r * Fixture.recordWidth..<(r + 1) * Fixture.recordWidth]) == Fixture.record(rank: r),
                               "record \(r) after reopen")
                }
                try again.close()
                try comm.free()
                if rank == 0 { say("WROTE \(file) ranks=\(size)") }
            }
        }
    }

    /// Reads a file written by `parallel` with the serial driver, in a process that never
    /// initialises MPI (run it without mpirun), and checks every value and attribute.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify")
        @Option(help: "The HDF5 file written by `hdf5 parallel`.") var file: String
        @Option(help: "The number of ranks that wrote it.") var ranks: Int

        func run() throws {
            runSerial("hdf5 verify") {
                try expect(!MPIRuntime.isInitialized, "verify must run without MPI")
                let size = ranks
                let f = try HDF5File.openSerial(path: file)
                try expect(!f.isParallel, "serial open reported parallel")
                let root = try f.root
                try expect(try root.attributes.string(Fixture.nameAttribute) == Fixture.chronicleName,
                           "name attribute: \(String(describing: try? root.attributes.value(Fixture.nameAttribute)))")
                try expect(try root.attributes.uint64("ranks") == UInt64(size), "ranks attribute")
                try expect(try root.attributes.string("layout") == Fixture.layout, "layout attribute not replaced")
                try expect(try root.attributes.names() == ["layout", Fixture.nameAttribute, "ranks"].sorted(),
                           "root attributes \(String(describing: try? root.attributes.names()))")
                try expect(try root.memberNames() == ["archive"], "root members \(String(describing: try? root.memberNames()))")
                try expect(try root.exists(Fixture.storyPath) && !(try root.exists("archive/nope/deeper")), "exists")
                let story = try root.openGroup(Fixture.storyPath)
                try expect(try story.memberNames() == ["events", "payload", "records"], "story members \(String(describing: try? story.memberNames()))")
                try expect(try story.attributes.string("story") == Fixture.storyName, "story attribute")
                try expect(try story.attributes.int64("origin") == Fixture.origin, "origin attribute")

                let e = Fixture.eventsPerRank, b = Fixture.bytesPerRank
                let events = try story.openDataset("events")
                try expect(events.elementType == .uint64 && events.columns == nil, "events type \(events.elementType)")
                try expect(try events.extent == 2 * e * size, "events extent \(String(describing: try? events.extent))")
                try expect(try events.attributes.string("units") == "ns" && events.attributes.double("scale") == 0.5, "events attributes")
                let allEvents = try events.readAll(UInt64.self)
                let payload = try story.openDataset("payload")
                try expect(try payload.extent == 2 * b * size, "payload extent \(String(describing: try? payload.extent))")
                let allBytes = try payload.readAll(UInt8.self)
                for round in 0..<2 {
                    for r in 0..<size {
                        let slot = round * size + r
                        try expect(Array(allEvents[slot * e..<(slot + 1) * e]) == Fixture.events(round: round, rank: r),
                                   "events round \(round) rank \(r)")
                        try expect(Array(allBytes[slot * b..<(slot + 1) * b]) == Fixture.bytes(round: round, rank: r),
                                   "payload round \(round) rank \(r)")
                    }
                }
                let records = try story.openDataset("records")
                try expect(records.columns == Fixture.recordWidth && records.rowByteCount == Fixture.recordWidth, "records shape")
                try expect(try records.extent == size, "records extent \(String(describing: try? records.extent))")
                for r in 0..<size {
                    try expect(try records.read(UInt8.self, range: r..<(r + 1)) == Fixture.record(rank: r), "record \(r)")
                }
                do {
                    _ = try events.read(UInt8.self, range: 0..<1)
                    throw CheckFailure(description: "reading uint64 as UInt8 did not fail")
                } catch HDF5Error.typeMismatch {}
                // Where chunks lie in the file: the file's bytes there are the rows, for a 1-D
                // dataset chunk by chunk and for a 2-D table row by row.
                let fileBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
                var row = 0
                while row < allBytes.count {
                    guard let chunk = try payload.chunkExtent(containingRow: row) else {
                        throw CheckFailure(description: "payload row \(row): no chunk located")
                    }
                    let end = min(chunk.rows.upperBound, allBytes.count)
                    try expect(chunk.rows.contains(row) && chunk.rows.count == 64, "payload row \(row) in chunk \(chunk.rows)")
                    let at = chunk.fileOffset + (row - chunk.rows.lowerBound)
                    try expect(Array(fileBytes[at..<(at + end - row)]) == Array(allBytes[row..<end]), "payload rows \(row)..<\(end) at file offset \(at)")
                    row = end
                }
                for r in 0..<size {
                    let chunk = try records.chunkExtent(containingRow: r)
                    let at = (chunk?.fileOffset ?? 0) + (r - (chunk?.rows.lowerBound ?? 0)) * Fixture.recordWidth
                    try expect(chunk != nil && Array(fileBytes[at..<(at + Fixture.recordWidth)]) == Fixture.record(rank: r),
                               "record \(r) at file offset \(at)")
                }
                do {
                    _ = try payload.chunkExtent(containingRow: allBytes.count)
                    throw CheckFailure(description: "a chunk past the extent did not fail")
                } catch HDF5Error.invalidArgument {}
                try f.close()
                say("VERIFIED \(file) ranks=\(size) events=\(allEvents.count) bytes=\(allBytes.count)")
            }
        }
    }

    /// A serial round trip in a plain process: every element type, 2-D tables, raw-byte writes
    /// and reads, attribute kinds, listing, re-opening read-write, and the typed errors.
    struct Serial: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "serial")
        @Option(help: "The HDF5 file to create.") var file: String

        func run() throws {
            runSerial("hdf5 serial") {
                do {
                    let f = try HDF5File.createSerial(path: file)
                    let root = try f.root
                    let t = try root.createGroup("a/b/c")
                    try expect(try root.exists("a/b") && root.exists("/a/b/c") && !root.exists("a/x/c"), "nested groups")
                    let u32 = try t.createDataset("u32", of: UInt32.self, chunkRows: 4, rows: 3)
                    try u32.write([UInt32(7), 8, 9], at: 0, transfer: .independent)
                    try u32.extend(to: 10)
                    try expect(try u32.read(UInt32.self, range: 0..<5) == [7, 8, 9, 0, 0], "u32 with zero fill")
                    // A serial file allocates a chunk when it is first written: rows 8..<12 have none yet.
                    try expect(try u32.chunkExtent(containingRow: 1)?.rows == 0..<4, "u32's first chunk located")
                    try expect(try u32.chunkExtent(containingRow: 9) == nil, "u32's unwritten chunk has no place in the file")
                    let i64 = try t.createDataset("i64", of: Int64.self, chunkRows: 2)
                    try i64.extend(to: 3)
                    try i64.write([Int64.min, -1, Int64.max], at: 0, transfer: .collective)
                    let dbl = try root.createDataset("x/doubles", of: Double.self, chunkRows: 8, rows: 2)
                    try dbl.write([1.5, -0.25], at: 0, transfer: .independent)
                    let table = try root.createDataset("table", of: UInt64.self, columns: 4, chunkRows: 2, rows: 3)
                    try table.write((0..<12).map { UInt64($0) * 3 }, at: 0, transfer: .independent)
                    try table.write([UInt64](), at: 3, transfer: .independent)  // empty write at the end
                    do {
                        try table.write([UInt64(1), 2, 3], at: 0, transfer: .independent)
                        throw CheckFailure(description: "a partial row did not fail")
                    } catch HDF5Error.invalidArgument {}
                    let raw = try root.createDataset("raw", of: UInt8.self, columns: 8, chunkRows: 16, rows: 4)
                    let bytes = patternBytes(count: 32, seed: 5)
                    try bytes.withUnsafeBytes { try raw.write(bytes: $0, at: 0, transfer: .independent) }
                    var into = [UInt8](repeating: 0, count: 16)
                    try into.withUnsafeMutableBytes { try raw.read(range: 1..<3, into: $0) }
                    try expect(into == Array(bytes[8..<24]), "read(range:into:) rows 1..<3")
                    try t.attributes.set("s", .string("Grüße 🚀"))
                    try t.attributes.set("n", .uint64(UInt64.max))
                    try t.attributes.set("m", .int64(-5))
                    try t.attributes.set("d", .double(2.5))
                    try t.attributes.remove("d")
                    try expect(try t.attributes.names() == ["m", "n", "s"], "attribute names \(String(describing: try? t.attributes.names()))")
                    do {
                        _ = try t.attributes.string("n")
                        throw CheckFailure(description: "a number read as a string did not fail")
                    } catch HDF5Error.typeMismatch {}
                    do {
                        _ = try t.attributes.value("absent")
                        throw CheckFailure(description: "a missing attribute did not fail")
                    } catch HDF5Error.notFound {}
                    do {
                        _ = try root.openDataset("a/nothing")
                        throw CheckFailure(description: "a missing dataset did not fail")
                    } catch HDF5Error.notFound {}
                    do {
                        _ = try root.createGroup("a/b")
                        throw CheckFailure(description: "creating an existing group did not fail")
                    } catch let error as HDF5Error {
                        try expect(error.call == "H5Gcreate2" && !error.stack.isEmpty, "unexpected \(error)")
                        say("CAUGHT \(error)")
                    }
                    do {
                        _ = try HDF5File.createSerial(path: file, overwrite: false)
                        throw CheckFailure(description: "create without overwrite did not fail")
                    } catch HDF5Error.fileExists {}
                    do {
                        _ = try HDF5File.create(path: file + ".p", communicator: .world)
                        throw CheckFailure(description: "a parallel file without MPI did not fail")
                    } catch HDF5Error.mpiNotInitialized {}
                    try f.close()
                }
                // Re-open read-write, append, re-open read-only and check.
                do {
                    let f = try HDF5File.openSerial(path: file, mode: .readWrite)
                    let i64 = try f.root.openDataset("a/b/c/i64")
                    try expect(i64.elementType == .int64, "i64 type")
                    try i64.extend(to: 4)
                    try i64.write([Int64(42)], at: 3, transfer: .independent)
                    // Write-back of the dirty pages starts without a flush (a local file system
                    // can); the append below still reads back after the close; a closed file
                    // starts nothing.
                    try expect(f.startWriteback(), "the write-back of a local file's dirty pages did not start")
                    try f.close()
                    try expect(!f.startWriteback(), "a closed file started a write-back")
                }
                // A file dropped without close() is closed by deinit (serial only).
                do { _ = try HDF5File.openSerial(path: file).root.openGroup("a") }
                let f = try HDF5File.openSerial(path: file)
                let root = try f.root
                try expect(try root.memberNames() == ["a", "raw", "table", "x"], "root members \(String(describing: try? root.memberNames()))")
                let c = try root.openGroup("a/b/c")
                try expect(try c.openDataset("i64").readAll(Int64.self) == [Int64.min, -1, Int64.max, 42], "i64 after append")
                try expect(try c.openDataset("u32").readAll(UInt32.self).count == 10, "u32 extent")
                try expect(try root.openDataset("x/doubles").readAll(Double.self) == [1.5, -0.25], "doubles")
                try expect(try root.openDataset("table").read(UInt64.self, range: 2..<3) == [24, 27, 30, 33], "table row 2")
                try expect(try c.attributes.string("s") == "Grüße 🚀" && c.attributes.uint64("n") == UInt64.max
                           && c.attributes.int64("m") == -5, "attributes after reopen")
                do {
                    try c.openDataset("u32").write([UInt32(1)], at: 0, transfer: .independent)
                    throw CheckFailure(description: "writing a read-only file did not fail")
                } catch let error as HDF5Error {
                    try expect(error.call == "H5Dwrite", "unexpected \(error)")
                    say("CAUGHT \(error)")
                }
                try f.close()
            }
        }
    }

    /// Opening a file that does not exist: a typed, readable error (serially, or collectively
    /// with `--parallel` under mpirun), no crash, no hang.
    struct MissingFile: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "missing-file")
        @Option(help: "A path where no file exists.") var file: String
        @Flag(help: "Open collectively over MPI_COMM_WORLD (run under mpirun).") var parallel = false

        func run() throws {
            let body: (Communicator?) throws -> Void = { comm in
                do {
                    let f = try comm.map { try HDF5File.open(path: file, communicator: $0) } ?? HDF5File.openSerial(path: file)
                    try f.close()
                    throw CheckFailure(description: "opening a missing file succeeded")
                } catch let error as HDF5Error {
                    try expect(error == .fileNotFound(path: file), "unexpected error \(error)")
                    if (comm?.rank ?? 0) == 0 { say("CAUGHT \(error)") }
                }
            }
            if parallel {
                runUnderMPI("hdf5 missing-file") { world in try body(world) }
            } else {
                runSerial("hdf5 missing-file") { try body(nil) }
            }
        }
    }

    /// Opening a file that is not HDF5 (garbage bytes; an empty file): a typed, readable error
    /// carrying HDF5's error stack, serially or collectively with `--parallel`.
    struct CorruptFile: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "corrupt-file")
        @Option(help: "A path to fill with garbage and open.") var file: String
        @Flag(help: "Open collectively over MPI_COMM_WORLD (run under mpirun).") var parallel = false

        func run() throws {
            let body: (Communicator?) throws -> Void = { comm in
                if (comm?.rank ?? 0) == 0 { try writeGarbage(file) }
                try comm?.barrier()
                for mode in [HDF5File.Mode.readOnly, .readWrite] {
                    do {
                        let f = try comm.map { try HDF5File.open(path: file, mode: mode, communicator: $0) }
                            ?? HDF5File.openSerial(path: file, mode: mode)
                        try f.close()
                        throw CheckFailure(description: "opening a garbage file succeeded")
                    } catch let error as HDF5Error {
                        guard case .notAnHDF5File(let path, let stack) = error, path == file, !stack.isEmpty else {
                            throw CheckFailure(description: "unexpected error \(error)")
                        }
                        if (comm?.rank ?? 0) == 0 { say("CAUGHT \(error)") }
                    }
                }
            }
            if parallel {
                runUnderMPI("hdf5 corrupt-file") { world in try body(world) }
            } else {
                runSerial("hdf5 corrupt-file") { try body(nil) }
            }
        }

        private func writeGarbage(_ path: String) throws {
            guard let fp = fopen(path, "w") else { throw CheckFailure(description: "cannot write \(path)") }
            let junk = Array("this is not an HDF5 file\n".utf8) + patternBytes(count: 4000, seed: 9)
            _ = junk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, fp) }
            fclose(fp)
        }
    }
}

extension HDF5Checks {
    /// Writes a file and dies by SIGKILL without closing it: with `--flush`, after flushing a
    /// first batch of rows and writing a second one unflushed; without, before any flush.
    /// With `--parallel` (under mpirun) every rank writes its slice collectively first.
    struct Crash: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "crash")
        @Option(help: "The HDF5 file to create.") var file: String
        @Flag(help: "Flush the first batch before dying.") var flush = false
        @Flag(help: "Write collectively over MPI_COMM_WORLD (run under mpirun).") var parallel = false

        func run() throws {
            let body: (Communicator?) throws -> Void = { comm in
                let (rank, size) = (comm?.rank ?? 0, comm?.size ?? 1)
                let f = try comm.map { try HDF5File.create(path: file, communicator: $0) } ?? HDF5File.createSerial(path: file)
                let data = try f.root.createDataset("data", of: UInt64.self, chunkRows: 64)
                try data.extend(to: 100 * size)
                try data.write((0..<100).map { UInt64(rank * 100 + $0) }, at: rank * 100, transfer: .collective)
                if flush { try f.flush() }
                try data.extend(to: 200 * size)
                try data.write((0..<100).map { UInt64(rank * 100 + $0) }, at: (size + rank) * 100, transfer: .collective)
                try comm?.barrier()
                say("DYING rank \(rank)")
                kill(getpid(), SIGKILL)
            }
            if parallel {
                runUnderMPI("hdf5 crash") { world in try body(world) }
            } else {
                runSerial("hdf5 crash") { try body(nil) }
            }
        }
    }

    /// Opens a file left by `crash` serially and prints what happened: `OPENED rows=N` with the
    /// flushed rows checked, or `CAUGHT <error>` (a typed error, never a crash).
    struct AfterCrash: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "after-crash")
        @Option(help: "The HDF5 file left by `hdf5 crash`.") var file: String
        @Option(help: "The number of ranks that wrote it.") var ranks: Int = 1

        func run() throws {
            runSerial("hdf5 after-crash") {
                do {
                    let f = try HDF5File.openSerial(path: file)
                    let data = try f.root.openDataset("data")
                    let rows = try data.extent
                    try expect(rows >= 100 * ranks, "fewer rows than flushed: \(rows)")
                    let flushed = try data.read(UInt64.self, range: 0..<100 * ranks)
                    try expect(flushed == (0..<100 * ranks).map { UInt64($0) }, "flushed rows differ")
                    try f.close()
                    say("OPENED rows=\(rows)")
                } catch let error as HDF5Error {
                    say("CAUGHT \(error)")
                }
            }
        }
    }
}

extension HDF5Checks {
    /// Measures the raw-byte hot path: each round extends a byte dataset collectively and every
    /// rank writes `--mib-per-rank` MiB straight from its buffer; then a flush. Prints
    /// `THROUGHPUT <transfer> <MiB/s>` from rank 0 and checks a sample of what was written.
    struct Throughput: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "throughput")
        @Option(help: "The HDF5 file to create.") var file: String
        @Option(help: "MiB each rank writes per round.") var mibPerRank = 8
        @Option(help: "Rounds.") var rounds = 4
        @Flag(help: "Independent instead of collective transfer.") var independent = false

        func run() throws {
            runUnderMPI("hdf5 throughput") { world in
                let comm = try world.duplicate()
                let (rank, size) = (comm.rank, comm.size)
                let per = mibPerRank << 20
                let buffer = patternBytes(count: per, seed: rank)
                let f = try HDF5File.create(path: file, communicator: comm)
                let data = try f.root.createDataset("bytes", of: UInt8.self, chunkRows: 1 << 20)
                try comm.barrier()
                let start = MPIRuntime.wtime()
                for round in 0..<rounds {
                    try data.extend(to: (round + 1) * per * size)
                    try buffer.withUnsafeBytes { raw in
                        try data.write(bytes: raw, at: (round * size + rank) * per,
                                       transfer: independent ? .independent : .collective)
                    }
                }
                try f.flush()
                let seconds = MPIRuntime.wtime() - start
                let sample = try data.read(UInt8.self, range: (size + rank) * per..<(size + rank) * per + 4096)
                try expect(rounds < 2 || sample == Array(buffer[0..<4096]), "sample read back wrong")
                try f.close()
                try comm.free()
                if rank == 0 {
                    let mib = Double(rounds * size * mibPerRank)
                    say("THROUGHPUT \(independent ? "independent" : "collective") ranks=\(size) \(Int(mib)) MiB in "
                        + "\(Int(seconds * 1000)) ms = \(Int(mib / seconds)) MiB/s")
                }
            }
        }
    }
}

extension HDF5Checks {
    /// Extends two byte datasets collectively by `--mib-per-rank` MiB per rank, one created with
    /// HDF5's default fill and one with `fillsNewChunks: false`, and prints from every rank
    /// `EXTEND-IO rank=<r> fills=<bytes> nofill=<bytes>`: the bytes it passed to write system
    /// calls during each `extend(to:)`. Then writes, flushes and reads a sample back.
    struct ExtendIO: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "extend-io")
        @Option(help: "The HDF5 file to create.") var file: String
        @Option(help: "MiB each rank adds to each dataset.") var mibPerRank = 8

        func run() throws {
            runUnderMPI("hdf5 extend-io") { world in
                let comm = try world.duplicate()
                let (rank, size) = (comm.rank, comm.size)
                let rows = (mibPerRank << 20) * size
                let f = try HDF5File.create(path: file, communicator: comm)
                let filled = try f.root.createDataset("filled", of: UInt8.self, chunkRows: 1 << 20)
                let unfilled = try f.root.createDataset("unfilled", of: UInt8.self, chunkRows: 1 << 20, fillsNewChunks: false)
                try f.flush()
                var written: [Int] = []
                for data in [filled, unfilled] {
                    let before = syscallWriteBytes()
                    try data.extend(to: rows)
                    written.append(syscallWriteBytes() - before)
                }
                say("EXTEND-IO rank=\(rank) fills=\(written[0]) nofill=\(written[1])")
                let bytes = patternBytes(count: 4096, seed: rank)
                try bytes.withUnsafeBytes { try unfilled.write(bytes: $0, at: rank * (rows / size), transfer: .independent) }
                try f.flush()
                try expect(try unfilled.read(UInt8.self, range: rank * (rows / size)..<rank * (rows / size) + 4096) == bytes,
                           "rows written after an extension without fill read back wrong")
                try f.close()
                try comm.free()
            }
        }
    }
}

extension HDF5Checks {
    /// Creates `--groups` groups, each with an attribute and three datasets without fill that it
    /// extends, collectively, and prints from every rank `METADATA-IO rank=<r> before-flush=<bytes>
    /// flush=<bytes>`: the bytes it passed to write system calls during those calls, then during
    /// the flush that follows.
    struct MetadataIO: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "metadata-io")
        @Option(help: "The HDF5 file to create.") var file: String
        @Option(help: "Groups to create.") var groups = 200

        func run() throws {
            runUnderMPI("hdf5 metadata-io") { world in
                let comm = try world.duplicate()
                let f = try HDF5File.create(path: file, communicator: comm)
                try f.flush()
                let start = syscallWriteBytes()
                for g in 0..<groups {
                    let group = try f.root.createGroup("g\(g)")
                    try group.attributes.set("name", .string("group \(g)"))
                    for d in 0..<3 {
                        let data = try group.createDataset("d\(d)", of: UInt8.self, chunkRows: 4096, fillsNewChunks: false)
                        try data.extend(to: 100_000)
                    }
                }
                let structure = syscallWriteBytes()
                try f.flush()
                say("METADATA-IO rank=\(comm.rank) before-flush=\(structure - start) flush=\(syscallWriteBytes() - structure)")
                try f.close()
                try comm.free()
            }
        }
    }
}

/// The values `hdf5 parallel` writes and `hdf5 verify` expects, as functions of rank and round.
enum Fixture {
    static let nameAttribute = "chronicle"
    static let chronicleName = "Chronik-Ü-🚀"
    static let storyName = "Geschichte-ß-日本"
    static let storyPath = "archive/stories/story-0001"
    static let layout = "events: uint64 timestamps; payload: bytes; records: 32-byte rows"
    static let origin: Int64 = -42
    static let eventsPerRank = 10
    static let bytesPerRank = 100
    static let recordWidth = 32

    static func events(round: Int, rank: Int) -> [UInt64] {
        (0..<eventsPerRank).map { UInt64(round) << 56 | UInt64(rank) << 32 | UInt64($0) * 1_000_003 + 7 }
    }

    static func bytes(round: Int, rank: Int) -> [UInt8] {
        patternBytes(count: bytesPerRank, seed: 1000 * round + rank)
    }

    static func record(rank: Int) -> [UInt8] {
        patternBytes(count: recordWidth, seed: 7000 + rank)
    }
}

/// Runs `body` in a plain process (no MPI): prints `PASS name`, or `FAIL name: error` and exits 1.
func runSerial(_ name: String, _ body: () throws -> Void) {
    do {
        try body()
        say("PASS \(name)")
    } catch {
        warn("FAIL \(name): \(error)")
        exit(1)
    }
}
