import CChronoShims
import CFabric
#if canImport(Glibc)
import Glibc
#endif

// All raw libfabric handles, C calls and pointer work of an endpoint live in this file and in
// UnsafeRegisteredMemory.swift. Everything else in the module sees integers, arrays and Swift
// types only.

/// What one poll of the completion queue found.
enum CompletionPoll {
    /// Nothing completed (`-FI_EAGAIN`).
    case empty
    /// Successful completions, as operation-context tokens.
    case completed([UInt])
    /// One error completion (`-FI_EAVAIL` then `fi_cq_readerr`).
    case failed(token: UInt, code: Int32, providerCode: Int32, message: String)
}

/// The outcome of posting one operation.
enum PostResult {
    /// Posted; the completion will carry the token.
    case posted
    /// The provider's queue is full (`-FI_EAGAIN`): drive progress and retry.
    case tryAgain
}

/// A registration handle returned by `FabricHandles.register`.
struct MemoryRegistration {
    /// The `fid_mr` pointer.
    let mr: UnsafeMutablePointer<fid_mr>
    /// The remote key to hand to peers.
    let key: UInt64
    /// The local descriptor (`fi_mr_desc`), opaque; nil-able.
    let descriptor: UnsafeMutableRawPointer?
}

/// The raw libfabric objects of one endpoint: fabric, domain, RDM endpoint, address vector
/// (`FI_AV_MAP`) and completion queue, plus the operation-context memory `FI_CONTEXT` demands.
///
/// Not thread-safe (the domain is opened with `FI_THREAD_DOMAIN`); `FabricEndpoint` serialises use.
final class FabricHandles {
    private var info: UnsafeMutablePointer<fi_info>?
    private var fabric: UnsafeMutablePointer<fid_fabric>?
    private var domain: UnsafeMutablePointer<fid_domain>?
    private var ep: UnsafeMutablePointer<fid_ep>?
    private var av: UnsafeMutablePointer<fid_av>?
    private var cq: UnsafeMutablePointer<fid_cq>?
    /// Context blocks handed to posted operations, keyed by address; freed on completion or close.
    private var liveContexts: Set<UInt> = []
    /// Context blocks ready for reuse.
    private var spareContexts: [UnsafeMutableRawPointer] = []

    /// Bytes of provider-writable context per operation: `sizeof(struct fi_context2)` (64), enough
    /// for both `FI_CONTEXT` and `FI_CONTEXT2`.
    static let contextSize = 64

    /// What the provider granted.
    let granted: FabricInfo

