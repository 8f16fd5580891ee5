import Foundation
import Testing
import TestSupport

/// The HDF5 wrapper, exercised by `wrapper-checks hdf5 ...`: collective writes under mpirun,
/// serial read-back in a plain process (no mpirun, no MPI_Init), `h5dump` on the result, and
/// the error paths.
@Suite("HDF5 wrapper: parallel write, serial read, h5dump, errors", .serialized)
struct HDF5WrapperTests {
    let checks = MPIJob.executable("wrapper-checks")

    @Test("ranks collectively create, extend and write a file; a plain process reads it all back; h5dump shows it",
          arguments: [2, 4])
    func parallelWriteSerialRead(ranks: Int) throws {
        let dir = try TemporaryDirectory()
        let file = dir.path("archive-\(ranks).h5")

        let write = try MPIJob.run(ranks: ranks, [checks, "hdf5", "parallel", "--file", file], timeout: 120)
        #expect(write.exitCode == 0, "\(write)")
        #expect(write.lines(startingWith: "PASS hdf5 parallel").count == 1, "\(write)")

        // No mpirun: the serial driver opens the archive in a process that never initialises MPI.
        let verify = try MPIJob.runCommand([checks, "hdf5", "verify", "--file", file, "--ranks", String(ranks)], timeout: 60)
        #expect(verify.exitCode == 0, "\(verify)")
        #expect(verify.lines(startingWith: "VERIFIED").count == 1, "\(verify)")
        #expect(verify.lines(startingWith: "PASS hdf5 verify").count == 1, "\(verify)")

        // h5dump sees the layout: nested groups, datasets with their grown extents, UTF-8 attributes.
        let header = try MPIJob.runCommand(["h5dump", "-H", file], timeout: 60)
        try #require(header.exitCode == 0, "\(header)")
        let h = header.stdout
        for name in ["GROUP \"archive\"", "GROUP \"stories\"", "GROUP \"story-0001\"",
                     "DATASET \"events\"", "DATASET \"payload\"", "DATASET \"records\"",
                     "ATTRIBUTE \"chronicle\"", "ATTRIBUTE \"story\"", "ATTRIBUTE \"units\""] {
            #expect(h.contains(name), "h5dump -H lacks \(name):\n\(h)")
        }
        #expect(h.contains("( \(2 * 10 * ranks) ) / ( H5S_UNLIMITED )"), "events extent:\n\(h)")
        #expect(h.contains("( \(2 * 100 * ranks) ) / ( H5S_UNLIMITED )"), "payload extent:\n\(h)")
        #expect(h.contains("( \(ranks), 32 ) / ( H5S_UNLIMITED, 32 )"), "records extent:\n\(h)")
        #expect(h.contains("CSET H5T_CSET_UTF8"), "no UTF-8 string attribute:\n\(h)")

        let attribute = try MPIJob.runCommand(["h5dump", "-a", "/chronicle", file], timeout: 60)
        try #require(attribute.exitCode == 0, "\(attribute)")
        #expect(H5DumpText.firstString(in: attribute.stdout) == "Chronik-Ü-🚀", "\(attribute)")
        let story = try MPIJob.runCommand(["h5dump", "-a", "/archive/stories/story-0001/story", file], timeout: 60)
        #expect(H5DumpText.firstString(in: story.stdout) == "Geschichte-ß-日本", "\(story)")

        let events = try MPIJob.runCommand(["h5dump", "-d", "/archive/stories/story-0001/events", file], timeout: 60)
        try #require(events.exitCode == 0, "\(events)")
        // Rank 0's first events, then rank 1's (rank in bits 32...).
        #expect(events.stdout.contains("(0): 7, 1000010, 2000013"), "\(events)")
        #expect(events.stdout.contains("4294967303"), "\(events)")
    }

