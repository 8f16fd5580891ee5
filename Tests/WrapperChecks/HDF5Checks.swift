
import ArgumentParser
/// Parallel-HDF5 checks (filled in with the HDF5 wrapper).
struct HDF5Checks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hdf5", abstract: "HDF5 wrapper checks.")
}
