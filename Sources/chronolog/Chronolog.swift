import ArgumentParser

/// `chronolog`: the offline command-line tool for ChronoLog-Swift archives (no job needed).
@main
struct Chronolog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chronolog",
        abstract: "Inspect ChronoLog-Swift archives without a running job.",
        discussion: """
            Archive commands (ls, replay, verify, stats) arrive with the archive format; \
            this build offers `version`.
            """,
        version: ChronologVersion.string,
        subcommands: [Version.self])

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the tool and protocol versions.")
        func run() {
            print("chronolog \(ChronologVersion.string)")
        }
    }
}

enum ChronologVersion {
    static let string = "0.1.0"
}
