import ChronoSystem
import MPI
import Synchronization

/// A libfabric RDM endpoint for one provider: fabric, domain, endpoint, address vector
/// (`FI_AV_MAP`) and completion queue, with registered memory and one-sided RMA reads and writes.
///
/// Typical use (every rank of a communicator):
/// ```swift
/// let ep = try FabricEndpoint(provider: .shm)
/// let peers = try ep.exchangeAddresses(over: comm)          // collective
/// let region = try ep.register(byteCount: 1 << 20)          // once, then reuse
/// try ep.read(into: region.whole, from: peers[1], remote: descriptorFromPeer)
/// try ep.close()
/// ```
///
/// **Progress.** `shm` and `tcp;ofi_rxm` make manual progress: an operation on a peer's memory
/// only moves when *that peer* polls its completion queue. Every rank that exposes memory must
/// call `progress()` regularly (backing off with `IdleBackoff` when idle) while peers may be
/// reading or writing it; `wait(for:)` polls on the initiator's side.
///
/// **Completion semantics.** A read's completion means the bytes are in local memory. Writes are
/// posted with `FI_DELIVERY_COMPLETE`, so a write's completion means the bytes are visible in the
/// target's memory (a later MPI message telling the target is then safe).
///
/// **Threads.** All libfabric calls go through one lock (the domain is opened with
/// `FI_THREAD_DOMAIN`), so the endpoint may be shared; waits back off outside the lock.
///
/// **Environment.** No libfabric environment variables are needed on these machines: `shm` and
/// `tcp;ofi_rxm` (on the first interface `fi_getinfo` offers, `eth0` here) work as they come.
/// libfabric's own variables are honoured (`FI_TCP_IFACE` to pin the interface, `FI_PROVIDER`
/// to restrict providers; a restriction that excludes the configured provider makes `init`
/// throw `providerUnavailable`, it never switches provider).
///
/// **Teardown.** Call `close()` (regions, then endpoint, AV and CQ, domain, fabric). `deinit`
/// closes an endpoint that was not closed, silently.
public final class FabricEndpoint: @unchecked Sendable {
    /// How the endpoint was opened.
    public let configuration: FabricConfiguration
    /// What the provider granted (provider, domain, MR mode, limits).
    public let info: FabricInfo
    /// This endpoint's address (`fi_getname`), to give to peers.
    public let localAddress: [UInt8]
    /// The largest single libfabric operation posted; longer transfers are split.
    public let maxTransferSize: Int

    private let lock = Mutex(())
    // Everything below is guarded by `lock`.
    private let handles: FabricHandles
    private var regions: [ObjectIdentifier: RegisteredRegion] = [:]
    private var nextKey: UInt64 = 1
    private var nextOperation: UInt64 = 1
    private var pending: [OperationID: PendingOperation] = [:]
    private var tokenOwner: [UInt: OperationID] = [:]
    private var finished: [OperationID: FabricError?] = [:]
    private var unattributedErrors: [FabricError] = []

    private struct PendingOperation {
        var outstandingParts = 0
        var postingDone = false
        var error: FabricError?
    }

    /// Opens an endpoint for `configuration.provider`, failing rather than using another provider.
    /// - Throws: `FabricError.providerUnavailable` naming the provider if it does not exist here
    ///   or lacks RDM endpoints with RMA; `FabricError.callFailed` if opening an object fails.
    public init(configuration: FabricConfiguration) throws(FabricError) {
        self.configuration = configuration
        let handles = try FabricHandles(configuration: configuration)
        self.handles = handles
        self.info = handles.granted
        self.localAddress = try handles.localAddress()
        let limit = min(configuration.maxTransferSize ?? (1 << 30), handles.granted.maxMessageSize, 1 << 30)
        self.maxTransferSize = max(1, limit)
    }

    /// Opens an endpoint for `provider` with the default configuration.
    /// - Throws: as `init(configuration:)`.
    public convenience init(provider: FabricProvider) throws(FabricError) {
        try self.init(configuration: FabricConfiguration(provider: provider))
    }

    deinit {
        _ = lock.withLock { _ in closeLocked() }
    }

    private func locked<R>(_ body: () throws(FabricError) -> R) throws(FabricError) -> R {
        do {
            return try lock.withLock { _ in try body() }
        } catch let error as FabricError {
            throw error
        } catch {
            throw FabricError.invalidArgument(call: "FabricEndpoint", detail: "\(error)")
        }
    }