    @Test("a serial round trip in a plain process: every element type, 2-D tables, raw bytes, attributes, typed errors")
    func serialRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let r = try MPIJob.runCommand([checks, "hdf5", "serial", "--file", dir.path("serial.h5")], timeout: 60)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS hdf5 serial").count == 1, "\(r)")
        let caught = r.lines(startingWith: "CAUGHT")
        // HDF5's own reason reaches the error text (its automatic printing is off).
        #expect(caught.contains { $0.contains("H5Gcreate2 failed") && $0.contains("name already exists") }, "\(r)")
        #expect(caught.contains { $0.contains("H5Dwrite failed") && $0.contains("no write intent on file") }, "\(r)")
        #expect(!r.stderr.contains("HDF5-DIAG"), "HDF5 printed its error stack itself:\n\(r.stderr)")
    }

    @Test("a missing file is a typed, readable error, serially and collectively, without a hang")
    func missingFile() throws {
        let dir = try TemporaryDirectory()
        let file = dir.path("does-not-exist.h5")
        let serial = try MPIJob.runCommand([checks, "hdf5", "missing-file", "--file", file], timeout: 60)
        #expect(serial.exitCode == 0, "\(serial)")
        #expect(serial.lines(startingWith: "CAUGHT") == ["CAUGHT HDF5 file not found: \(file)"], "\(serial)")

        let parallel = try MPIJob.run(ranks: 2, [checks, "hdf5", "missing-file", "--parallel", "--file", file], timeout: 60)
        #expect(parallel.exitCode == 0 && !parallel.timedOut, "\(parallel)")
        #expect(parallel.lines(startingWith: "CAUGHT") == ["CAUGHT HDF5 file not found: \(file)"], "\(parallel)")
        #expect(parallel.lines(startingWith: "PASS hdf5 missing-file").count == 1, "\(parallel)")
        #expect(!serial.stderr.contains("HDF5-DIAG") && !parallel.stderr.contains("HDF5-DIAG"))
    }

    @Test("a garbage (non-HDF5) file is a typed error carrying HDF5's reason, serially and collectively")
    func garbageFile() throws {
        let dir = try TemporaryDirectory()
        let serial = try MPIJob.runCommand([checks, "hdf5", "corrupt-file", "--file", dir.path("junk-1.h5")], timeout: 60)
        #expect(serial.exitCode == 0, "\(serial)")
        let caught = serial.lines(startingWith: "CAUGHT")
        #expect(caught.count == 2, "\(serial)")  // read-only and read-write
        #expect(caught.allSatisfy { $0.contains("not an HDF5 file") && $0.contains("file signature not found") }, "\(serial)")

        let parallel = try MPIJob.run(
            ranks: 2, [checks, "hdf5", "corrupt-file", "--parallel", "--file", dir.path("junk-2.h5")], timeout: 60)
        #expect(parallel.exitCode == 0 && !parallel.timedOut, "\(parallel)")
        #expect(parallel.lines(startingWith: "CAUGHT").count == 2, "\(parallel)")
        #expect(parallel.lines(startingWith: "PASS hdf5 corrupt-file").count == 1, "\(parallel)")
    }

    @Test("a writer killed before its first flush leaves a file that opens with a typed error; after a flush it opens",
          arguments: [0, 2])
    func killedWriter(ranks: Int) throws {
        let dir = try TemporaryDirectory()
        for flush in [false, true] {
            let file = dir.path("crash-\(flush).h5")
            let argv = [checks, "hdf5", "crash", "--file", file] + (flush ? ["--flush"] : []) + (ranks > 0 ? ["--parallel"] : [])
            let crash = ranks > 0 ? try MPIJob.run(ranks: ranks, argv, timeout: 60) : try MPIJob.runCommand(argv, timeout: 60)
            #expect(crash.exitCode != 0 && !crash.lines(startingWith: "DYING").isEmpty, "\(crash)")
            let after = try MPIJob.runCommand(
                [checks, "hdf5", "after-crash", "--file", file, "--ranks", String(max(ranks, 1))], timeout: 60)
            #expect(after.exitCode == 0, "\(after)")
            if flush {
                // Everything up to the flush is there (the unflushed growth may or may not be).
                #expect(after.lines(startingWith: "OPENED rows=").count == 1, "\(after)")
            } else {
                #expect(after.lines(startingWith: "CAUGHT not an HDF5 file").count == 1, "\(after)")
            }
        }
    }

    @Test("extending a dataset created with fillsNewChunks: false writes nothing (no I/O inside the collective H5Dset_extent); the default fill writes every new chunk")
    func extendWithoutFill() throws {
        let dir = try TemporaryDirectory()
        let r = try MPIJob.run(ranks: 2, [checks, "hdf5", "extend-io", "--file", dir.path("x.h5"), "--mib-per-rank", "4"], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        let lines = r.lines(startingWith: "EXTEND-IO")
        #expect(lines.count == 2, "\(r)")
        for line in lines {
            guard let m = line.firstMatch(of: #/fills=(\d+) nofill=(\d+)/#), let fills = Int(m.1), let nofill = Int(m.2) else {
                Issue.record("unreadable line: \(line)")
                continue
            }
            // 8 MiB of new chunks filled by 2 ranks: about 4 MiB each, written inside the collective call.
            #expect(fills >= 2 << 20, "the default fill is visible to the measure: \(line)")
            #expect(nofill == 0, "an extension without fill did I/O: \(line)")
        }
    }

    @Test("metadata of a parallel file is written at flush only: 200 groups of 3 extended datasets cause no write inside the collective calls")
    func metadataWrittenAtFlush() throws {
        let dir = try TemporaryDirectory()
        let r = try MPIJob.run(ranks: 2, [checks, "hdf5", "metadata-io", "--file", dir.path("m.h5")], timeout: 120)
        #expect(r.exitCode == 0, "\(r)")
        let lines = r.lines(startingWith: "METADATA-IO")
        #expect(lines.count == 2, "\(r)")
        for line in lines {
            guard let m = line.firstMatch(of: #/before-flush=(\d+) flush=(\d+)/#), let before = Int(m.1), let flush = Int(m.2) else {
                Issue.record("unreadable line: \(line)")
                continue
            }
            // With HDF5's default threshold (256 KiB) each rank wrote about 55 KB inside these calls.
            #expect(before == 0, "metadata written inside collective structure calls: \(line)")
            #expect(flush > 0, "the flush wrote no metadata, so the measure proves nothing: \(line)")
        }
    }

    @Test("the raw-byte hot path writes MiB buffers collectively and independently, growing the dataset each round")
    func rawByteThroughput() throws {
        let dir = try TemporaryDirectory()
        for flags in [[], ["--independent"]] {
            let r = try MPIJob.run(
                ranks: 2, [checks, "hdf5", "throughput", "--file", dir.path("t.h5"), "--mib-per-rank", "2", "--rounds", "3"] + flags,
                timeout: 120)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.lines(startingWith: "THROUGHPUT").count == 1, "\(r)")
        }
    }
}