    /// Opens fabric, domain, endpoint, AV and CQ for `configuration`, binds and enables them.
    /// On any failure the objects opened so far are closed again and the error is thrown.
    init(configuration: FabricConfiguration) throws(FabricError) {
        let name = configuration.provider.name
        guard !name.isEmpty else {
            throw .providerUnavailable(provider: name, detail: "no provider name given")
        }
        let wanted = MemoryRegistrationMode.handled.rawValue
        var list: UnsafeMutablePointer<fi_info>? = nil
        let rc = chrono_fi_getinfo_rdm(name, Int32(wanted), &list)
        if rc < 0 || list == nil {
            let text = rc < 0 ? fabricErrorText(rc) : "no offers"
            throw .providerUnavailable(
                provider: name,
                detail: "fi_getinfo found no RDM endpoint with FI_RMA and FI_MSG (\(text), return code \(rc)); providers offering RMA on RDM endpoints here typically include shm, tcp;ofi_rxm and sockets")
        }
        defer { chrono_fi_freeinfo(list) }

        // Pick the first offer (or the one on the requested domain) that really is the provider
        // asked for and has RMA; never another provider.
        var chosen: UnsafeMutablePointer<fi_info>? = nil
        var seen: [String] = []
        var cursor = list
        let rmaCaps = chrono_fi_cap_rma() | chrono_fi_cap_read() | chrono_fi_cap_write()
            | chrono_fi_cap_remote_read() | chrono_fi_cap_remote_write()
        while let entry = cursor {
            let prov = Self.string(chrono_fi_info_provider(entry))
            let dom = Self.string(chrono_fi_info_domain_name(entry))
            if !seen.contains("\(prov)/\(dom)") { seen.append("\(prov)/\(dom)") }
            // Same core provider, and every utility layer asked for present: "tcp" accepts the
            // "tcp;ofi_rxm" stack libfabric layers for RDM, but "ofi_rxm" never picks a core.
            let offered = prov.split(separator: ";").map(String.init)
            let asked = name.split(separator: ";").map(String.init)
            let providerMatches = offered.first == asked.first && Set(asked).isSubset(of: Set(offered))
            let hasRMA = chrono_fi_info_caps(entry) & rmaCaps == rmaCaps
            let domainMatches = configuration.domain.map { $0 == dom } ?? true
            if providerMatches && hasRMA && domainMatches {
                chosen = entry
                break
            }
            cursor = chrono_fi_info_next(entry)
        }
        guard let chosen else {
            let domainNote = configuration.domain.map { " on domain '\($0)'" } ?? ""
            throw .providerUnavailable(
                provider: name,
                detail: "no offer with FI_RMA on an RDM endpoint\(domainNote); fi_getinfo offered: \(seen.joined(separator: ", "))")
        }
        let grantedMode = MemoryRegistrationMode(rawValue: Int(chrono_fi_info_mr_mode(chosen)))
        let unhandled = MemoryRegistrationMode(rawValue: grantedMode.rawValue & ~MemoryRegistrationMode.handled.rawValue)
        if !unhandled.isEmpty {
            throw .providerUnavailable(
                provider: name, detail: "it requires memory-registration modes this wrapper does not handle: \(unhandled)")
        }
        granted = FabricInfo(
            providerName: Self.string(chrono_fi_info_provider(chosen)),
            fabricName: Self.string(chrono_fi_info_fabric_name(chosen)),
            domainName: Self.string(chrono_fi_info_domain_name(chosen)),
            memoryRegistrationMode: grantedMode,
            maxMessageSize: Self.size(chrono_fi_info_max_msg_size(chosen)),
            transmitQueueSize: Self.size(chrono_fi_info_tx_size(chosen)),
            keySize: Self.size(chrono_fi_info_mr_key_size(chosen)))

        guard let dup = chrono_fi_dupinfo(chosen) else {
            throw .callFailed(call: "fi_dupinfo", code: -12, message: fabricErrorText(12))
        }
        info = dup
        do {
            try check(chrono_fi_fabric(dup, &fabric), "fi_fabric")
            try check(chrono_fi_domain(fabric, dup, &domain), "fi_domain")
            try check(chrono_fi_av_open_map(domain, max(1, configuration.addressVectorCapacity), &av), "fi_av_open")
            try check(chrono_fi_cq_open_data(domain, max(16, configuration.completionQueueSize), &cq), "fi_cq_open")
            try openEndpoint(dup)
        } catch {
            closeQuietly()
            throw error
        }
    }

    deinit { closeQuietly() }

    /// How many times `fi_enable` is tried when it reports `-FI_EBUSY`.
    static let enableAttempts = 4

    /// Opens the endpoint, binds the AV and CQ and enables it.
    ///
    /// `shm` names an endpoint's shared-memory segment `<pid>:<uid>:<n>` (n counts the process's
    /// endpoints) and creates it with `O_EXCL` at `fi_enable`. A segment left in /dev/shm by a
    /// killed process whose pid has since been reused makes that fail with `-FI_EBUSY`, and libfabric
    /// unlinks the stale segment as it reports it. So on `-FI_EBUSY` the endpoint is closed and
    /// opened again (the next one gets the next `n`, and the stale name is gone), a few times.
    private func openEndpoint(_ info: UnsafeMutablePointer<fi_info>) throws(FabricError) {
        var attempt = 1
        while true {
            try check(chrono_fi_endpoint(domain, info, &ep), "fi_endpoint")
            try check(chrono_fi_ep_bind_av(ep, av), "fi_ep_bind(av)")
            try check(chrono_fi_ep_bind_cq(ep, cq), "fi_ep_bind(cq)")
            let rc = chrono_fi_enable(ep)
            if rc == -Int32(EBUSY), attempt < Self.enableAttempts {
                if let p = ep { _ = chrono_fi_close(chrono_fi_fid_ep(p)) }
                ep = nil
                attempt += 1
                continue
            }
            try check(rc, attempt > 1 ? "fi_enable (attempt \(attempt))" : "fi_enable")
            return
        }
    }

    /// A `size_t` (imported as `Int`) read as unsigned, clamped to `Int.max` (`SIZE_MAX` = no limit).
    private static func size(_ value: Int) -> Int { Int(clamping: UInt(bitPattern: value)) }

    private static func string(_ p: UnsafePointer<CChar>?) -> String {
        p.map { String(cString: $0) } ?? ""
    }

    /// Whether the objects are open.
    var isOpen: Bool { ep != nil }

    // MARK: addresses