    /// Whether `close()` has run.
    public var isOpen: Bool { lock.withLock { _ in handles.isOpen } }

    // MARK: addresses

    /// Inserts peers' addresses (from their `localAddress`) into the address vector.
    /// - Returns: one `PeerAddress` per input, in order (`index` = position in the input).
    /// - Throws: `FabricError.callFailed` from `fi_av_insert`; `.invalidArgument` for addresses of
    ///   the wrong shape.
    public func insert(peerAddresses: [[UInt8]]) throws(FabricError) -> [PeerAddress] {
        let raw = try locked { () throws(FabricError) -> [UInt64] in
            guard handles.isOpen else { throw .closed(call: "fi_av_insert") }
            return try handles.insert(addresses: peerAddresses)
        }
        let me = ObjectIdentifier(self)
        return raw.enumerated().map { PeerAddress(fabricAddress: $0.element, index: $0.offset, endpointID: me) }
    }

    /// Exchanges endpoint addresses with every rank of `communicator` (`allgatherv`) and inserts
    /// them all. **Collective** over `communicator`; every rank must use the same provider.
    /// - Returns: the peers indexed by rank (this rank's own address included).
    /// - Throws: `MPIError` from the exchange; `FabricError` from the insert.
    public func exchangeAddresses(over communicator: Communicator) throws -> [PeerAddress] {
        let all = try communicator.allgatherv(localAddress)
        return try insert(peerAddresses: all)
    }

    // MARK: memory

    /// Allocates `byteCount` zeroed, page-aligned bytes and registers them for local and remote
    /// read and write, honouring the provider's MR mode: binds and enables the region under
    /// `FI_MR_ENDPOINT`, uses the provider's key under `FI_MR_PROV_KEY` (else a key unique in this
    /// domain), and exposes virtual addresses only under `FI_MR_VIRT_ADDR`.
    /// - Throws: `FabricError.callFailed` from `fi_mr_reg`, `fi_mr_bind` or `fi_mr_enable`.
    public func register(byteCount: Int) throws(FabricError) -> RegisteredRegion {
        guard byteCount > 0 else {
            throw .invalidArgument(call: "fi_mr_reg", detail: "cannot register \(byteCount) bytes")
        }
        return try register(RegionStorage(length: byteCount), remoteReadOnly: false)
    }

    /// Registers `storage` (under the lock) and keeps its region until it is closed.
    private func register(_ storage: @autoclosure () -> RegionStorage, remoteReadOnly: Bool) throws(FabricError) -> RegisteredRegion {
        try locked { () throws(FabricError) -> RegisteredRegion in
            guard handles.isOpen else { throw .closed(call: "fi_mr_reg") }
            let storage = storage()
            let requested = nextKey
            nextKey += 1
            let registration = try handles.register(base: storage.base, length: storage.length, requestedKey: requested,
                                                    remoteReadOnly: remoteReadOnly)
            let region = RegisteredRegion(
                storage: storage, endpoint: self, registration: registration,
                usesVirtualAddresses: info.memoryRegistrationMode.contains(.virtualAddress))
            regions[ObjectIdentifier(region)] = region
            return region
        }
    }

    /// Registers memory this process owns elsewhere (e.g. an array's storage) so that peers can
    /// read it in place (`FI_REMOTE_READ` only), with no copy into a registered pool: a keeper
    /// lends a sealed chunk's record table and payload this way. The region does not own the
    /// memory: the caller keeps it allocated and unchanged until it has closed the region, and
    /// closes it only once no peer may still read it.
    /// - Throws: `FabricError.invalidArgument` for empty memory; as ``register(byteCount:)``.
    public func register(lending memory: UnsafeRawBufferPointer) throws(FabricError) -> RegisteredRegion {
        guard memory.count > 0, memory.baseAddress != nil else {
            throw .invalidArgument(call: "fi_mr_reg", detail: "cannot register \(memory.count) bytes")
        }
        return try register(RegionStorage(lending: memory), remoteReadOnly: true)
    }

    func deregister(_ region: RegisteredRegion) throws(FabricError) {
        try locked { () throws(FabricError) in
            guard let registration = region.registration else { return }
            region.registration = nil
            regions[ObjectIdentifier(region)] = nil
            try handles.deregister(registration)
        }
    }

    func isClosed(_ region: RegisteredRegion) -> Bool {
        lock.withLock { _ in region.registration == nil || !handles.isOpen }
    }

    // MARK: operations