/// A fresh directory under the system temporary directory, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("chronolog-hdf5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// The path of `name` inside the directory.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Reading values out of `h5dump` text.
enum H5DumpText {
    /// The first double-quoted string after `DATA {`, with h5dump's escapes undone. HDF5 1.10's
    /// h5dump prints each non-ASCII byte of a UTF-8 string as an octal escape of the
    /// sign-extended char (`Ü` = C3 9C appears as `\37777777703\37777777634`); the low byte of
    /// each escape is the stored byte.
    static func firstString(in dump: String) -> String? {
        guard let data = dump.range(of: "DATA {") else { return nil }
        let rest = dump[data.upperBound...]
        guard let open = rest.firstIndex(of: "\"") else { return nil }
        var bytes: [UInt8] = []
        var i = rest.index(after: open)
        while i < rest.endIndex, rest[i] != "\"" {
            if rest[i] == "\\" {
                i = rest.index(after: i)
                guard i < rest.endIndex else { break }
                var digits = ""
                while i < rest.endIndex, let d = rest[i].wholeNumberValue, d < 8 {
                    digits.append(rest[i])
                    i = rest.index(after: i)
                }
                if let value = UInt64(digits, radix: 8) {
                    bytes.append(UInt8(truncatingIfNeeded: value))
                } else {
                    bytes += Array(String(rest[i]).utf8)
                    i = rest.index(after: i)
                }
            } else {
                bytes += Array(String(rest[i]).utf8)
                i = rest.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
