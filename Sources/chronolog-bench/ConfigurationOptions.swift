import ArgumentParser
import ChronoModel
import Foundation

/// The configuration options every job benchmark takes: `--set key=value` on top of the
/// defaults, `$CHRONOLOG_CONFIG` and `CHRONOLOG_*` variables.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: "Configuration overrides key=value.")
    var overrides: [String] = []

    /// The effective configuration.
    /// - Throws: `ChronoLogError.invalidConfiguration` naming a bad key or value.
    func load() throws -> ChronoConfig {
        var pairs: [String: String] = [:]
        for o in overrides {
            let (k, v) = try ChronoConfig.parseOverride(o)
            pairs[k] = v
        }
        return try ChronoConfig.load(environment: ProcessInfo.processInfo.environment, overrides: pairs)
    }
}
