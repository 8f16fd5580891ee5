import ChronoRuntime
import ChronoModel
import Foundation

/// What the launcher (mpirun, srun) tells a process before MPI starts.
public enum LaunchEnvironment {
    /// Whether this process is the first rank of its application (of its part of an MPMD
    /// launch), which reports errors that every rank of the application hits alike, so they are
    /// printed once. Under OpenMPI: `OMPI_COMM_WORLD_RANK` is the first rank of app number
    /// `OMPI_MCA_orte_app_num` (from `OMPI_APP_CTX_NUM_PROCS`); under other launchers,
    /// `PMI_RANK`/`SLURM_PROCID` 0; without a launcher, true.
    public static var isFirstRankOfApplication: Bool {
        let env = ProcessInfo.processInfo.environment
        if let rank = env["OMPI_COMM_WORLD_RANK"].flatMap(Int.init) {
            let app = env["OMPI_MCA_orte_app_num"].flatMap(Int.init) ?? 0
            let sizes = (env["OMPI_APP_CTX_NUM_PROCS"] ?? "").split(separator: " ").compactMap { Int($0) }
            let first = sizes.prefix(app).reduce(0, +)
            return rank == first
        }
        if let rank = env["PMI_RANK"] ?? env["SLURM_PROCID"] { return rank == "0" }
        return true
    }
}
