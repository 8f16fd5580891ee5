import ChronoRuntime
import ChronoModel
import MPI

extension JobMembership {
    /// After `serve` returned on the recording processes: a raw RMA read (`fi_read`) of
    /// `byteCount` bytes between the same two kinds of ranks that move chunks — from the first
    /// keeper of recording group 0 into that group's grapher — to set the job's chunk-transfer
    /// bandwidth against. The byte count used is the largest any recording process passes (the
    /// grapher knows the chunk size it saw). Collective over the recording processes; on other
    /// ranks it does nothing.
    /// - Returns: bytes per second on that grapher; nil on every other rank.
    /// - Throws: `FabricError` or `MPIError`.
    public func measureRawChunkRead(byteCount: Int, repetitions: Int) throws -> Double? {
        guard let recorders, let bulk, let bulkMembers else { return nil }
        let size = Int(try recorders.allreduce(Int64(byteCount), op: .max))
        guard size > 0, let keeper = layout.plan.ranks(of: .keeper, inGroup: 0).first,
              let grapher = layout.plan.ranks(of: .grapher, inGroup: 0).first else { return nil }
        return try bulk.measureRead(members: bulkMembers, worldRank: layout.worldRank, exposer: keeper, reader: grapher,
                                    byteCount: size, repetitions: repetitions)
    }
}
