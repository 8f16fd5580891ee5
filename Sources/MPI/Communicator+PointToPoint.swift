import CChronoShims
import CMPI

extension Communicator {
    /// Sends bytes to `destination` with `tag` (`MPI_Send`). Blocks until the buffer may be reused.
    public func send(_ bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int) throws {
        try checkCount(bytes.count, "MPI_Send")
        try check(MPI_Send(bytes.baseAddress, Int32(bytes.count), chrono_mpi_byte(), Int32(destination), Int32(tag), handle), "MPI_Send")
    }

    /// Sends an array of bytes (`MPI_Send`).
    public func send(_ bytes: [UInt8], to destination: Int, tag: Int) throws {
        try bytes.withUnsafeBytes { (p) in try send(p, to: destination, tag: tag) }
    }

    /// Starts a send (`MPI_Isend`) of a private copy of `bytes` (in pooled memory for a large send);
    /// the returned request owns the copy.
    public func isend(_ bytes: [UInt8], to destination: Int, tag: Int) throws -> Request {
        try isend(byteCount: bytes.count, to: destination, tag: tag) { buf in
            bytes.withUnsafeBytes { src in
                if src.count > 0 { buf.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
            }
        }
    }

    /// Starts a send (`MPI_Isend`) of `byteCount` bytes that `fill` writes straight into the send's
    /// own memory (pooled for large sends, like ``isend(_:to:tag:)``'s copy): a message encoded
    /// there is not copied again. `fill` gets exactly `byteCount` bytes and must write them all.
    public func isend(byteCount: Int, to destination: Int, tag: Int,
                      fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> Request {
        try checkCount(byteCount, "MPI_Isend")
        let (buf, pooled) = SendBufferPool.take(byteCount: byteCount)
        do { try fill(UnsafeMutableRawBufferPointer(rebasing: buf[0..<byteCount])) } catch {
            SendBufferPool.release(buf, pooled: pooled)
            throw error
        }
        var req: MPI_Request? = chrono_mpi_request_null()
        let rc = MPI_Isend(buf.baseAddress, Int32(byteCount), chrono_mpi_byte(), Int32(destination), Int32(tag), handle, &req)
        if rc != 0 { SendBufferPool.release(buf, pooled: pooled) }
        try check(rc, "MPI_Isend")
        return Request(handle: req, buffer: buf, ownsBuffer: true, pooledBuffer: pooled)
    }

    /// Starts a send (`MPI_Isend`) of the bytes a completed receive got, from its buffer: no copy.
    /// The returned request keeps `received` (and so its buffer) alive until it completes.
    /// - Throws: `MPIError` when `received` has not completed, or from `MPI_Isend`.
    public func isend(forwarding received: Request, to destination: Int, tag: Int) throws -> Request {
        guard received.isComplete else { throw MPIError(call: "MPI_Isend", message: "forwarding a receive that has not completed") }
        let request = try received.withReceivedBytes { bytes in
            try isend(unsafeBuffer: bytes, to: destination, tag: tag)
        }
        request.keepAlive = received
        return request
    }

    /// Starts a send (`MPI_Isend`) of `bytes` straight from the array's own storage, without
    /// copying: the returned request holds the array (unchanged, so its storage stays where it is)
    /// until the send completed, then hands it to `release` (a pool that lends it out again, so the
    /// next message is built in memory already touched). A request dropped before it completed
    /// keeps the array for ever rather than let MPI read freed memory.
    public func isend(adopting bytes: consuming [UInt8], to destination: Int, tag: Int,
                      release: @escaping @Sendable (consuming [UInt8]) -> Void) throws -> Request {
        let frame = SentArray(consume bytes, release: release)
        try checkCount(frame.count, "MPI_Isend")
        var req: MPI_Request? = chrono_mpi_request_null()
        let rc = frame.withBaseAddress { base in
            MPI_Isend(base, Int32(frame.count), chrono_mpi_byte(), Int32(destination), Int32(tag), handle, &req)
        }
        try check(rc, "MPI_Isend")
        let request = Request(handle: req, buffer: nil, ownsBuffer: false)
        request.keepAlive = frame
        return request
    }

    /// Starts a send (`MPI_Isend`) straight from caller memory, without copying.
    /// The caller keeps `bytes` alive and unchanged until the request completes.
    public func isend(unsafeBuffer bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int) throws -> Request {
        try checkCount(bytes.count, "MPI_Isend")
        var req: MPI_Request? = chrono_mpi_request_null()
        try check(MPI_Isend(bytes.baseAddress, Int32(bytes.count), chrono_mpi_byte(), Int32(destination), Int32(tag), handle, &req), "MPI_Isend")
        return Request(handle: req, buffer: nil, ownsBuffer: false)
    }

    /// Receives the next matching message whatever its size (`MPI_Mprobe` + `MPI_Mrecv`).
    /// - Parameters: source and tag, `nil` for any.
    public func receive(from source: Int? = nil, tag: Int? = nil) throws -> (bytes: [UInt8], status: Status) {
        let message = try mprobe(from: source, tag: tag)
        return (try message.receive(), message.status)
    }

    /// Receives into caller memory (`MPI_Recv`); the message must fit.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, from source: Int? = nil, tag: Int? = nil) throws -> Status {
        try checkCount(buffer.count, "MPI_Recv")
        var raw = MPI_Status()
        try check(
            MPI_Recv(buffer.baseAddress, Int32(buffer.count), chrono_mpi_byte(), Self.rawSource(source), Self.rawTag(tag), handle, &raw),
            "MPI_Recv")
        return try Status(raw)
    }

    /// Starts a receive of at most `capacity` bytes (`MPI_Irecv`); the request owns the buffer.
    public func irecv(capacity: Int, from source: Int? = nil, tag: Int? = nil) throws -> Request {
        try checkCount(capacity, "MPI_Irecv")
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 16)
        var req: MPI_Request? = chrono_mpi_request_null()
        let rc = MPI_Irecv(buf.baseAddress, Int32(capacity), chrono_mpi_byte(), Self.rawSource(source), Self.rawTag(tag), handle, &req)
        if rc != 0 { buf.deallocate() }
        try check(rc, "MPI_Irecv")
        return Request(handle: req, buffer: buf, ownsBuffer: true)
    }

