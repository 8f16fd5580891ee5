import ChronoSystem
import ChronoDeployment
import ArgumentParser
import ChronoClient
import ChronoModel
import ChronoRoles
import Foundation

/// `chronolog-job`: every ChronoLog-Swift tier inside one MPI job.
@main
struct ChronologJob: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chronolog-job",
        abstract: "Run a ChronoLog-Swift deployment inside one MPI job.",
        usage: "mpirun -n N chronolog-job [options]",
        discussion: """
            The lowest rank running chronolog-job becomes the visor; the other ranks are grouped by node (shared-memory split) \
            and each node hosts one recording group (keepers, one grapher, players); ranks left \
            over are clients, which run the built-in workload (--workload). Events are archived in \
            parallel HDF5 under archive.directory (default ./chronolog-archive). The rank → role → \
            node → group map is printed at start-up and a summary at the end (--summary-json: also as \
            JSON). Every progress.intervalMs (5 s) the visor prints a progress line (events/s in and \
            archived, events not yet durable, memory held, late and rejected so far, fresh pages \
            touched by keepers and graphers); --quiet turns \
            it off.

            Configuration: defaults, then the JSON file (--config or $CHRONOLOG_CONFIG), then \
            CHRONOLOG_<KEY> environment variables, then --set key=value, then the shortcut \
            options below. An unknown or mistyped key is an error naming it (--print-config shows \
            every key and its effective value).

            Exit status: 0 when the job ended cleanly and nothing was lost; 1 when a rank failed \
            or events were lost; 2 for a usage or configuration error (a value out of its range \
            names the key and the range) or a job too small for the requested roles (the message \
            names the smallest -n that works). SIGTERM/SIGINT stop the job after draining what was \
            accepted; an mpirun that was itself signalled exits 1 whatever the job did, so the \
            job's own status is the summary's last line ("exit status: N").

            CHRONOLOG_RANKS, CHRONOLOG_BIN, CHRONOLOG_BENCH_BIN and CHRONOLOG_SRUN_MPI belong to the launch scripts \
            (scripts/run-job.sh, jobs/) and are not configuration keys.
            """)

    @Option(name: .long, help: "JSON configuration file.")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one configuration key (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "Keepers per recording group (ChronoLog's K), 1 to 64; shortcut for --set deployment.keepersPerNode=K.")
    var keepersPerNode: Int?

    @Option(name: .long, parsing: .unconditional, help: "Players per recording group, 0 to 64 (0: no replay, queries answer -10; with several, one serves the group's replays and the others stand by idle); shortcut for --set deployment.playersPerNode=P.")
    var playersPerNode: Int?

    @Option(name: .long, parsing: .unconditional, help: "Split each physical node into V virtual nodes, each with its own recording group (to exercise several groups on one machine).")
    var virtualNodes: Int?

    @Option(name: .long, help: "Built-in workload on the client ranks: demo (connect, create a chronicle, acquire stories, log events, release, disconnect), none, or serve (the first client rank accepts attached clients of --run-dir until SIGTERM/SIGINT or --serve-seconds; start it with jobs/chronolog-service.sh, docs/ATTACH.md).")
    var workload: WorkloadKind = .demo

    @Option(name: .long, help: ArgumentHelp("The run directory of --workload serve (ompi-server.uri, service-name, token, token.read; written by jobs/chronolog-service.sh).", valueName: "dir"))
    var runDir: String?

    @Option(name: .long, parsing: .unconditional, help: "With --workload serve: stop serving after this many seconds, more than 0 and at most one year (default: until SIGTERM/SIGINT).")
    var serveSeconds: Double?

    @Option(name: .long, parsing: .unconditional, help: "Stories each client acquires in the demo workload, 0 to 100000.")
    var stories: Int = 2

    @Option(name: .long, parsing: .unconditional, help: "Acquire/release rounds of the demo workload, 0 to 2147483647 (it stops early on SIGTERM/SIGINT: a large value runs until then).")
    var rounds: Int = 1

    @Option(name: .long, parsing: .unconditional, help: "Events each client logs to each story per round in the demo workload, 0 to 1000000000.")
    var events: Int = 100

    @Flag(name: .long, help: "No progress lines during the job (shortcut for --set progress.enabled=false); the rank map and the summary are still printed.")
    var quiet = false

    @Option(name: .long, help: ArgumentHelp("Also write the summary, every counter of it, as JSON to this file (the visor writes it at the end; its directory must exist).", valueName: "file"))
    var summaryJSON: String?

    @Flag(name: .long, help: "Print the effective configuration (JSON) and exit.")
    var printConfig = false

    enum WorkloadKind: String, ExpressibleByArgument, CaseIterable {
        case demo, none, serve
    }

    /// Parses the command line, printing usage errors once (from rank 0) rather than from every rank.
    static func main() {
        // Whole lines: mpirun merges every rank's output, and a line a rank writes in two pieces
        // (a full buffer) can be split by another rank's.
        StandardOutput.lineBuffered()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // Every rank parses the same command line: one reports the error and fails; the
            // others leave quietly so that mpirun does not kill the reporter before it prints.
            let code = Self.exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            guard LaunchEnvironment.isFirstRankOfApplication else { Foundation.exit(0) }
            // Usage and configuration errors exit 2, as --help says (ArgumentParser's own is 64).
            FileHandle.standardError.write(Data((Self.fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }

    /// The demo workload's bounds: 100 000 stories per client, 2^31 − 1 rounds (a job that runs
    /// until signalled), a billion events per story and round; a service serves a year at most.
    static let maxStories = 100_000, maxRounds = Int(Int32.max), maxEvents = 1_000_000_000
    static let maxServeSeconds = 365.0 * 86_400

    func validate() throws {
        guard (0...Self.maxStories).contains(stories) else { throw ValidationError("--stories must be 0 to \(Self.maxStories), got \(stories)") }
        guard (0...Self.maxRounds).contains(rounds) else { throw ValidationError("--rounds must be 0 to \(Self.maxRounds), got \(rounds)") }
        guard (0...Self.maxEvents).contains(events) else { throw ValidationError("--events must be 0 to \(Self.maxEvents), got \(events)") }
        if let summaryJSON { try Self.checkWritable(summaryJSON) }
        if workload == .serve && runDir == nil { throw ValidationError("--workload serve needs --run-dir") }
        if workload != .serve && runDir != nil { throw ValidationError("--run-dir is for --workload serve") }
        if let serveSeconds {
            guard workload == .serve else { throw ValidationError("--serve-seconds is for --workload serve") }
            guard serveSeconds > 0 && serveSeconds <= Self.maxServeSeconds else {
                throw ValidationError("--serve-seconds must be more than 0 and at most \(Int(Self.maxServeSeconds)) (one year), got \(serveSeconds)")
            }
        }
    }

    /// Fails at start-up, not after the whole job, when the `--summary-json` file cannot be
    /// created (``OutputFile/problem(creating:)``).
    static func checkWritable(_ path: String) throws {
        if let problem = OutputFile.problem(creating: path) {
            throw ValidationError(path.isEmpty ? "--summary-json \(problem)" : "--summary-json \(path): \(problem)")
        }
    }

    /// The effective configuration, or a validation error naming the bad key.
    func effectiveConfig() throws -> ChronoConfig {
        var pairs: [String: String] = [:]
        for o in overrides {
            do {
                let (k, v) = try ChronoConfig.parseOverride(o)
                pairs[k] = v
            } catch {
                throw ValidationError("--set \(o): \(error)")
            }
        }
        if let keepersPerNode { pairs["deployment.keepersPerNode"] = String(keepersPerNode) }
        if let playersPerNode { pairs["deployment.playersPerNode"] = String(playersPerNode) }
        if let virtualNodes { pairs["deployment.virtualNodes"] = String(virtualNodes) }
        if quiet { pairs["progress.enabled"] = "false" }
        do {
            return try ChronoConfig.load(file: config, environment: ProcessInfo.processInfo.environment, overrides: pairs)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
    }

    func run() throws {
        let config = try effectiveConfig()
        if printConfig {
            print(config.effectiveDescription())
            return
        }
        var job = ChronoJob(config: config, minimumClients: workload == .none ? 0 : 1)
        job.summaryJSONPath = summaryJSON
        let stories = self.stories, workload = self.workload, rounds = self.rounds, events = self.events
        let runDir = self.runDir, serveSeconds = self.serveSeconds
        let code = job.run { session, logger in
            switch workload {
            case .none: return [:]
            case .serve:
                // The first client rank is the gateway; other client ranks have nothing to do.
                guard session.layout.worldRank == session.layout.plan.ranks(of: .client).first, let runDir else { return [:] }
                let until = serveSeconds.map { ContinuousClock.now + .milliseconds(Int($0 * 1000)) }
                return try AttachGateway(session: session, runDirectory: RunDirectory(path: runDir), logger: logger).run(until: until)
            case .demo:
                return try DemoWorkload(session: session, storiesPerClient: stories, rounds: rounds, eventsPerStory: events, logger: logger).run()
            }
        }
        if code != 0 { throw ExitCode(code) }
    }
}
