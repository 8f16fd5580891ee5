import ArgumentParser
import ChronoClient
import ChronoDeployment
import ChronoModel
import Foundation

/// `--run-dir` and `--port`: which running service `chronolog tail` and `chronolog ls --live`
/// attach to (docs/ATTACH.md).
struct LiveServiceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The running service's run directory (default: attach.runDirectory, CHRONOLOG_ATTACH_RUN_DIRECTORY, else /tmp/chronolog-<uid>/service-<port>).",
        valueName: "dir"))
    var runDir: String?

    @Option(name: .long, help: "The portal port naming the default run directory.")
    var port: Int = RunDirectory.defaultPortalPort
}

/// A reader client attached to a running service for one command.
struct LiveService {
    let attached: AttachedService
    let client: ChronoLogClient

    /// Attaches and connects a reader. - Throws: `ChronologFailure` naming the run directory and
    /// the code (−8: no service there, −9: token refused).
    init(_ options: LiveServiceOptions) throws(ChronologFailure) {
        let config: ChronoConfig
        do throws(ChronoLogError) { config = try ChronoConfig.load(environment: ProcessInfo.processInfo.environment) } catch {
            throw ChronologFailure(path: "configuration", problem: "\(error)")
        }
        let dir = RunDirectory.resolve(explicit: options.runDir, config: config, portalPort: options.port)
        let tokenFile = config.attach.tokenFile.isEmpty ? nil : config.attach.tokenFile
        do throws(ChronoLogError) {
            attached = try AttachedService.attach(to: dir, tokenFile: tokenFile, config: config)
            client = ChronoLogClient(session: attached.session, mode: .writerReader)
            try client.connect()
        } catch {
            throw ChronologFailure(path: dir.path, problem: "\(error) (code \(error.returnCode.rawValue))")
        }
    }

    /// The current time on the visor's clock (the client's clock corrected by the measured offset).
    var visorNow: UInt64 {
        let now = Int64(bitPattern: SystemClock().now()) &+ (client.clockOffset?.offset ?? 0)
        return UInt64(max(0, now))
    }

    /// Disconnects and detaches (the gateway then forgets this client at once).
    func close() {
        try? client.disconnect()
        try? attached.detach()
    }
}
