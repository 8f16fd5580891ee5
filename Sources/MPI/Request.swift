import CChronoShims
import CMPI

/// What a completed receive or probe reports: the sender, the tag and the size in bytes.
public struct Status: Sendable, Equatable {
    /// The rank that sent the message.
    public let source: Int
    /// The message's tag.
    public let tag: Int
    /// The message's size in bytes.
    public let count: Int

    init(_ raw: MPI_Status) throws {
        var s = raw
        var n: Int32 = 0
        try check(MPI_Get_count(&s, chrono_mpi_byte(), &n), "MPI_Get_count")
        self.source = Int(chrono_mpi_status_source(&s))
        self.tag = Int(chrono_mpi_status_tag(&s))
        self.count = Int(n)
    }
}

/// A non-blocking send or receive in flight (`MPI_Request`).
///
/// The request owns the memory the operation uses (a copy of the sent bytes, or the receive
/// buffer), so the caller's values can go away while it runs. Complete it with `wait()` or
/// `test()`; a request dropped while still active leaks its buffer rather than let MPI write
/// into freed memory.
public final class Request: @unchecked Sendable {
    var handle: MPI_Request?
    private let buffer: UnsafeMutableRawBufferPointer?
    private let ownsBuffer: Bool
    /// Whether `buffer` goes back to ``SendBufferPool`` (a large send's copy) when the request ends.
    private let pooledBuffer: Bool
    /// What must outlive the operation besides `buffer` (a send forwarding a receive's buffer keeps that receive).
    var keepAlive: AnyObject?
    /// The completion status, once `wait()` or `test()` saw the operation finish.
    public private(set) var status: Status?

    init(handle: MPI_Request?, buffer: UnsafeMutableRawBufferPointer?, ownsBuffer: Bool, pooledBuffer: Bool = false) {
        self.handle = handle
        self.buffer = buffer
        self.ownsBuffer = ownsBuffer
        self.pooledBuffer = pooledBuffer
    }

    /// Whether the operation has completed.
    public var isComplete: Bool { status != nil }

    /// Waits for completion (`MPI_Wait`). Blocks the calling thread.
    @discardableResult
    public func wait() throws -> Status {
        if let status { return status }
        var raw = MPI_Status()
        try check(MPI_Wait(&handle, &raw), "MPI_Wait")
        let s = try Status(raw)
        status = s
        return s
    }

    /// Tests for completion without blocking (`MPI_Test`).
    /// - Returns: the status if the operation completed, else `nil`.
    public func test() throws -> Status? {
        if let status { return status }
        var flag: Int32 = 0
        var raw = MPI_Status()
        try check(MPI_Test(&handle, &flag, &raw), "MPI_Test")
        guard flag != 0 else { return nil }
        let s = try Status(raw)
        status = s
        return s
    }

    /// Tests every request of `requests` at once (`MPI_Testsome`): one pass of MPI's progress
    /// engine for all of them. Testing them one by one runs it once per request, and under Open
    /// MPI on an oversubscribed node (where it yields the CPU whenever a pass finds nothing) each
    /// unfinished request then costs a `sched_yield`: a keeper's loop gave its core away a few
    /// times per turn while it had work. Requests already complete stay complete.
    /// - Returns: for each request, whether it has completed.
    public static func testSome(_ requests: [Request]) throws -> [Bool] {
        var done = requests.map { $0.status != nil }
        let open = done.lazy.filter { !$0 }.count
        guard open > 0 else { return done }
        // Called in every turn of a role's loop: the call's arrays live on the stack, not the heap.
        try withUnsafeTemporaryAllocation(of: MPI_Request?.self, capacity: open) { handles in
            try withUnsafeTemporaryAllocation(of: Int32.self, capacity: open * 2) { ints in
                try withUnsafeTemporaryAllocation(of: MPI_Status.self, capacity: open) { statuses in
                    // ints[open...]: which request each handle is (the handles skip completed ones).
                    var n = 0
                    for (i, r) in requests.enumerated() where r.status == nil {
                        handles.initializeElement(at: n, to: r.handle)
                        ints[open + n] = Int32(i)
                        n += 1
                    }
                    var outcount: Int32 = 0
                    try check(MPI_Testsome(Int32(open), handles.baseAddress, &outcount, ints.baseAddress, statuses.baseAddress),
                              "MPI_Testsome")
                    guard outcount != chrono_mpi_undefined() else { return }
                    for k in 0..<Int(outcount) {
                        let j = Int(ints[k]), i = Int(ints[open + j])
                        requests[i].handle = handles[j]  // MPI_REQUEST_NULL now: the operation is over
                        requests[i].status = try Status(statuses[k])
                        done[i] = true
                    }
                }
            }
        }
        return done
    }

