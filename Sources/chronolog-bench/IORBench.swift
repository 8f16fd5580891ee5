import ChronoDeployment
import ChronoSystem
import ArgumentParser
import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation
import MPI

/// `chronolog-bench ior`: an IOR-style benchmark job that stores the same events through
/// ChronoLog-Swift and through POSIX, MPI-IO and HDF5 in one run, and prints IOR's lines.
struct IORBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ior",
        abstract: "IOR-style comparison: the same events stored through CHRONOLOG, POSIX, MPI-IO and HDF5 in one job.",
        usage: "mpirun -n N chronolog-bench ior [-a APIS] [-t BYTES] [-b SIZE] [-s N] [-F] [-w] [-r] [-C] [-R] [-i N] [-D S] [-e] [-o DIR] [options]",
        discussion: """
            Run under mpirun; the job is a ChronoLog-Swift deployment (rank 0 visor, a recording group \
            of keeper, grapher and player per node) whose client ranks are the writers, e.g. \
            `mpirun -n 6 chronolog-bench ior` has 2 writers. In every repetition each API of -a runs in \
            turn (in -a's order in the first repetition, each further one starting one API later, so that \
            no API always follows the same one): a write phase (open, I/O, close steps, timed per writer; the rates divide the bytes of \
            all writers by the slowest writer's time), then a read phase, then the baselines' files are \
            removed (not with -k). By default (--read-cache cold) every API's files, and for CHRONOLOG the \
            archive's, are dropped from the page cache before its read phase, so every API reads from \
            storage, as a rank reading another node's data does on a cluster. With --read-cache kept they \
            stay as written: the baselines' files whole, while a grapher keeps only the archive's last \
            archive.pageCacheBytes (256 MiB by default, shown in the header), so a replay of more reads \
            the file from disk while the baselines read memory (raise it with --set to compare memory \
            with memory). Each read line says how much of the bytes its files gained in the repetition (a \
            baseline's files whole; the archive's bytes past its size before the write phase, since the \
            archive keeps earlier repetitions, whose pages a reader still mapping them keeps cached) the \
            page cache held at the start.

            Every API stores the same events: -t record bytes each plus the 32-byte event record \
            ChronoLog-Swift keeps per event (time, client id, index, length, offset); MiB/s counts both. \
            A writer's i-th event goes to its story i mod -s. CHRONOLOG: logEvent into stories of one \
            chronicle (open = acquire, close = flush to the keepers), read back by replay through the \
            player. POSIX: pwrite/pread of one file per story. MPIIO: MPI_File_write_at/read_at \
            (independent) of one file per story. HDF5: collective H5Dwrite into a records and a payload \
            dataset per story (allocated at creation, no fill values written), read back with \
            independent H5Dread. The baselines buffer --buffer-size bytes per story and write each \
            full buffer with one call. Shared (no -F): every writer owns \
            a segment of each shared file; each shared story is read whole by one rank (story k by rank \
            k mod writers; with -C each rank reads what the next rank would have read).

            Without -e the write phase ends when the data is handed over (CHRONOLOG: the keepers hold \
            it; baselines: closed, in the page cache) and is then made durable untimed (CHRONOLOG: \
            flush(durable: true); baselines: fsync); with -e that wait is part of the close step \
            (baselines: fsync, MPI_File_sync, H5Fflush). Time-to-durable: from the end of the I/O step \
            to durable, one sample per story or file, plus for CHRONOLOG a probe timing a durable \
            flush every --durable-probe-ms while it logs. Per-event call latency: every \
            --sample-every-th logEvent or baseline append (which includes the I/O call when it fills a \
            buffer), the largest percentile over writers. CPU s/event: CPU seconds of every rank of the \
            job (service ranks too) from the start of a phase until its events are durable, per event. \
            Ops are logEvent calls (read: replay pieces) for CHRONOLOG and I/O calls for the baselines, \
            so only events/s compares across APIs; the ratios leave ops/s out.

            Output: the options, a line per API, phase and repetition, "Summary of all tests" \
            (Max/Min/Mean/StdDev MiB/s and ops/s per API), the per-event figures, and every CHRONOLOG \
            figure divided by the best baseline's of the same run. -O summaryFormat=JSON prints the \
            JSON document instead of the text (the job summary still follows on standard output; the \
            job's progress lines go to standard error); \
            --json FILE (or -O summaryFile=FILE) writes it to FILE; benchmarks/plot.py draws its \
            timeline. The job's own summary follows. Every read phase checks that each story (file) gives \
            back as many events as were written and, for the baselines, the length in the first record \
            of each I/O call; -R checks every event's record and bytes, so a rank reading other data \
            than its writer's (-C) fails. Exit status: 0; 1 when a phase failed on some \
            writer (read back other than written, an I/O error) or events were lost; 64 for a usage error \
            (a message names the option and its bounds); 2 when the job is too small for its roles.
            """)

    @Option(name: .customShort("a"), help: ArgumentHelp("APIs to run, comma-separated, in order: CHRONOLOG, POSIX, MPIIO, HDF5.", valueName: "apis"))
    var api = "CHRONOLOG,POSIX,MPIIO,HDF5"

    @Option(name: .customShort("t"), parsing: .unconditional,
            help: ArgumentHelp("Record bytes per event (suffix k or m allowed), 1 … story.maxEventBytes.", valueName: "bytes"))
    var eventSize = "256"

    @Option(name: .customShort("b"), parsing: .unconditional, help: ArgumentHelp("Per writer and write phase: bytes of event records (suffix k, m, g, t) or events (suffix e).", valueName: "size"))
    var block = "1m"

    @Option(name: .customShort("s"), parsing: .unconditional, help: ArgumentHelp("Stories (files) per writer, 1 … 4096.", valueName: "n"))
    var stories = 1

    @Flag(name: .customShort("F"), help: "A story (file) per writer instead of stories (files) shared by all writers.")
    var storyPerRank = false

    @Flag(name: .customShort("w"), help: "Run the write phase (with neither -w nor -r: write, then read).")
    var writePhase = false

    @Flag(name: .customShort("r"), help: "Run the read phase (needs the write phase of the same run: -w -r).")
    var readPhase = false

    @Flag(name: .customShort("C"), help: "Read another rank's data: the next rank's stories with -F; shared, what the next rank would have read.")
    var readOtherRank = false

    @Flag(name: .customShort("R"), help: "Check every event read back against what its writer wrote: its record and all its bytes (IOR's readCheck; the check's time counts in the read phase).")
    var readCheck = false

    @Option(name: .customShort("i"), parsing: .unconditional, help: ArgumentHelp("Repetitions, 1 … 10000.", valueName: "n"))
    var repetitions = 1

    @Option(name: .customShort("D"), parsing: .unconditional, help: ArgumentHelp("Stonewall: a writer stops writing after this many seconds (0 = off, at most 86400).", valueName: "seconds"))
    var stonewall = 0

    @Flag(name: .customShort("e"), help: "The write phase ends only once the events are durable (fsync, MPI_File_sync, H5Fflush, flush(durable:)).")
    var durable = false

    @Option(name: .customShort("o"), help: ArgumentHelp("Directory of the baselines' files and, unless --set archive.directory is given, of the archive.", valueName: "dir"))
    var directory = "ior-data"

    @Option(name: .customShort("O"), help: ArgumentHelp("IOR settings: summaryFormat=JSON|default, summaryFile=PATH.", valueName: "key=value"))
    var iorSettings: [String] = []

    @Option(name: .customLong("json"), help: ArgumentHelp("Write the JSON summary to this file.", valueName: "file"))
    var jsonFile: String?

    @Flag(name: .customShort("k"), help: "Keep the baselines' files.")
    var keepFiles = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Baselines: bytes buffered per story before one I/O call (suffix k, m, g).", valueName: "bytes"))
    var bufferSize = "1m"

    @Option(parsing: .unconditional, help: ArgumentHelp("Time every n-th per-event call, 1 … 1000000.", valueName: "n"))
    var sampleEvery = 8

    @Option(parsing: .unconditional, help: ArgumentHelp("CHRONOLOG: ms between durable-flush probes while logging (0 = none), at most 60000.", valueName: "ms"))
    var durableProbeMs = 100

    @Option(help: ArgumentHelp("What the page cache holds at each read phase's start: cold (every API's files dropped) or kept (as written).",
                               valueName: "cold|kept"))
    var readCache = "cold"

    @OptionGroup var configuration: ConfigurationOptions

    func validate() throws {
        let p = try parameters(config: try loadConfig())
        // Tried now, not after the whole run.
        if let file = p.summaryFile, let problem = OutputFile.problem(creating: file) {
            throw ValidationError("\(jsonFile != nil ? "--json" : "-O summaryFile=")\(jsonFile != nil ? " " : "")\(file): \(problem)")
        }
    }

    /// The configuration, with `archive.directory` = `-o` unless `--set archive.directory=` names one.
    func loadConfig() throws -> ChronoConfig {
        var options = configuration
        if !options.overrides.contains(where: { $0.hasPrefix("archive.directory=") }) {
            options.overrides.append("archive.directory=\(directory)")
        }
        do { return try options.load() } catch { throw ValidationError("\(error)") }
    }

    /// The validated parameters. - Throws: `ValidationError` naming the option and its bounds.
    func parameters(config: ChronoConfig) throws -> IORParameters {
        guard let t = Self.parseSize(eventSize), t > 0 else { throw ValidationError("-t \(eventSize): expected a positive number of bytes") }
        guard let buffer = Self.parseSize(bufferSize) else { throw ValidationError("--buffer-size \(bufferSize): expected a number of bytes (suffix k, m, g)") }
        let (format, summaryFile) = try IORParameters.parseIOROptions(iorSettings)
        guard let cache = IORReadCache(rawValue: readCache) else {
            throw ValidationError("--read-cache \(readCache): expected cold or kept")
        }
        let both = !writePhase && !readPhase
        let p = IORParameters(
            apis: try IORAPI.parseList(api), eventBytes: t, eventsPerWriter: try IORParameters.parseBlock(block, eventBytes: t),
            storiesPerWriter: stories, storyPerRank: storyPerRank, write: both || writePhase, read: both || readPhase,
            readOtherRank: readOtherRank, iterations: repetitions, stonewallSeconds: stonewall, durable: durable,
            directory: directory, bufferBytes: buffer, sampleEvery: sampleEvery, durableProbeMs: durableProbeMs, keepFiles: keepFiles,
            summaryFormat: format, summaryFile: jsonFile ?? summaryFile, archivePageCacheBytes: config.archive.pageCacheBytes,
            archiveDirectory: config.archive.directory, readCache: cache, readCheck: readCheck)
        try p.validate(maxEventBytes: config.story.maxEventBytes)
        return p
    }

    /// Parses bytes with an optional k, m or g suffix (powers of 1024); nil when malformed or huge.
    static func parseSize(_ text: String) -> Int? {
        let lower = text.lowercased()
        let multipliers: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        let m = lower.last.flatMap { multipliers[$0] }
        guard let n = Int(m == nil ? Substring(lower) : lower.dropLast()), n >= 0 else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: m ?? 1)
        return overflow || v > 1 << 40 ? nil : v
    }

    func run() throws {
        let config = try loadConfig()
        let p = try parameters(config: config)
        ShutdownSignal.install()
        var job = ChronoJob(config: config, minimumClients: 1)
        // Standard output is the report (text, or the JSON document): progress lines go to standard error.
        job.progressOutput = { line in printError(line) }
        let m: JobMembership
        do {
            m = try job.join(asService: true)
        } catch let error as ChronoJob.JoinError where error.isAgreed {
            guard LaunchEnvironment.isFirstRankOfApplication else { return }
            printError("chronolog-bench ior: \(error)")
            throw ExitCode(2)
        }
        let meter = try CPUMeter()
        var counters: Counters = [:], status: Int32 = 0
        if let session = m.session, let peers = m.peers {
            status = Self.runWriter(session: session, peers: peers, parameters: p, meter: meter)
            if status != 0 { counters[.workloadFailed] = 1 }
        } else {
            meter.serveInBackground()
            do { (counters, status) = try job.serve(m) } catch {
                printError("chronolog-bench ior: rank \(m.layout.worldRank) (\(m.assignment.role)) failed: \(error)")
                MPIRuntime.abort(code: 1)
            }
            meter.waitServed(seconds: 10)
        }
        let exit = job.leave(m, counters: counters, status: status)
        if exit != 0 { throw ExitCode(exit) }
    }

    /// The benchmark on a writer rank; ends the meter's rounds whatever happens.
    /// - Returns: 0, or 1 when a phase failed.
    static func runWriter(session: ChronoSession, peers: Communicator, parameters p: IORParameters, meter: CPUMeter) -> Int32 {
        var status: Int32 = 0
        do {
            let run = try IORRun(session: session, peers: peers, parameters: p, meter: meter)
            if let report = try run.run() { try publish(report, parameters: p) }
            try run.close()
        } catch let error as IORError {
            if peers.rank == 0 { printError("chronolog-bench ior: \(error)") }
            status = 1
        } catch {
            printError("chronolog-bench ior: writer \(peers.rank): \(error)")
            MPIRuntime.abort(code: 1)
        }
        do { _ = try meter.round(last: true) } catch {
            printError("chronolog-bench ior: writer \(peers.rank): \(error)")
            MPIRuntime.abort(code: 1)
        }
        return status
    }

    /// Prints the summary (text or JSON) and writes the JSON file.
    static func publish(_ report: IORReport, parameters p: IORParameters) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(report)
        if p.summaryFormat == .json {
            print(String(decoding: json, as: UTF8.self))
        } else {
            print(report.renderedSummary)
        }
        if let file = p.summaryFile {
            do { try json.write(to: URL(fileURLWithPath: file)) } catch {
                throw IORError.otherRank("cannot write the JSON summary to \(file): \(error.localizedDescription)")
            }
            if p.summaryFormat == .text { print("JSON summary        : \(file)") }
        }
        fflush(nil)
    }
}
