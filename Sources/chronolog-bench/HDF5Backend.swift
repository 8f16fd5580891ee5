import ChronoModel
import Foundation
import HDF5
import MPI

#if canImport(Glibc)
import Glibc
#endif

/// The HDF5 baseline: a parallel HDF5 file (MPI-IO driver) per writer with `-F` (over
/// `MPI_COMM_SELF`), else one shared file over the writers; per story a group `story-K` with an
/// `events` dataset (one 32-byte record per row) and a `payload` dataset (one event's record bytes
/// per row), chunked by `--buffer-size` worth of events. Writes are collective `H5Dwrite`s of a
/// buffer of every story at once (every writer takes part in each round, so the stonewall is
/// agreed by all writers after each round); reads are independent hyperslab `H5Dread`s.
struct HDF5Backend: IORBackend {
    let api = IORAPI.hdf5
    let context: IORContext

    private var p: IORParameters { context.parameters }

    private func communicator(shared: Bool) -> Communicator { shared ? context.peers : .selfOnly }

    func write(_ layout: IORLayout, _ recorder: inout IORPhaseRecorder) throws -> [Int] {
        let shared = !p.storyPerRank
        let path = layout.hdf5Path(owner: shared ? nil : layout.rank)
        let file = try HDF5File.create(path: path, communicator: communicator(shared: shared))
        let units = layout.writtenUnits
        var datasets: [(events: HDF5Dataset, payload: HDF5Dataset)] = []
        for u in units {
            let group = try file.root.createGroup(layout.hdf5Group(u))
            let rows = layout.slots(of: u), chunk = min(p.eventsPerTransfer, max(1, rows))
            // Allocated at creation (parallel HDF5 does), but not filled: every row is written by
            // the I/O step, and zeros written first would double the baseline's bytes in its open
            // step (3.9 s of a 5.5-s phase with -b 1g), as no HDF5 user storing data would.
            datasets.append((try group.createDataset("events", of: UInt8.self, columns: EventRecord.byteSize, chunkRows: chunk, rows: rows,
                                                     fillsNewChunks: false),
                             try group.createDataset("payload", of: UInt8.self, columns: p.eventBytes, chunkRows: chunk, rows: rows,
                                                     fillsNewChunks: false)))
        }
        recorder.opened()
        let stored = try writeEvents(layout, units: units, datasets: datasets, &recorder)
        recorder.didIO()
        let ioEnd = ContinuousClock.now
        if p.durable {
            try file.flush()
            recorder.recordDurable(seconds: recorder.seconds(since: ioEnd))
        }
        try file.close()
        recorder.closed()
        if !p.durable {
            try POSIXFile.sync(path: path)
            recorder.recordDurable(seconds: recorder.seconds(since: ioEnd))
        }
        return stored
    }

    /// The I/O step: buffers every story's events; when the last story's buffer is full (all are,
    /// events go round-robin) writes them all collectively. - Returns: events stored per story.
    private func writeEvents(_ layout: IORLayout, units: [IORUnit], datasets: [(events: HDF5Dataset, payload: HDF5Dataset)],
                             _ recorder: inout IORPhaseRecorder) throws -> [Int] {
        let buffers = units.map { _ in BaselineBuffer(capacity: p.eventsPerTransfer, eventBytes: p.eventBytes, layout: .split) }
        var stored = [Int](repeating: 0, count: units.count)
        let stories = p.storiesPerWriter, me = UInt64(layout.rank), source = context.source, peers = context.peers
        let wall = Double(p.stonewallSeconds)
        var ops = 0
        func round() throws {
            for k in units.indices {
                let at = layout.firstSlot(in: units[k]) + stored[k]
                try datasets[k].events.write(bytes: buffers[k].records, at: at, transfer: .collective)
                try datasets[k].payload.write(bytes: buffers[k].payloads, at: at, transfer: .collective)
                stored[k] += buffers[k].count
                buffers[k].reset()
                ops += 2
            }
        }
        var stopped = false
        let ioStart = ContinuousClock.now
        _ = try IOREventLoop.run(p, &recorder, localStonewall: false) { i in
            let k = layout.story(ofEvent: i), b = buffers[k]
            b.append(time: IOREventSource.now(), clientId: me, index: UInt32(truncatingIfNeeded: i / stories),
                     slot: layout.firstSlot(in: units[k]) + stored[k] + b.count, payload: source.record(i))
            guard k == stories - 1, b.isFull else { return true }
            try round()
            // Collective writes: all writers stop after the same round.
            if wall > 0, try peers.allreduce(Int64(ContinuousClock.now - ioStart >= .seconds(wall) ? 1 : 0), op: .max) == 1 {
                stopped = true
                return false
            }
            return true
        }
        if stopped { recorder.stonewall() }
        try round()
        recorder.addOps(ops)
        return stored
    }