    /// Posts an RMA read of `length` bytes at the peer's `remoteAddress` (with `key`) into the
    /// start of `local`, split into several operations above `maxTransferSize`. Retries while the
    /// provider's queue is full (`-FI_EAGAIN`), driving progress and backing off.
    /// - Returns: the operation, to `wait(for:)` or to see in `progress()`.
    /// - Throws: `FabricError.invalidArgument` if `local` is too small or belongs elsewhere;
    ///   `.callFailed` if posting fails; `.timedOut` if the queue stays full.
    public func postRead(into local: RegisteredBuffer, from peer: PeerAddress, remoteAddress: UInt64, key: UInt64,
                         length: Int) throws(FabricError) -> OperationID {
        try post(isRead: true, local: .registered(local), peer: peer, remoteAddress: remoteAddress, key: key, length: length)
    }

    /// Whether RMA reads may land in memory that is not registered: the provider does not require
    /// `FI_MR_LOCAL` (true of `shm`, `tcp;ofi_rxm` and `sockets`). Then
    /// ``postRead(intoUnregistered:from:segments:)`` puts bytes straight where they are
    /// used, with no copy out of a registered buffer.
    public var acceptsUnregisteredLocalMemory: Bool { !info.memoryRegistrationMode.contains(.local) }

    /// Posts one read made of several: each `(offset, remoteAddress, key, length)` reads `length`
    /// bytes at the peer's `remoteAddress` (with `key`) into `local` at `offset`. It completes
    /// (once, in ``progress()`` or ``wait(for:)``) when all of them have, failed if any failed; a
    /// grapher reads a piece's record table and payload, which lie apart in the keeper's memory,
    /// side by side this way. Split and retried like ``postRead(into:from:remoteAddress:key:length:)``.
    /// - Throws: `FabricError.invalidArgument` when a segment does not fit `local`; as `postRead`.
    public func postRead(into local: RegisteredBuffer, from peer: PeerAddress,
                         segments: [(offset: Int, remoteAddress: UInt64, key: UInt64, length: Int)]) throws(FabricError) -> OperationID {
        try postRead(segments, within: local.length, from: peer) { (offset, length) throws(FabricError) in
            .registered(try local.region.slice(offset: local.offset + offset, length: length))
        }
    }

    /// ``postRead(into:from:segments:)`` into memory that is not registered (an array's storage):
    /// each `(offset, remoteAddress, key, length)` reads `length` bytes into `local` at `offset`;
    /// one operation, completing when all have. The caller keeps `local` valid and leaves it alone
    /// until then.
    /// - Throws: `FabricError.invalidArgument` when the provider requires registered local memory
    ///   or a segment does not fit `local`; as `postRead`.
    public func postRead(intoUnregistered local: UnsafeMutableRawBufferPointer, from peer: PeerAddress,
                         segments: [(offset: Int, remoteAddress: UInt64, key: UInt64, length: Int)]) throws(FabricError) -> OperationID {
        guard acceptsUnregisteredLocalMemory else {
            throw .invalidArgument(call: "FabricEndpoint.read", detail: "provider \(info.providerName) requires registered local memory (FI_MR_LOCAL)")
        }
        return try postRead(segments, within: local.count, from: peer) { (offset, length) throws(FabricError) in
            .unregistered(UnsafeMutableRawBufferPointer(rebasing: local[offset..<(offset + length)]))
        }
    }

    /// Checks that every segment fits local memory of `size` bytes, then posts them as one read,
    /// each into the local memory `memory(offset, length)` gives.
    private func postRead(_ segments: [(offset: Int, remoteAddress: UInt64, key: UInt64, length: Int)], within size: Int,
                          from peer: PeerAddress,
                          memory: (Int, Int) throws(FabricError) -> LocalMemory) throws(FabricError) -> OperationID {
        var parts: [Segment] = []
        parts.reserveCapacity(segments.count)
        for s in segments {
            guard s.offset >= 0, s.length >= 0, s.offset <= size, s.length <= size - s.offset else {
                throw .invalidArgument(call: "FabricEndpoint.read", detail: "\(s.length) bytes at \(s.offset) do not fit the local memory of \(size) bytes")
            }
            parts.append(Segment(local: try memory(s.offset, s.length), remoteAddress: s.remoteAddress, key: s.key, length: s.length))
        }
        return try post(isRead: true, segments: parts, peer: peer)
    }

