import ChronoModel
import Foundation
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// The POSIX and MPI-IO baselines: one file per unit, each event stored as its 32-byte record
/// followed by its record bytes, buffered per story (`--buffer-size`) and written with one call
/// per full buffer at the writer's offset (shared files: the writer's segment).
///
/// POSIX uses `open`/`pwrite`/`pread`/`fsync`/`close`; MPI-IO `MPI_File_open` (over the writers
/// for a shared file, over `MPI_COMM_SELF` for a writer's own), independent
/// `MPI_File_write_at`/`MPI_File_read_at`, `MPI_File_sync`, `MPI_File_close`.
struct StreamBackend: IORBackend {
    let api: IORAPI
    let context: IORContext

    private var p: IORParameters { context.parameters }

    private func open(_ path: String, writing: Bool, shared: Bool) throws -> any IORStreamFile {
        if api == .posix { return try POSIXFile(path: path, writing: writing) }
        return try MPIFile.open(path: path, access: writing ? .createWriteOnly : .readOnly,
                                communicator: shared ? context.peers : .selfOnly)
    }

    func write(_ layout: IORLayout, _ recorder: inout IORPhaseRecorder) throws -> [Int] {
        let units = layout.writtenUnits
        let files = try units.map { try open(layout.filePath(api, $0), writing: true, shared: $0.owner == nil) }
        recorder.opened()
        let stored = try writeEvents(layout, units: units, files: files, &recorder)
        recorder.didIO()
        let ioEnd = ContinuousClock.now
        if p.durable {
            for f in files {
                try f.sync()
                recorder.recordDurable(seconds: recorder.seconds(since: ioEnd))
            }
        }
        for f in files { try f.close() }
        recorder.closed()
        if !p.durable {
            for u in units {
                try POSIXFile.sync(path: layout.filePath(api, u))
                recorder.recordDurable(seconds: recorder.seconds(since: ioEnd))
            }
        }
        return stored
    }

    /// The I/O step of a write phase. - Returns: events stored per story.
    private func writeEvents(_ layout: IORLayout, units: [IORUnit], files: [any IORStreamFile],
                             _ recorder: inout IORPhaseRecorder) throws -> [Int] {
        let buffers = units.map { _ in BaselineBuffer(capacity: p.eventsPerTransfer, eventBytes: p.eventBytes, layout: .interleaved) }
        var stored = [Int](repeating: 0, count: units.count)
        let stride = p.storedEventBytes, stories = p.storiesPerWriter, me = UInt64(layout.rank), source = context.source
        func ship(_ k: Int) throws {
            let b = buffers[k]
            guard b.count > 0 else { return }
            try files[k].write(b.stream, at: (layout.firstSlot(in: units[k]) + stored[k]) * stride)
            stored[k] += b.count
            b.reset()
        }
        var ops = 0
        _ = try IOREventLoop.run(p, &recorder, localStonewall: true) { i in
            let k = layout.story(ofEvent: i), b = buffers[k]
            b.append(time: IOREventSource.now(), clientId: me, index: UInt32(truncatingIfNeeded: i / stories),
                     slot: layout.firstSlot(in: units[k]) + stored[k] + b.count, payload: source.record(i))
            if b.isFull {
                try ship(k)
                ops += 1
            }
            return true
        }
        for k in units.indices where buffers[k].count > 0 {
            try ship(k)
            ops += 1
        }
        recorder.addOps(ops)
        return stored
    }

    func read(_ layout: IORLayout, _ units: [(unit: IORUnit, segments: [IORSegment])], _ recorder: inout IORPhaseRecorder) throws {
        // MPI-IO opens a shared file collectively: every writer opens every shared file, reads its own.
        let shared = !p.storyPerRank
        let toOpen = shared && api == .mpiio ? layout.writtenUnits : units.map(\.unit)
        // In story order on every writer: MPI-IO opens and closes collectively.
        let files = try toOpen.map { try open(layout.filePath(api, $0), writing: false, shared: shared) }
        recorder.opened()
        let buffer = BaselineBuffer(capacity: p.eventsPerTransfer, eventBytes: p.eventBytes, layout: .interleaved)
        var check = p.readCheck ? IORReadCheck(eventBytes: p.eventBytes, stories: p.storiesPerWriter) : nil
        do {
            for (unit, segments) in units {
                let file = files[toOpen.firstIndex(of: unit)!]
                for s in segments { try readSegment(s, of: file, story: unit.story, into: buffer.readSpace, &check, &recorder) }
            }
        } catch {
            // MPI-IO closes collectively: the other writers wait for this one's close.
            for f in files { try? f.close() }
            throw error
        }
        recorder.didIO()
        for f in files { try f.close() }
        recorder.closed()
    }

    /// Reads one writer's segment whole, in buffer-sized pieces, checking each piece's first record
    /// (with `-R` every event).
    private func readSegment(_ s: IORSegment, of file: any IORStreamFile, story k: Int, into space: UnsafeMutableRawBufferPointer,
                             _ check: inout IORReadCheck?, _ recorder: inout IORPhaseRecorder) throws {
        let stride = p.storedEventBytes
        var at = s.firstEvent * stride, left = s.events * stride
        while left > 0 {
            let n = min(left, space.count)
            let got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: space[0..<n]), at: at)
            guard got == n else { throw IORError.readBack(api: api, what: "bytes at offset \(at)", got: got, expected: n) }
            let length = Int(UInt32(littleEndian: space.loadUnaligned(fromByteOffset: 20, as: UInt32.self)))
            guard length == p.eventBytes else {
                throw IORError.readBack(api: api, what: "as the length of the record at offset \(at)", got: length, expected: p.eventBytes)
            }
            if check != nil {
                let first = at / stride - s.firstEvent
                for e in 0..<(n / stride) {
                    let record = UnsafeRawBufferPointer(rebasing: space[(e * stride)..<(e * stride + p.recordBytes)])
                    let payload = UnsafeRawBufferPointer(rebasing: space[(e * stride + p.recordBytes)..<((e + 1) * stride)])
                    if let problem = check!.baseline(record: record, payload: payload, writer: s.writer, slot: first + e, story: k) {
                        throw IORError.readCheck(api: api, problem: problem)
                    }
                }
            }
            recorder.read(bytes: n, events: n / stride)
            at += n
            left -= n
        }
    }

    func cachedFiles(_ layout: IORLayout) -> [String] {
        layout.writtenUnits.map { layout.filePath(api, $0) }
    }

    func removeFiles(_ layout: IORLayout) {
        for u in layout.writtenUnits where u.owner != nil || layout.rank == 0 {
            unlink(layout.filePath(api, u))
        }
    }
}
