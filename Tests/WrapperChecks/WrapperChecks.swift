import CheckHarness
import ArgumentParser

/// Small MPI programs that the wrapper tests launch under `mpirun` (the test process itself
/// never initialises MPI). Every check verifies its own results on every rank, prints
/// `PASS <name>` from rank 0 and exits 0, or prints `FAIL ...` and aborts the job.
@main
struct WrapperChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrapper-checks",
        abstract: "MPI, libfabric and parallel-HDF5 wrapper checks, run under mpirun by the test suite.",
        subcommands: [MPIChecks.self, FabricChecks.self, HDF5Checks.self])
}
