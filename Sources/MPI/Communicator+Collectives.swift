import CChronoShims
import CMPI

/// A reduction operator for `allreduce` (`MPI_SUM`, `MPI_MAX`, `MPI_MIN`).
public enum ReduceOp: Sendable {
    case sum, max, min

    var raw: MPI_Op {
        switch self {
        case .sum: chrono_mpi_op_sum()
        case .max: chrono_mpi_op_max()
        case .min: chrono_mpi_op_min()
        }
    }
}

/// Scalar types that `allreduce` can combine, with their MPI datatype.
public protocol ReducibleScalar: Sendable {
    /// The matching MPI datatype.
    static var mpiDatatype: MPIDatatype { get }
}

/// An opaque MPI datatype (kept opaque so no C type appears in the public API).
public struct MPIDatatype: @unchecked Sendable {
    let raw: MPI_Datatype
}

extension Int64: ReducibleScalar { public static var mpiDatatype: MPIDatatype { MPIDatatype(raw: chrono_mpi_int64()) } }
extension UInt64: ReducibleScalar { public static var mpiDatatype: MPIDatatype { MPIDatatype(raw: chrono_mpi_uint64()) } }
extension Double: ReducibleScalar { public static var mpiDatatype: MPIDatatype { MPIDatatype(raw: chrono_mpi_double()) } }

extension Communicator {
    /// Waits until every process of the communicator calls it (`MPI_Barrier`). Collective.
    public func barrier() throws {
        try check(MPI_Barrier(handle), "MPI_Barrier")
    }

    /// Starts a barrier without blocking (`MPI_Ibarrier`): the request completes once every
    /// process of the communicator has started it. Collective.
    public func ibarrier() throws -> Request {
        var req: MPI_Request? = chrono_mpi_request_null()
        try check(MPI_Ibarrier(handle, &req), "MPI_Ibarrier")
        return Request(handle: req, buffer: nil, ownsBuffer: false)
    }