    /// Cancels a pending operation (`MPI_Cancel`) and completes it.
    public func cancel() throws {
        guard status == nil else { return }
        try check(MPI_Cancel(&handle), "MPI_Cancel")
        var raw = MPI_Status()
        try check(MPI_Wait(&handle, &raw), "MPI_Wait")
        status = Status(source: -1, tag: -1, count: 0)
    }

    /// For a completed receive: the bytes that arrived.
    public var receivedBytes: [UInt8] {
        guard let status, let buffer, status.count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<min(status.count, buffer.count)]))
    }

    /// For a completed receive: runs `body` on the bytes that arrived, in place (no copy).
    public func withReceivedBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard let status, let buffer, status.count > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(rebasing: buffer[0..<min(status.count, buffer.count)]))
    }

    /// Waits for every request (`MPI_Waitall` semantics, one by one).
    public static func waitAll(_ requests: [Request]) throws {
        for r in requests { try r.wait() }
    }

    deinit {
        if ownsBuffer, status != nil, let buffer { SendBufferPool.release(buffer, pooled: pooledBuffer) }
        // What the operation reads or writes stays alive for ever when it has not completed.
        if status == nil, let keepAlive { _ = Unmanaged.passRetained(keepAlive) }
    }
}

extension Status {
    init(source: Int, tag: Int, count: Int) {
        self.source = source
        self.tag = tag
        self.count = count
    }
}

/// A message matched by `mprobe`/`improbe` (`MPI_Message`): only this handle can receive it,
/// so several threads probing the same communicator cannot steal each other's messages.
public final class Message: @unchecked Sendable {
    var handle: MPI_Message?
    /// Sender, tag and size of the matched message.
    public let status: Status

    init(handle: MPI_Message?, status: Status) {
        self.handle = handle
        self.status = status
    }

    /// Receives the matched message (`MPI_Mrecv`) into a new array of exactly its size.
    public func receive() throws -> [UInt8] {
        let count = status.count
        var raw = MPI_Status()
        var rc: Int32 = 0
        // Received straight into the array's fresh storage: no zero-filling pass first.
        let out = [UInt8](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
            rc = MPI_Mrecv(buffer.baseAddress, Int32(count), chrono_mpi_byte(), &handle, &raw)
            initialized = rc == 0 ? count : 0
        }
        try check(rc, "MPI_Mrecv")
        return out
    }

    /// Starts receiving the matched message (`MPI_Imrecv`) into a buffer of exactly its size that
    /// the returned request owns: unlike ``receive()``, never waits for a sender that has not sent
    /// the data yet (a large message over TCP arrives only as its sender's MPI makes progress).
    /// Complete it with `test()`; then `withReceivedBytes`, or forward it with
    /// ``Communicator/isend(forwarding:to:tag:)`` without a copy.
    public func receiveLater() throws -> Request {
        let count = status.count
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        var req: MPI_Request? = chrono_mpi_request_null()
        let rc = MPI_Imrecv(buf.baseAddress, Int32(count), chrono_mpi_byte(), &handle, &req)
        if rc != 0 { buf.deallocate() }
        try check(rc, "MPI_Imrecv")
        return Request(handle: req, buffer: buf, ownsBuffer: true)
    }

    /// Receives the matched message (`MPI_Mrecv`) into `buffer`, which must hold `status.count` bytes.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count >= status.count else {
            throw MPIError(call: "MPI_Mrecv", message: "buffer of \(buffer.count) bytes is smaller than the \(status.count)-byte message")
        }
        var raw = MPI_Status()
        try check(MPI_Mrecv(buffer.baseAddress, Int32(status.count), chrono_mpi_byte(), &handle, &raw), "MPI_Mrecv")
    }
}