    /// Blocks until a matching message is available (`MPI_Probe`) and reports it without receiving.
    public func probe(from source: Int? = nil, tag: Int? = nil) throws -> Status {
        var raw = MPI_Status()
        try check(MPI_Probe(Self.rawSource(source), Self.rawTag(tag), handle, &raw), "MPI_Probe")
        return try Status(raw)
    }

    /// Reports a matching message if one is available now (`MPI_Iprobe`), else `nil`.
    public func iprobe(from source: Int? = nil, tag: Int? = nil) throws -> Status? {
        var raw = MPI_Status()
        var flag: Int32 = 0
        try check(MPI_Iprobe(Self.rawSource(source), Self.rawTag(tag), handle, &flag, &raw), "MPI_Iprobe")
        return flag != 0 ? try Status(raw) : nil
    }

    /// Blocks until a matching message arrives and claims it (`MPI_Mprobe`).
    public func mprobe(from source: Int? = nil, tag: Int? = nil) throws -> Message {
        var raw = MPI_Status()
        var msg: MPI_Message? = chrono_mpi_message_null()
        try check(MPI_Mprobe(Self.rawSource(source), Self.rawTag(tag), handle, &msg, &raw), "MPI_Mprobe")
        return Message(handle: msg, status: try Status(raw))
    }

    /// Claims a matching message if one is available now (`MPI_Improbe`), else `nil`.
    public func improbe(from source: Int? = nil, tag: Int? = nil) throws -> Message? {
        var raw = MPI_Status()
        var msg: MPI_Message? = chrono_mpi_message_null()
        var flag: Int32 = 0
        try check(MPI_Improbe(Self.rawSource(source), Self.rawTag(tag), handle, &flag, &msg, &raw), "MPI_Improbe")
        guard flag != 0 else { return nil }
        return Message(handle: msg, status: try Status(raw))
    }

    static func rawSource(_ s: Int?) -> Int32 { s.map { Int32($0) } ?? chrono_mpi_any_source() }
    static func rawTag(_ t: Int?) -> Int32 { t.map { Int32($0) } ?? chrono_mpi_any_tag() }

    func checkCount(_ n: Int, _ call: String) throws {
        if n < 0 || n > Int(Int32.max) {
            throw MPIError(call: call, message: "\(n) bytes is outside what one MPI message can carry (0...\(Int32.max))")
        }
    }
}

/// An array a send reads from: kept, unchanged, while the send runs, then given to its release.
final class SentArray: @unchecked Sendable {
    private var bytes: [UInt8]
    private let release: @Sendable (consuming [UInt8]) -> Void

    init(_ bytes: consuming [UInt8], release: @escaping @Sendable (consuming [UInt8]) -> Void) {
        self.bytes = consume bytes
        self.release = release
    }

    var count: Int { bytes.count }

    /// The address of the array's storage. A native array's storage does not move while the array
    /// lives unchanged, and this object never changes it until it gives it back.
    func withBaseAddress<R>(_ body: (UnsafeRawPointer?) -> R) -> R {
        bytes.withUnsafeBytes { body($0.baseAddress) }
    }

    deinit {
        var taken: [UInt8] = []
        swap(&taken, &bytes)  // the only reference from here: the pool can keep it
        release(consume taken)
    }
}
