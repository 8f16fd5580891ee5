import ChronoDeployment
import ChronoClient
import ChronoModel
import Foundation
import MPI

/// The benchmark on the writer (client) ranks: every iteration runs every API's write phase, then
/// its read phase, each between two rounds of the CPU meter; the first writer combines the
/// measurements, prints IOR's lines and writes the JSON summary.
final class IORRun {
    private let context: IORContext
    private let meter: CPUMeter
    private let runId: String
    private let began: String
    private let worldSize: Int
    private let nodes: Int
    private var p: IORParameters { context.parameters }
    private var peers: Communicator { context.peers }
    private var rows: [IORPhaseRow] = []
    private var timelines: [IORTimeline] = []
    private var backends: [IORAPI: any IORBackend] = [:]

    /// Connects the client, agrees on a run id, creates the directory and the chronicle.
    /// Collective over the writers.
    /// - Throws: `IORError.otherRank` on every writer when the directory cannot be made.
    init(session: ChronoSession, peers: Communicator, parameters: IORParameters, meter: CPUMeter) throws {
        let client = ChronoLogClient(session: session, mode: .writerReader)
        try client.connect()
        // The replay endpoint is set up once per process, like MPI or HDF5 for the baselines: not
        // inside the first read phase.
        if parameters.read && parameters.apis.contains(.chronolog) { try client.prepareReplay() }
        runId = try PeerAgreement.runStamp(peers)
        var problem = ""
        if peers.rank == 0 {
            do { try FileManager.default.createDirectory(atPath: parameters.directory, withIntermediateDirectories: true) } catch {
                problem = "cannot create -o \(parameters.directory): \(error.localizedDescription)"
            }
            if problem.isEmpty, parameters.apis.contains(.chronolog) {
                do { try client.createChronicle("ior-\(runId)") } catch { problem = "cannot create the chronicle ior-\(runId): \(error)" }
            }
        }
        problem = String(decoding: try peers.broadcast(Array(problem.utf8), root: 0), as: UTF8.self)
        guard problem.isEmpty else { throw IORError.otherRank(problem) }
        worldSize = Communicator.world.size
        nodes = session.layout.plan.groupCount
        began = Self.now()
        try CPUMeter.quietBarrier(peers, pollMicroseconds: 100)
        context = IORContext(peers: peers, parameters: parameters, origin: .now, client: client)
        self.meter = meter
        for api in parameters.apis {
            switch api {
            case .chronolog: backends[api] = ChronologBackend(context: context)
            case .posix, .mpiio: backends[api] = StreamBackend(api: api, context: context)
            case .hdf5: backends[api] = HDF5Backend(context: context)
            }
        }
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

    /// Runs every iteration. Collective over the writers (and, through the meter, the job).
    /// - Returns: the report, on the first writer.
    func run() throws -> IORReport? {
        let host = (try? MPIRuntime.processorName()) ?? ProcessInfo.processInfo.hostName
        if peers.rank == 0, p.summaryFormat == .text {
            print(IORReport.header(p, ranks: worldSize, nodes: nodes, writers: peers.size, host: host, began: began, command: CommandLine.arguments))
            fflush(nil)
        }
        for iteration in 1...p.iterations {
            // Each repetition starts one API later, so that no API always runs right after the same
            // one (on a machine where fresh pages cost more than reused ones, order matters).
            let shift = (iteration - 1) % p.apis.count
            for api in p.apis[shift...] + p.apis[..<shift] { try test(api, iteration: iteration) }
        }
        guard peers.rank == 0 else { return nil }
        let summary = IORReport.summarize(rows, apis: p.apis)
        return IORReport(began: began, finished: Self.now(), command: CommandLine.arguments, host: host, ranks: worldSize,
                         nodes: nodes, writers: peers.size, parameters: p, iterations: rows, summary: summary,
                         ratios: IORReport.ratios(summary), timeline: timelines)
    }

    /// One API in one iteration: its write phase, then its read phase, then its files go.
    private func test(_ api: IORAPI, iteration: Int) throws {
        let backend = backends[api]!
        let layout = IORLayout(parameters: p, rank: peers.rank, writers: peers.size, runId: runId, iteration: iteration)
        var written: [[Int]] = []
        // What the files held before this iteration wrote (the archive's earlier iterations; a
        // baseline's files are new): a read line's cache share counts only what was added since.
        let before = PageCache.sizes(of: backend.cachedFiles(layout))
        if p.write {
            let stored = try phase(api, .write, iteration) { try backend.write(layout, &$0) }
            written = try allgather(stored)
        }
        if p.read {
            let files = backend.cachedFiles(layout)
            if p.readCache == .cold {
                // Every writer is done writing (the write phase ended collectively); after the drop
                // every writer waits for the others, so no read starts on a file still cached.
                PageCache.drop(files)
                try CPUMeter.quietBarrier(peers, pollMicroseconds: 100)
            }
            let cache = PageCache.residency(of: files, from: before)
            _ = try phase(api, .read, iteration) { recorder in
                recorder.noteCache(cached: cache.cached, of: cache.total)
                try backend.read(layout, layout.readUnits(written: written), &recorder)
                return []
            }
        }
        if !p.keepFiles {
            try CPUMeter.quietBarrier(peers, pollMicroseconds: 100)
            backend.removeFiles(layout)
        }
    }

    /// Runs one phase between two meter rounds; all writers agree whether it failed.
    /// - Returns: what `body` returned.
    private func phase(_ api: IORAPI, _ access: IORAccess, _ iteration: Int,
                       _ body: (inout IORPhaseRecorder) throws -> [Int]) throws -> [Int] {
        let cpuBefore = try meter.round()
        var recorder = IORPhaseRecorder(rank: peers.rank, origin: context.origin, storedEventBytes: p.storedEventBytes)
        var failure: String?, out: [Int] = []
        do { out = try body(&recorder) } catch { failure = "\(error)" }
        let cpuAfter = try meter.round()
        if let failure { printError("chronolog-bench ior: writer \(peers.rank): \(api.rawValue) \(access.rawValue), iteration \(iteration): \(failure)") }
        guard try peers.allreduce(Int64(failure == nil ? 0 : 1), op: .max) == 0 else {
            throw IORError.otherRank("\(api.rawValue) \(access.rawValue) failed in iteration \(iteration) (the failing writers said why above)")
        }
        let mine = try JSONEncoder().encode(recorder.finished())
        if let pieces = try peers.gather(Array(mine), root: 0) {
            let ranks = try pieces.map { try JSONDecoder().decode(IORRankPhase.self, from: Data($0)) }
            let row = IORPhaseRow(iteration: iteration, api: api, access: access, ranks: ranks, cpuSeconds: cpuAfter - cpuBefore)
            rows.append(row)
            timelines += ranks.map {
                IORTimeline(api: api, access: access, iteration: iteration, rank: $0.rank, t: $0.timeline.t, bytes: $0.timeline.bytes)
            }
            if p.summaryFormat == .text {
                print(IORReport.line(row))
                fflush(nil)
            }
        }
        return out
    }

    /// Every writer's integers, in rank order (`MPI_Allgatherv`). Collective over the writers.
    private func allgather(_ values: [Int]) throws -> [[Int]] {
        var bytes: [UInt8] = []
        for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { bytes += $0 } }
        return try peers.allgatherv(bytes).map { piece in
            stride(from: 0, to: piece.count, by: 8).map { i in
                Int(Int64(littleEndian: piece.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i, as: Int64.self) }))
            }
        }
    }

    /// Disconnects the client (releasing anything it still holds).
    func close() throws { try context.client.disconnect() }
}
