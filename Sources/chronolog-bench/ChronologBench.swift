import ArgumentParser

/// `chronolog-bench`: IOR-style benchmark jobs and micro-benchmarks. See `benchmarks/`.
@main
struct ChronologBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chronolog-bench",
        abstract: "Benchmarks for ChronoLog-Swift (run the MPI ones under mpirun).",
        discussion: "Scripts in benchmarks/ build in release mode and run these with the documented settings.",
        subcommands: [ModelBench.self, MetadataBench.self, IngestBench.self, ReplayBench.self, LastBench.self, IORBench.self])
}