    /// Posts an RMA write of the first `length` bytes of `local` to the peer's `remoteAddress`
    /// (with `key`), with delivery completion; split and retried like `postRead`.
    /// - Throws: as `postRead`.
    public func postWrite(from local: RegisteredBuffer, to peer: PeerAddress, remoteAddress: UInt64, key: UInt64,
                          length: Int) throws(FabricError) -> OperationID {
        try post(isRead: false, local: .registered(local), peer: peer, remoteAddress: remoteAddress, key: key, length: length)
    }

    /// Posts a read of everything `remote` describes into the start of `local`.
    /// - Throws: as `postRead(into:from:remoteAddress:key:length:)`.
    public func postRead(into local: RegisteredBuffer, from peer: PeerAddress, remote: RemoteDescriptor) throws(FabricError) -> OperationID {
        try postRead(into: local, from: peer, remoteAddress: remote.address, key: remote.key, length: remote.length)
    }

    /// Posts a write of the first `remote.length` bytes of `local` to everything `remote` describes.
    /// - Throws: as `postWrite(from:to:remoteAddress:key:length:)`.
    public func postWrite(from local: RegisteredBuffer, to peer: PeerAddress, remote: RemoteDescriptor) throws(FabricError) -> OperationID {
        try postWrite(from: local, to: peer, remoteAddress: remote.address, key: remote.key, length: remote.length)
    }

    /// Reads `length` bytes from the peer into `local` and waits for completion (polling the CQ
    /// and backing off). The target must be making progress.
    /// - Throws: `FabricError.operationFailed` with `fi_cq_readerr` details; `.timedOut` after
    ///   `timeout` (60 s by default); posting errors as `postRead`.
    public func read(into local: RegisteredBuffer, from peer: PeerAddress, remoteAddress: UInt64, key: UInt64,
                     length: Int, timeout: Duration = .seconds(60)) throws(FabricError) {
        let op = try postRead(into: local, from: peer, remoteAddress: remoteAddress, key: key, length: length)
        try wait(for: op, timeout: timeout)
    }

    /// Reads everything `remote` describes into `local` and waits for completion.
    /// - Throws: as `read(into:from:remoteAddress:key:length:timeout:)`.
    public func read(into local: RegisteredBuffer, from peer: PeerAddress, remote: RemoteDescriptor,
                     timeout: Duration = .seconds(60)) throws(FabricError) {
        try read(into: local, from: peer, remoteAddress: remote.address, key: remote.key, length: remote.length, timeout: timeout)
    }

    /// Writes the first `length` bytes of `local` to the peer and waits until they are visible
    /// in the peer's memory. The target must be making progress.
    /// - Throws: as `read(into:from:remoteAddress:key:length:timeout:)`.
    public func write(from local: RegisteredBuffer, to peer: PeerAddress, remoteAddress: UInt64, key: UInt64,
                      length: Int, timeout: Duration = .seconds(60)) throws(FabricError) {
        let op = try postWrite(from: local, to: peer, remoteAddress: remoteAddress, key: key, length: length)
        try wait(for: op, timeout: timeout)
    }

    /// Writes `remote.length` bytes of `local` to everything `remote` describes and waits.
    /// - Throws: as `write(from:to:remoteAddress:key:length:timeout:)`.
    public func write(from local: RegisteredBuffer, to peer: PeerAddress, remote: RemoteDescriptor,
                      timeout: Duration = .seconds(60)) throws(FabricError) {
        try write(from: local, to: peer, remoteAddress: remote.address, key: remote.key, length: remote.length, timeout: timeout)
    }

    /// Waits for `operation` to complete, polling the completion queue (which also makes
    /// progress for peers using this endpoint's memory) and backing off when idle. Other
    /// operations that complete meanwhile are reported by the next `progress()`.
    /// - Throws: the operation's `FabricError.operationFailed`; `.timedOut` after `timeout` (the
    ///   operation stays posted); `.invalidArgument` for an operation that is not pending.
    public func wait(for operation: OperationID, timeout: Duration = .seconds(60)) throws(FabricError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var backoff = IdleBackoff()
        while true {
            let state = try locked { () throws(FabricError) -> WaitState in
                if let outcome = finished.removeValue(forKey: operation) { return .done(outcome) }
                guard pending[operation] != nil else { return .unknown }
                let found = try reapLocked()
                if let outcome = finished.removeValue(forKey: operation) { return .done(outcome) }
                return .waiting(found)
            }
            switch state {
            case .done(let error):
                if let error { throw error }
                return
            case .unknown:
                throw .invalidArgument(call: "FabricEndpoint.wait", detail: "\(operation) is not pending on this endpoint")
            case .waiting(let found):
                if found { backoff.reset() } else { backoff.idle() }
                if clock.now >= deadline {
                    throw .timedOut(call: "FabricEndpoint.wait", operation: operation, seconds: Self.seconds(timeout))
                }
            }
        }
    }