    /// The endpoint's own address (`fi_getname`).
    func localAddress() throws(FabricError) -> [UInt8] {
        var length = 0
        var probe = [UInt8](repeating: 0, count: 1)
        let rc = probe.withUnsafeMutableBytes { chrono_fi_getname(ep, $0.baseAddress, &length) }
        if rc == 0 { return Array(probe.prefix(length)) }
        guard rc == -chrono_fi_etoosmall(), length > 0 else {
            try check(rc, "fi_getname")
            return []
        }
        var out = [UInt8](repeating: 0, count: length)
        let rc2 = out.withUnsafeMutableBytes { chrono_fi_getname(ep, $0.baseAddress, &length) }
        try check(rc2, "fi_getname")
        return Array(out.prefix(length))
    }

    /// Inserts peer addresses into the AV (`fi_av_insert`); returns their `fi_addr_t` values in
    /// order. Addresses of one length go in one call, packed; addresses of different lengths (a
    /// provider whose addresses are strings, such as `shm`'s, which name process ids of different
    /// digit counts) go one call each, so no provider has to find where one ends.
    func insert(addresses: [[UInt8]]) throws(FabricError) -> [UInt64] {
        guard let first = addresses.first else { return [] }
        guard addresses.allSatisfy({ !$0.isEmpty }) else {
            throw .invalidArgument(call: "fi_av_insert", detail: "addresses must be non-empty; got lengths \(addresses.map(\.count))")
        }
        let groups = addresses.allSatisfy({ $0.count == first.count }) ? [addresses[...]] : addresses.indices.map { addresses[$0...$0] }
        var out: [UInt64] = []
        out.reserveCapacity(addresses.count)
        for group in groups {
            let packed = group.flatMap { $0 }
            var inserted = [UInt64](repeating: UInt64.max, count: group.count)
            let rc = packed.withUnsafeBytes { raw in
                inserted.withUnsafeMutableBufferPointer { chrono_fi_av_insert(av, raw.baseAddress, group.count, $0.baseAddress) }
            }
            try check(rc, "fi_av_insert")
            guard Int(rc) == group.count else {
                throw .callFailed(call: "fi_av_insert", code: rc, message: "inserted \(rc) of \(group.count) addresses")
            }
            out += inserted
        }
        return out
    }

    // MARK: memory registration

    /// Registers `length` bytes at `base` for local and remote read/write (`fi_mr_reg`), binding
    /// the region to the endpoint and enabling it when `FI_MR_ENDPOINT` is in force.
    /// With `remoteReadOnly`, peers may only read it (`FI_REMOTE_READ`): memory lent in place.
    func register(base: UnsafeMutableRawPointer, length: Int, requestedKey: UInt64,
                  remoteReadOnly: Bool = false) throws(FabricError) -> MemoryRegistration {
        guard let domain else { throw .closed(call: "fi_mr_reg") }
        var mr: UnsafeMutablePointer<fid_mr>? = nil
        if remoteReadOnly {
            try check(chrono_fi_mr_reg_remote_read(domain, base, length, requestedKey, &mr), "fi_mr_reg")
        } else {
            try check(chrono_fi_mr_reg(domain, base, length, requestedKey, &mr), "fi_mr_reg")
        }
        guard let mr else { throw .callFailed(call: "fi_mr_reg", code: -12, message: "no region returned") }
        do {
            if granted.memoryRegistrationMode.contains(.endpoint) {
                try check(chrono_fi_mr_bind_ep(mr, ep), "fi_mr_bind")
                try check(chrono_fi_mr_enable(mr), "fi_mr_enable")
            }
        } catch {
            _ = chrono_fi_close(chrono_fi_fid_mr(mr))
            throw error
        }
        return MemoryRegistration(mr: mr, key: chrono_fi_mr_key(mr), descriptor: chrono_fi_mr_desc(mr))
    }

    /// Deregisters a region (`fi_close` on the `fid_mr`).
    func deregister(_ registration: MemoryRegistration) throws(FabricError) {
        try check(chrono_fi_close(chrono_fi_fid_mr(registration.mr)), "fi_close(mr)")
    }

    // MARK: operations

    /// Takes a context block for a new operation; its address is the operation's token.
    func takeContext() -> UInt {
        let block = spareContexts.popLast()
            ?? UnsafeMutableRawPointer.allocate(byteCount: Self.contextSize, alignment: 16)
        block.initializeMemory(as: UInt8.self, repeating: 0, count: Self.contextSize)
        let token = UInt(bitPattern: block)
        liveContexts.insert(token)
        return token
    }