    func read(_ layout: IORLayout, _ units: [(unit: IORUnit, segments: [IORSegment])], _ recorder: inout IORPhaseRecorder) throws {
        let shared = !p.storyPerRank
        let path = layout.hdf5Path(owner: shared ? nil : units.first?.unit.owner)
        let file = try HDF5File.open(path: path, mode: .readOnly, communicator: communicator(shared: shared))
        var opened: [(events: HDF5Dataset, payload: HDF5Dataset)] = []
        for (unit, _) in units {
            let group = try file.root.openGroup(layout.hdf5Group(unit))
            opened.append((try group.openDataset("events"), try group.openDataset("payload")))
        }
        recorder.opened()
        let buffer = BaselineBuffer(capacity: p.eventsPerTransfer, eventBytes: p.eventBytes, layout: .split)
        var check = p.readCheck ? IORReadCheck(eventBytes: p.eventBytes, stories: p.storiesPerWriter) : nil
        do {
            for (i, (unit, segments)) in units.enumerated() {
                for s in segments { try readSegment(s, from: opened[i], story: unit.story, into: buffer.readSpace, &check, &recorder) }
            }
        } catch {
            // The file closes collectively: the other writers wait for this one's close.
            try? file.close()
            throw error
        }
        recorder.didIO()
        try file.close()
        recorder.closed()
    }

    /// Reads one writer's rows of a story, a buffer's worth of events at a time, checking each
    /// piece's first record (with `-R` every event).
    private func readSegment(_ s: IORSegment, from d: (events: HDF5Dataset, payload: HDF5Dataset), story k: Int,
                             into space: UnsafeMutableRawBufferPointer, _ check: inout IORReadCheck?,
                             _ recorder: inout IORPhaseRecorder) throws {
        let recordBytes = EventRecord.byteSize, payloadStart = p.eventsPerTransfer * recordBytes
        var row = s.firstEvent
        let end = s.firstEvent + s.events
        while row < end {
            let n = min(p.eventsPerTransfer, end - row)
            try d.events.read(range: row..<(row + n), into: UnsafeMutableRawBufferPointer(rebasing: space[0..<(n * recordBytes)]))
            try d.payload.read(range: row..<(row + n),
                               into: UnsafeMutableRawBufferPointer(rebasing: space[payloadStart..<(payloadStart + n * p.eventBytes)]))
            let length = Int(UInt32(littleEndian: space.loadUnaligned(fromByteOffset: 20, as: UInt32.self)))
            guard length == p.eventBytes else {
                throw IORError.readBack(api: api, what: "as the length of the record in row \(row)", got: length, expected: p.eventBytes)
            }
            if check != nil {
                for e in 0..<n {
                    let record = UnsafeRawBufferPointer(rebasing: space[(e * recordBytes)..<((e + 1) * recordBytes)])
                    let at = payloadStart + e * p.eventBytes
                    let payload = UnsafeRawBufferPointer(rebasing: space[at..<(at + p.eventBytes)])
                    if let problem = check!.baseline(record: record, payload: payload, writer: s.writer,
                                                     slot: row - s.firstEvent + e, story: k) {
                        throw IORError.readCheck(api: api, problem: problem)
                    }
                }
            }
            recorder.read(bytes: n * p.storedEventBytes, events: n, ops: 2)
            row += n
        }
    }

    func cachedFiles(_ layout: IORLayout) -> [String] {
        [layout.hdf5Path(owner: p.storyPerRank ? layout.rank : nil)]
    }

    func removeFiles(_ layout: IORLayout) {
        if p.storyPerRank {
            unlink(layout.hdf5Path(owner: layout.rank))
        } else if layout.rank == 0 {
            unlink(layout.hdf5Path(owner: nil))
        }
    }
}
