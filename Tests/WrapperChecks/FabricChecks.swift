
import ArgumentParser
/// libfabric checks (filled in with the Fabric wrapper).
struct FabricChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fabric", abstract: "libfabric wrapper checks.")
}