    /// Waits for every operation in turn; throws the first failure after waiting for all.
    /// - Throws: as `wait(for:timeout:)`.
    public func waitAll(_ operations: [OperationID], timeout: Duration = .seconds(60)) throws(FabricError) {
        var first: FabricError? = nil
        for op in operations {
            do { try wait(for: op, timeout: timeout) } catch { if first == nil { first = error } }
        }
        if let first { throw first }
    }

    /// Polls the completion queue without blocking (a few `fi_cq_read` calls at most) and returns
    /// the operations that finished since the last call, successes and failures, in posting
    /// order. Targets call this in their progress loop: with manual-progress providers, peers'
    /// reads and writes of this rank's memory only advance while it is called.
    /// - Throws: `FabricError.callFailed` if the completion queue itself fails;
    ///   `.operationFailed` for an error completion that belongs to no operation of ours.
    @discardableResult
    public func progress() throws(FabricError) -> [Completion] {
        try locked { () throws(FabricError) -> [Completion] in
            guard handles.isOpen else { throw .closed(call: "fi_cq_read") }
            _ = try reapLocked()
            if !unattributedErrors.isEmpty { throw unattributedErrors.removeFirst() }
            guard !finished.isEmpty else { return [] }
            let done = finished.sorted { $0.key < $1.key }.map { Completion(operation: $0.key, error: $0.value) }
            finished.removeAll()
            return done
        }
    }

    /// Operations posted and not yet completed.
    public var pendingOperationCount: Int { lock.withLock { _ in pending.count } }

    // MARK: teardown

    /// Closes every region still registered, then the endpoint, AV and CQ, domain and fabric, in
    /// that order. Not collective. Pending operations are abandoned. Closing twice does nothing.
    /// - Throws: the first `FabricError.callFailed` from an `fi_close` (everything is closed anyway).
    public func close() throws(FabricError) {
        let error = lock.withLock { _ in closeLocked() }
        if let error { throw error }
    }

    // MARK: internals (call with the lock held)

    private enum WaitState {
        case done(FabricError?)
        case unknown
        case waiting(Bool)
    }