    /// Broadcasts bytes of any length from `root` (`MPI_Bcast` of the length, then the data).
    /// Collective. `bytes` is read on the root and ignored elsewhere.
    /// - Returns: the root's bytes, on every process.
    public func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] {
        var length = Int64(rank == root ? bytes.count : 0)
        try check(MPI_Bcast(&length, 1, chrono_mpi_int64(), Int32(root), handle), "MPI_Bcast")
        try checkCount(Int(length), "MPI_Bcast")
        var data = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        if length > 0 {
            try data.withUnsafeMutableBytes { (p) in
                try check(MPI_Bcast(p.baseAddress, Int32(length), chrono_mpi_byte(), Int32(root), handle), "MPI_Bcast")
            }
        }
        return data
    }

    /// Gathers each process's bytes (any lengths) at `root` (`MPI_Gather` of lengths + `MPI_Gatherv`).
    /// Collective. - Returns: the pieces in rank order on the root, `nil` elsewhere.
    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        try checkCount(bytes.count, "MPI_Gather")
        var mine = Int32(bytes.count)
        var counts = [Int32](repeating: 0, count: rank == root ? size : 1)
        try check(MPI_Gather(&mine, 1, chrono_mpi_int(), &counts, 1, chrono_mpi_int(), Int32(root), handle), "MPI_Gather")
        let isRoot = rank == root
        let (displs, total) = try Self.displacements(isRoot ? counts : [0], call: "MPI_Gatherv")
        var all = [UInt8](repeating: 0, count: max(total, 1))
        try bytes.withUnsafeBytes { (src) in
            try all.withUnsafeMutableBytes { (dst) in
                try counts.withUnsafeBufferPointer { (c) in
                    try displs.withUnsafeBufferPointer { (d) in
                        try check(
                            MPI_Gatherv(src.baseAddress, mine, chrono_mpi_byte(), dst.baseAddress, c.baseAddress, d.baseAddress,
                                        chrono_mpi_byte(), Int32(root), handle),
                            "MPI_Gatherv")
                    }
                }
            }
        }
        guard isRoot else { return nil }
        return Self.slices(all, counts: counts, displs: displs)
    }

    /// Gathers each process's bytes (any lengths) at `root` as ``gather(_:root:)`` does, with the
    /// non-blocking calls (`MPI_Igather` of lengths + `MPI_Igatherv`), each completed by `wait`
    /// (which must return only once the request completed, e.g. by testing it in a loop). Collective.
    ///
    /// Open MPI 4.1 at `MPI_THREAD_MULTIPLE` lets one waiting thread at a time drive its progress
    /// engine; the others sleep until that thread's wait ends. A blocking collective on a thread
    /// while another thread is stuck inside MPI's progress (an `MPI_Comm_accept` whose peer
    /// vanished mid-handshake) never completes; `MPI_Test` drives the progress itself.
    /// - Returns: the pieces in rank order on the root, `nil` elsewhere.
    public func gather(_ bytes: [UInt8], root: Int, completing wait: (Request) throws -> Void) throws -> [[UInt8]]? {
        try checkCount(bytes.count, "MPI_Igather")
        var mine = Int32(bytes.count)
        var counts = [Int32](repeating: 0, count: rank == root ? size : 1)
        var req: MPI_Request? = chrono_mpi_request_null()
        try check(MPI_Igather(&mine, 1, chrono_mpi_int(), &counts, 1, chrono_mpi_int(), Int32(root), handle, &req), "MPI_Igather")
        try wait(Request(handle: req, buffer: nil, ownsBuffer: false))
        let isRoot = rank == root
        let (displs, total) = try Self.displacements(isRoot ? counts : [0], call: "MPI_Igatherv")
        var all = [UInt8](repeating: 0, count: max(total, 1))
        try bytes.withUnsafeBytes { (src) in
            try all.withUnsafeMutableBytes { (dst) in
                try counts.withUnsafeBufferPointer { (c) in
                    try displs.withUnsafeBufferPointer { (d) in
                        var req: MPI_Request? = chrono_mpi_request_null()
                        try check(
                            MPI_Igatherv(src.baseAddress, mine, chrono_mpi_byte(), dst.baseAddress, c.baseAddress, d.baseAddress,
                                         chrono_mpi_byte(), Int32(root), handle, &req),
                            "MPI_Igatherv")
                        try wait(Request(handle: req, buffer: nil, ownsBuffer: false))
                    }
                }
            }
        }
        guard isRoot else { return nil }
        return Self.slices(all, counts: counts, displs: displs)
    }

    /// Gathers one fixed-size value from every process to all (`MPI_Allgather`). Collective.
    public func allgather<T: BitwiseCopyable>(_ value: T) throws -> [T] {
        var mine = value
        let n = size
        var out = [T](repeating: value, count: n)
        let width = Int32(MemoryLayout<T>.stride)
        try out.withUnsafeMutableBytes { (dst) in
            try withUnsafeBytes(of: &mine) { (src) in
                try check(
                    MPI_Allgather(src.baseAddress, width, chrono_mpi_byte(), dst.baseAddress, width, chrono_mpi_byte(), handle),
                    "MPI_Allgather")
            }
        }
        return out
    }

    /// Gathers each process's bytes (any lengths) to all (`MPI_Allgather` + `MPI_Allgatherv`).
    /// Collective. - Returns: the pieces in rank order.
    public func allgatherv(_ bytes: [UInt8]) throws -> [[UInt8]] {
        try checkCount(bytes.count, "MPI_Allgatherv")
        let counts = try allgather(Int32(bytes.count))
        let (displs, total) = try Self.displacements(counts, call: "MPI_Allgatherv")
        var all = [UInt8](repeating: 0, count: max(total, 1))
        try bytes.withUnsafeBytes { (src) in
            try all.withUnsafeMutableBytes { (dst) in
                try check(
                    MPI_Allgatherv(src.baseAddress, Int32(bytes.count), chrono_mpi_byte(), dst.baseAddress, counts, displs,
                                   chrono_mpi_byte(), handle),
                    "MPI_Allgatherv")
            }
        }
        return Self.slices(all, counts: counts, displs: displs)
    }

    /// Combines `values` element-wise over all processes with `op` (`MPI_Allreduce`). Collective.
    public func allreduce<T: ReducibleScalar>(_ values: [T], op: ReduceOp) throws -> [T] {
        guard !values.isEmpty else { return [] }
        var out = values
        try values.withUnsafeBytes { (src) in
            try out.withUnsafeMutableBytes { (dst) in
                try check(
                    MPI_Allreduce(src.baseAddress, dst.baseAddress, Int32(values.count), T.mpiDatatype.raw, op.raw, handle),
                    "MPI_Allreduce")
            }
        }
        return out
    }

    /// Combines `values` element-wise over all processes with `op` as ``allreduce(_:op:)-swift.method`` does,
    /// with `MPI_Iallreduce` completed by `wait` (see ``gather(_:root:completing:)``). Collective.
    public func allreduce<T: ReducibleScalar>(_ values: [T], op: ReduceOp, completing wait: (Request) throws -> Void) throws -> [T] {
        guard !values.isEmpty else { return [] }
        var out = values
        try values.withUnsafeBytes { (src) in
            try out.withUnsafeMutableBytes { (dst) in
                var req: MPI_Request? = chrono_mpi_request_null()
                try check(
                    MPI_Iallreduce(src.baseAddress, dst.baseAddress, Int32(values.count), T.mpiDatatype.raw, op.raw, handle, &req),
                    "MPI_Iallreduce")
                try wait(Request(handle: req, buffer: nil, ownsBuffer: false))
            }
        }
        return out
    }

    /// Combines one value over all processes with `op` (`MPI_Allreduce`). Collective.
    public func allreduce<T: ReducibleScalar>(_ value: T, op: ReduceOp) throws -> T {
        try allreduce([value], op: op)[0]
    }

    private static func displacements(_ counts: [Int32], call: String) throws -> ([Int32], Int) {
        var displs = [Int32](repeating: 0, count: counts.count)
        var total = 0
        for (i, c) in counts.enumerated() {
            displs[i] = Int32(truncatingIfNeeded: total)
            total += Int(c)
            if total > Int(Int32.max) {
                throw MPIError(call: call, message: "gathered total exceeds \(Int32.max) bytes")
            }
        }
        return (displs, total)
    }

    private static func slices(_ all: [UInt8], counts: [Int32], displs: [Int32]) -> [[UInt8]] {
        zip(counts, displs).map { c, d in Array(all[Int(d)..<Int(d) + Int(c)]) }
    }
}
