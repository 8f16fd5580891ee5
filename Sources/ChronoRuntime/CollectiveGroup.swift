import MPI

/// What a grapher needs of the other graphers: their number, a barrier it can test without
/// blocking (archive rounds start together), and an agreement (a maximum over every member).
/// An MPI ``Communicator`` is one; a simulator of one recording group provides a group of one.
public protocol CollectiveGroup: AnyObject {
    /// Members, this one included.
    var size: Int { get }
    /// Starts a non-blocking barrier. Collective over the group.
    /// - Returns: the barrier, to test until every member entered it.
    /// - Throws: the transport's error.
    func startBarrier() throws -> any CollectiveWait
    /// The maximum of `value` over every member. Collective and blocking over the group.
    /// - Throws: the transport's error.
    func agreeOnMaximum(_ value: Int64) throws -> Int64
}

/// A non-blocking collective in progress (a barrier).
public protocol CollectiveWait: AnyObject {
    /// Whether it completed. - Throws: the transport's error.
    func isComplete() throws -> Bool
}

extension Request: CollectiveWait {
    /// Whether the request completed (`MPI_Test`). - Throws: `MPIError`.
    public func isComplete() throws -> Bool { try test() != nil }
}

extension Communicator: CollectiveGroup {
    /// `MPI_Ibarrier` over this communicator. - Throws: `MPIError`.
    public func startBarrier() throws -> any CollectiveWait { try ibarrier() }

    /// `MPI_Allreduce` with `MPI_MAX` over this communicator. - Throws: `MPIError`.
    public func agreeOnMaximum(_ value: Int64) throws -> Int64 { try allreduce(value, op: .max) }
}
