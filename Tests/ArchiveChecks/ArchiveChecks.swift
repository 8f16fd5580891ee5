import ArgumentParser

/// Collective archive-writing programs run by ArchiveTests under mpirun (placeholder).
@main
struct ArchiveChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "archive-checks")
}