    private static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }

    private func closeLocked() -> FabricError? {
        guard handles.isOpen else { return nil }
        var first: FabricError? = nil
        for region in regions.values {
            if let registration = region.registration {
                region.registration = nil
                do { try handles.deregister(registration) } catch { if first == nil { first = error } }
            }
        }
        regions.removeAll()
        do { try handles.close() } catch { if first == nil { first = error } }
        pending.removeAll()
        tokenOwner.removeAll()
        finished.removeAll()
        return first
    }

    /// Polls the CQ until it is empty (at most a few batches); records completions.
    /// - Returns: whether anything completed.
    private func reapLocked() throws(FabricError) -> Bool {
        var found = false
        for _ in 0..<8 {
            switch try handles.poll() {
            case .empty:
                return found
            case .completed(let tokens):
                found = true
                for token in tokens { completeLocked(token: token, error: nil) }
                if tokens.count < 16 { return found }
            case .failed(let token, let code, let providerCode, let message):
                found = true
                let op = tokenOwner[token]
                let error = FabricError.operationFailed(
                    call: "fi_cq_readerr", operation: op, code: code, providerCode: providerCode, message: message)
                if op == nil {
                    unattributedErrors.append(error)
                } else {
                    completeLocked(token: token, error: error)
                }
            }
        }
        return found
    }

    private func completeLocked(token: UInt, error: FabricError?) {
        guard let op = tokenOwner.removeValue(forKey: token) else { return }
        handles.returnContext(token)
        guard var state = pending[op] else { return }
        state.outstandingParts -= 1
        if state.error == nil, let error { state.error = error }
        pending[op] = state
        finishIfDoneLocked(op)
    }

    private func finishIfDoneLocked(_ op: OperationID) {
        guard let state = pending[op], state.postingDone, state.outstandingParts == 0 else { return }
        pending[op] = nil
        finished[op] = state.error
    }

    private enum PostStep {
        case posted
        case full(Bool)
    }

    /// The local side of an operation: a registered buffer, or (where the provider allows) plain memory.
    private enum LocalMemory {
        case registered(RegisteredBuffer)
        case unregistered(UnsafeMutableRawBufferPointer)

        var length: Int {
            switch self {
            case .registered(let b): return b.length
            case .unregistered(let raw): return raw.count
            }
        }
    }

    /// One piece of a read: `length` bytes at the peer's `remoteAddress` (with `key`) into `local`.
    private struct Segment {
        let local: LocalMemory
        let remoteAddress: UInt64
        let key: UInt64
        let length: Int
    }

    private func post(isRead: Bool, local: LocalMemory, peer: PeerAddress, remoteAddress: UInt64, key: UInt64,
                      length: Int) throws(FabricError) -> OperationID {
        try post(isRead: isRead, segments: [Segment(local: local, remoteAddress: remoteAddress, key: key, length: length)], peer: peer)
    }

    /// Posts every segment as parts of one operation: it completes when all of them have.
    private func post(isRead: Bool, segments: [Segment], peer: PeerAddress) throws(FabricError) -> OperationID {
        let call = isRead ? "FabricEndpoint.read" : "FabricEndpoint.write"
        for segment in segments {
            if case .registered(let buffer) = segment.local, buffer.region.endpoint !== self {
                throw .invalidArgument(call: call, detail: "the local buffer is registered with another endpoint")
            }
            guard segment.length >= 0, segment.length <= segment.local.length else {
                throw .invalidArgument(call: call, detail: "length \(segment.length) does not fit the local buffer of \(segment.local.length) bytes")
            }
        }
        guard peer.endpointID == ObjectIdentifier(self) else {
            throw .invalidArgument(call: call, detail: "\(peer) belongs to another endpoint's address vector")
        }
        let op = try locked { () throws(FabricError) -> OperationID in
            guard handles.isOpen else { throw .closed(call: call) }
            let op = OperationID(rawValue: nextOperation)
            nextOperation += 1
            pending[op] = PendingOperation()
            return op
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(60))
        var backoff = IdleBackoff()
        var postedAny = false
        do throws(FabricError) {
            for segment in segments {
                let (local, remoteAddress, key, length) = (segment.local, segment.remoteAddress, segment.key, segment.length)
                var start = 0
                while start < length {
                    let n = min(maxTransferSize, length - start)
                    let step = try locked { () throws(FabricError) -> PostStep in
                        guard handles.isOpen else { throw .closed(call: call) }
                        let memory: UnsafeMutableRawPointer, offset: Int, descriptor: UnsafeMutableRawPointer?
                        switch local {
                        case .registered(let buffer):
                            guard let registration = buffer.region.registration else { throw .closed(call: call) }
                            (memory, offset, descriptor) = (buffer.region.storage.base, buffer.offset + start, registration.descriptor)
                        case .unregistered(let raw):
                            guard let base = raw.baseAddress else { throw .invalidArgument(call: call, detail: "no local memory") }
                            (memory, offset, descriptor) = (base, start, nil)
                        }
                        let token = handles.takeContext()
                        let result: PostResult
                        do throws(FabricError) {
                            result = try handles.post(
                                isRead: isRead, memory: memory, offset: offset, length: n,
                                descriptor: descriptor, peer: peer.fabricAddress,
                                remoteAddress: remoteAddress &+ UInt64(start), key: key, token: token)
                        } catch {
                            handles.returnContext(token)
                            throw error
                        }
                        switch result {
                        case .posted:
                            tokenOwner[token] = op
                            pending[op]?.outstandingParts += 1
                            return .posted
                        case .tryAgain:
                            handles.returnContext(token)
                            return .full(try reapLocked())
                        }
                    }
                    switch step {
                    case .posted:
                        postedAny = true
                        start += n
                        backoff.reset()
                    case .full(let found):
                        if found { backoff.reset() } else { backoff.idle() }
                        if clock.now >= deadline {
                            throw FabricError.timedOut(call: isRead ? "fi_readmsg" : "fi_writemsg", operation: op, seconds: 60)
                        }
                    }
                }
            }
        } catch {
            // Parts already posted still complete into this operation; report the error then.
            lock.withLock { _ in
                if postedAny, var state = pending[op] {
                    state.postingDone = true
                    if state.error == nil { state.error = error }
                    pending[op] = state
                    finishIfDoneLocked(op)
                } else {
                    pending[op] = nil
                }
            }
            if !postedAny { throw error }
            return op
        }
        lock.withLock { _ in
            pending[op]?.postingDone = true
            finishIfDoneLocked(op)
        }
        return op
    }
}