    /// Returns a context block after its operation completed (or was never posted).
    func returnContext(_ token: UInt) {
        guard liveContexts.remove(token) != nil, let block = UnsafeMutableRawPointer(bitPattern: token) else { return }
        spareContexts.append(block)
    }

    /// Whether `token` is a context this endpoint handed out and has not taken back.
    func isLive(_ token: UInt) -> Bool { liveContexts.contains(token) }

    /// Posts one RMA read or write of `length` bytes between local `memory` (+`offset`) and the
    /// peer's `remoteAddress`/`key`. Writes ask for delivery completion, so their completion
    /// means the data is visible in the target's memory.
    func post(isRead: Bool, memory: UnsafeMutableRawPointer, offset: Int, length: Int, descriptor: UnsafeMutableRawPointer?,
              peer: UInt64, remoteAddress: UInt64, key: UInt64, token: UInt) throws(FabricError) -> PostResult {
        guard let ep, let context = UnsafeMutableRawPointer(bitPattern: token) else { throw .closed(call: isRead ? "fi_read" : "fi_write") }
        let local = memory + offset
        let rc: Int
        if isRead {
            rc = chrono_fi_readmsg(ep, local, length, descriptor, peer, remoteAddress, key, context, chrono_fi_op_completion())
        } else {
            rc = chrono_fi_writemsg(ep, local, length, descriptor, peer, remoteAddress, key, context,
                                    chrono_fi_op_completion() | chrono_fi_op_delivery_complete())
        }
        if rc == -Int(chrono_fi_eagain()) { return .tryAgain }
        try check(rc, isRead ? "fi_readmsg" : "fi_writemsg")
        return .posted
    }

    /// Polls the completion queue once (`fi_cq_read`, and `fi_cq_readerr` on `-FI_EAVAIL`).
    /// This is also what drives a manual-progress provider.
    func poll() throws(FabricError) -> CompletionPoll {
        guard let cq else { throw .closed(call: "fi_cq_read") }
        // On the stack: an idle poll (most of them) allocates nothing.
        let (n, tokens) = withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: 16) { contexts in
            let n = chrono_fi_cq_read(cq, contexts.baseAddress, 16)
            return (n, n > 0 ? contexts.prefix(n).map { UInt(bitPattern: $0) } : [])
        }
        if n > 0 { return .completed(tokens) }
        if n == 0 || n == -Int(chrono_fi_eagain()) { return .empty }
        guard n == -Int(chrono_fi_eavail()) else {
            try check(n, "fi_cq_read")
            return .empty
        }
        var err: Int32 = 0, provErr: Int32 = 0
        var context: UnsafeMutableRawPointer? = nil
        var text = [CChar](repeating: 0, count: 512)
        let rc = text.withUnsafeMutableBufferPointer { chrono_fi_cq_readerr(cq, &err, &provErr, &context, $0.baseAddress, 512) }
        if rc == -Int(chrono_fi_eagain()) { return .empty }
        try check(rc, "fi_cq_readerr")
        let message = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return .failed(token: UInt(bitPattern: context), code: err, providerCode: provErr, message: message)
    }

    // MARK: teardown

    /// Closes endpoint, then AV and CQ, then domain, then fabric (registrations must have been
    /// closed first). Returns the first error; closes everything regardless.
    func close() throws(FabricError) {
        var first: FabricError? = nil
        func run(_ rc: Int32, _ call: String) {
            do { try check(rc, call) } catch { if first == nil { first = error } }
        }
        if let p = ep { run(chrono_fi_close(chrono_fi_fid_ep(p)), "fi_close(ep)"); ep = nil }
        if let p = av { run(chrono_fi_close(chrono_fi_fid_av(p)), "fi_close(av)"); av = nil }
        if let p = cq { run(chrono_fi_close(chrono_fi_fid_cq(p)), "fi_close(cq)"); cq = nil }
        if let p = domain { run(chrono_fi_close(chrono_fi_fid_domain(p)), "fi_close(domain)"); domain = nil }
        if let p = fabric { run(chrono_fi_close(chrono_fi_fid_fabric(p)), "fi_close(fabric)"); fabric = nil }
        if let p = info { chrono_fi_freeinfo(p); info = nil }
        // No operation can complete any more: release every context block.
        for token in liveContexts { UnsafeMutableRawPointer(bitPattern: token)?.deallocate() }
        liveContexts.removeAll()
        for block in spareContexts { block.deallocate() }
        spareContexts.removeAll()
        if let first { throw first }
    }

    /// `close()` without reporting errors (for failed opens and `deinit`).
    func closeQuietly() {
        do { try close() } catch {}
    }
}
