import ChronoSystem
import CheckHarness
import ArgumentParser
import Fabric
import MPI
#if canImport(Glibc)
import Glibc
#endif

/// libfabric wrapper checks: RMA read and write between two ranks with the target making
/// progress, provider errors, remote-key errors and the registered memory pool.
struct FabricChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fabric",
        abstract: "libfabric wrapper checks.",
        subcommands: [RMA.self, Lend.self, UnknownProvider.self, BadKey.self, Pool.self, StaleShm.self])

    /// Rank 1 exposes a pattern in a pool buffer; rank 0 `fi_read`s it and verifies byte for byte
    /// (into registered memory, then once into an array's unregistered storage, at an odd offset),
    /// then `fi_write`s another pattern back, which rank 1 verifies. Rank 1 polls its completion
    /// queue (backing off) until rank 0 tells it over MPI that it is done. Prints bandwidth lines
    /// `BW <provider> read|write <bytes> B ...`.
    struct RMA: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rma")

        @Option(help: "libfabric provider, e.g. shm or 'tcp;ofi_rxm'.")
        var provider: String = "shm"

        @Option(help: "Comma-separated transfer sizes in bytes.")
        var sizes: String = "4096,8388608"

        @Option(help: "Split transfers into operations of at most this many bytes (default: FabricConfiguration.defaultMaxTransferSize, the product's).")
        var maxTransfer: Int?

        @Option(help: "Timed repetitions per size (default: enough for ~32 MiB, 3 to 100).")
        var reps: Int?

        @Option(help: "Longest sleep of the target's progress loop, in microseconds.")
        var serveMaxSleepUs: Int = 1000

        @Flag(help: "Corrupt one byte of the exposed data after filling it: the check must then FAIL.")
        var corrupt = false

        @Flag(help: "Insert the peer's address one byte longer (a NUL appended: the same shm address string), so the addresses inserted differ in length as shm's do for process ids of different digit counts.")
        var padPeerAddress = false

        func run() throws {
            let sizeList = sizes.split(separator: ",").compactMap { Int($0.filter { $0 != " " }) }
            let name = "fabric rma \(provider)"
            runUnderMPI(name) { world in
                try expect(world.size == 2, "needs exactly 2 ranks, got \(world.size)")
                try expect(!sizeList.isEmpty && sizeList.allSatisfy { $0 > 0 }, "bad --sizes \(sizes)")
                let comm = try world.duplicate()
                let rank = comm.rank
                var config = FabricConfiguration(provider: FabricProvider(provider))
                if let maxTransfer { config.maxTransferSize = maxTransfer }
                let ep = try FabricEndpoint(configuration: config)
                if rank == 0 { say("INFO \(ep.info) split=\(ep.maxTransferSize)") }
                var peers = try ep.exchangeAddresses(over: comm)
                if padPeerAddress {
                    // The addresses again, of different lengths, into the same AV; the peers they give
                    // are the ones used from here on.
                    var addresses = try comm.allgatherv(ep.localAddress)
                    addresses[1 - rank] += [0]
                    let lengths = addresses.map(\.count)
                    peers = try ep.insert(peerAddresses: addresses)
                    if rank == 0 { say("INFO inserted addresses of lengths \(lengths)") }
                }
                try expect(peers.count == 2, "address exchange gave \(peers.count) peers")
                let pool = try RegisteredMemoryPool(endpoint: ep, slotSize: sizeList.max()!, slotCount: 2)

                for (i, size) in sizeList.enumerated() {
                    let readSeed = 1000 + i, writeSeed = 2000 + i
                    let repeats = reps ?? max(3, min(100, (32 << 20) / size))
                    if rank == 1 {
                        let exposed = try pool.allocate(byteCount: size)
                        try exposed.copy(from: patternBytes(count: size, seed: readSeed))
                        if corrupt { try exposed.copy(from: [exposed.bytes()[size / 2] ^ 0x5A], at: size / 2) }
                        try comm.send(exposed.remoteDescriptor.encoded(), to: 0, tag: 10 + i)
                        try serve(ep, until: comm.irecv(capacity: 8, from: 0, tag: 20 + i),
                                  maxSleepNanoseconds: serveMaxSleepUs * 1000)
                        if let bad = exposed.firstMismatch(with: patternBytes(count: size, seed: writeSeed)) {
                            throw CheckFailure(description: "write of \(size) B: rank 1 memory mismatch at byte \(bad)")
                        }
                        try pool.free(exposed)
                    } else {
                        let remote = try RemoteDescriptor(decoding: comm.receive(from: 1, tag: 10 + i).bytes)
                        try expect(remote.length == size, "descriptor length \(remote.length) != \(size)")
                        let local = try pool.allocate(byteCount: size)
                        local.fill(with: 0)
                        let expected = patternBytes(count: size, seed: readSeed)
                        var t0 = MPIRuntime.wtime()
                        for r in 0..<repeats {
                            try ep.read(into: local, from: peers[1], remote: remote, timeout: .seconds(60))
                            if r == 0 || r == repeats - 1, let bad = local.firstMismatch(with: expected) {
                                throw CheckFailure(description: "read of \(size) B (rep \(r)): mismatch at byte \(bad)")
                            }
                        }
                        report("read", size: size, repeats: repeats, seconds: MPIRuntime.wtime() - t0)
                        // Straight into plain memory (an array's storage), where the provider allows it,
                        // in two segments read out of order (the second third first).
                        try expect(ep.acceptsUnregisteredLocalMemory, "\(provider) unexpectedly requires FI_MR_LOCAL")
                        var plain = [UInt8](repeating: 0, count: size + 2)
                        try plain.withUnsafeMutableBytes { raw in
                            let cut = size / 3
                            let op = try ep.postRead(intoUnregistered: UnsafeMutableRawBufferPointer(rebasing: raw[1..<(size + 1)]),
                                                     from: peers[1],
                                                     segments: [(cut, remote.address &+ UInt64(cut), remote.key, size - cut),
                                                                (0, remote.address, remote.key, cut)])
                            try ep.wait(for: op, timeout: .seconds(60))
                        }
                        if let bad = (0..<size).first(where: { plain[1 + $0] != expected[$0] }) {
                            throw CheckFailure(description: "read of \(size) B into unregistered memory: mismatch at byte \(bad)")
                        }
                        try expect(plain[0] == 0 && plain[size + 1] == 0, "read into unregistered memory wrote outside its buffer")
                        say("READ-UNREGISTERED \(provider) \(size) B ok")
                        try local.copy(from: patternBytes(count: size, seed: writeSeed))
                        t0 = MPIRuntime.wtime()
                        for _ in 0..<repeats {
                            try ep.write(from: local, to: peers[1], remote: remote, timeout: .seconds(60))
                        }
                        report("write", size: size, repeats: repeats, seconds: MPIRuntime.wtime() - t0)
                        try comm.send([1], to: 1, tag: 20 + i)
                        try pool.free(local)
                    }
                }
                try expect(pool.availableSlots == 2, "pool leaked slots: \(pool.availableSlots) of 2 free")
                try comm.barrier()
                try ep.close()
                try comm.free()
            }
        }

        private func report(_ op: String, size: Int, repeats: Int, seconds: Double) {
            let mib = Double(size) * Double(repeats) / seconds / 1_048_576
            let usPerOp = seconds / Double(repeats) * 1e6
            say("BW \(provider) \(op) \(size) B: \(String(format2(mib))) MiB/s (\(repeats) reps, \(format2(usPerOp)) us/op)")
        }
    }

    /// Rank 1 lends two arrays in place (`register(lending:)`, as a keeper lends a sealed chunk's
    /// record table and payload) and sends their descriptors; rank 0 reads a part of each, side by
    /// side, into one registered buffer with one multi-segment read (and an empty segment, which
    /// reads nothing), and verifies every byte, including that nothing outside the two parts was
    /// written. `--split` makes the provider split each part into several operations. Rank 1 then
    /// ends the loans; its arrays are unchanged throughout (lent memory is never written).
    struct Lend: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "lend")

        @Option(help: "libfabric provider, e.g. shm or 'tcp;ofi_rxm'.")
        var provider: String = "shm"

        @Option(help: "Split transfers into operations of at most this many bytes (default: FabricConfiguration.defaultMaxTransferSize, the product's).")
        var maxTransfer: Int?

        func run() throws {
            let name = "fabric lend \(provider)"
            runUnderMPI(name) { world in
                try expect(world.size == 2, "needs exactly 2 ranks, got \(world.size)")
                let comm = try world.duplicate()
                var config = FabricConfiguration(provider: FabricProvider(provider))
                if let maxTransfer { config.maxTransferSize = maxTransfer }
                let ep = try FabricEndpoint(configuration: config)
                let peers = try ep.exchangeAddresses(over: comm)
                let first = patternBytes(count: 100_000, seed: 7), second = patternBytes(count: 3_000_001, seed: 8)
                // The parts rank 0 reads: bytes 96 ..< 96+64000 of the first, 17 ..< 17+2999000 of the second.
                let parts = [(start: 96, count: 64_000), (start: 17, count: 2_999_000)]
                if comm.rank == 1 {
                    let loans = try [first, second].map { array in try array.withUnsafeBytes { try ep.register(lending: $0) } }
                    for (k, loan) in loans.enumerated() {
                        try expect(loan.length == [first, second][k].count, "loan \(k) covers \(loan.length) bytes")
                        try comm.send(loan.remoteDescriptor.encoded(), to: 0, tag: 30 + k)
                    }
                    try serve(ep, until: comm.irecv(capacity: 8, from: 0, tag: 40), maxSleepNanoseconds: 1_000_000)
                    for loan in loans { try loan.close() }
                    try expect(loans.allSatisfy(\.isClosed), "a loan stayed open")
                    try expect(first == patternBytes(count: 100_000, seed: 7) && second == patternBytes(count: 3_000_001, seed: 8),
                               "lent memory changed")
                } else {
                    let remotes = try (0..<2).map { k in try RemoteDescriptor(decoding: comm.receive(from: 1, tag: 30 + k).bytes) }
                    try expect(remotes[0].length == 100_000 && remotes[1].length == 3_000_001, "descriptors \(remotes)")
                    let region = try ep.register(byteCount: 8 + parts[0].count + parts[1].count + 8)
                    let local = region.whole
                    local.fill(with: 0xA5)
                    let segments = [
                        (offset: 8, remoteAddress: remotes[0].address + UInt64(parts[0].start), key: remotes[0].key, length: parts[0].count),
                        (offset: 8 + parts[0].count, remoteAddress: remotes[1].address, key: remotes[1].key, length: 0),
                        (offset: 8 + parts[0].count, remoteAddress: remotes[1].address + UInt64(parts[1].start), key: remotes[1].key,
                         length: parts[1].count),
                    ]
                    let op = try ep.postRead(into: local, from: peers[1], segments: segments)
                    try ep.wait(for: op, timeout: .seconds(60))
                    let expected = [UInt8](repeating: 0xA5, count: 8) + first[parts[0].start..<(parts[0].start + parts[0].count)]
                        + second[parts[1].start..<(parts[1].start + parts[1].count)] + [UInt8](repeating: 0xA5, count: 8)
                    if let bad = local.firstMismatch(with: expected) {
                        throw CheckFailure(description: "multi-segment read of lent memory: mismatch at byte \(bad)")
                    }
                    do {
                        _ = try ep.postRead(into: local, from: peers[1],
                                            segments: [(offset: 1, remoteAddress: remotes[0].address, key: remotes[0].key, length: local.length)])
                        throw CheckFailure(description: "a segment past the end of the local buffer was posted")
                    } catch FabricError.invalidArgument {}
                    say("LEND-READ \(provider) \(parts[0].count + parts[1].count) B in 2 segments ok")
                    try comm.send([1], to: 1, tag: 40)
                    try region.close()
                }
                try comm.barrier()
                try ep.close()
                try comm.free()
            }
        }
    }

    /// Opens endpoints for providers that do not exist or are not usable here; each must throw
    /// `FabricError.providerUnavailable` naming the provider, without crashing or hanging.
    struct UnknownProvider: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unknown-provider")

        @Option(help: "Comma-separated provider names expected to be unavailable.")
        var providers: String = "no-such-provider,psm2,ofi_rxm"

        func run() throws {
            runUnderMPI("fabric unknown-provider") { world in
                for name in providers.split(separator: ",").map(String.init) {
                    do {
                        let ep = try FabricEndpoint(provider: FabricProvider(name))
                        try? ep.close()
                        throw CheckFailure(description: "provider '\(name)' opened as \(ep.info.providerName)")
                    } catch let error as FabricError {
                        guard case .providerUnavailable(let provider, let detail) = error else {
                            throw CheckFailure(description: "provider '\(name)': expected providerUnavailable, got \(error)")
                        }
                        try expect(provider == name && !detail.isEmpty && error.description.contains(name),
                                   "error does not name '\(name)': \(error)")
                        if world.rank == 0 { say("CAUGHT \(error)") }
                    }
                }
            }
        }
    }

    /// Rank 0 reads rank 1's buffer with a wrong remote key: where the provider checks keys the
    /// operation must fail with a typed error carrying `fi_cq_readerr` details, without a hang;
    /// where it does not (shm's CMA path) the check reports `QUIRK`.
    struct BadKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bad-key")

        @Option(help: "libfabric provider.")
        var provider: String = "shm"

        func run() throws {
            runUnderMPI("fabric bad-key \(provider)") { world in
                try expect(world.size == 2, "needs exactly 2 ranks, got \(world.size)")
                let comm = try world.duplicate()
                let ep = try FabricEndpoint(provider: FabricProvider(provider))
                let peers = try ep.exchangeAddresses(over: comm)
                let region = try ep.register(byteCount: 4096)
                if comm.rank == 1 {
                    try comm.send(region.remoteDescriptor.encoded(), to: 0, tag: 1)
                    try serve(ep, until: comm.irecv(capacity: 8, from: 0, tag: 2))
                } else {
                    let good = try RemoteDescriptor(decoding: comm.receive(from: 1, tag: 1).bytes)
                    let bad = RemoteDescriptor(address: good.address, key: good.key &+ 0xBAD, length: 4096)
                    do {
                        try ep.read(into: region.whole, from: peers[1], remote: bad, timeout: .seconds(20))
                        // shm's CMA fast path copies without looking at the key (see the report).
                        say("QUIRK \(provider): a read with a wrong remote key succeeded (the provider does not check keys)")
                    } catch let error as FabricError {
                        switch error {
                        case .operationFailed(let call, let op, let code, _, let message):
                            try expect(call == "fi_cq_readerr" && op != nil && code != 0 && !message.isEmpty,
                                       "thin error \(error)")
                        case .callFailed(_, let code, let message):
                            try expect(code != 0 && !message.isEmpty, "thin error \(error)")
                        default:
                            throw CheckFailure(description: "unexpected error \(error)")
                        }
                        say("CAUGHT wrong key: \(error)")
                        // Informational: tcp;ofi_rxm drops the connection to the peer after a
                        // remote access error and does not re-establish it.
                        do {
                            try ep.read(into: region.whole, from: peers[1], remote: good, timeout: .seconds(20))
                            say("INFO the endpoint still reaches the peer after the error")
                        } catch {
                            say("INFO after the error the peer is unreachable: \(error)")
                        }
                    }
                    try comm.send([1], to: 1, tag: 2)
                }
                try comm.barrier()
                try ep.close()
                try comm.free()
            }
        }
    }

    /// The registered memory pool: slots are disjoint and inside the region, exhaustion and
    /// double frees are typed errors, freed slots are reused, closing the endpoint closes it.
    struct Pool: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pool")

        @Option(help: "libfabric provider.")
        var provider: String = "shm"

        func run() throws {
            runUnderMPI("fabric pool") { _ in
                let ep = try FabricEndpoint(provider: FabricProvider(provider))
                let pool = try RegisteredMemoryPool(endpoint: ep, slotSize: 1000, slotCount: 4)
                try expect(pool.slotSize == 1024, "slot size rounded to \(pool.slotSize)")
                var held: [RegisteredBuffer] = []
                for k in 0..<4 { held.append(try pool.allocate(byteCount: 100 * (k + 1))) }
                let ranges = held.map { $0.offset..<($0.offset + pool.slotSize) }.sorted { $0.lowerBound < $1.lowerBound }
                for k in 1..<ranges.count { try expect(ranges[k - 1].upperBound <= ranges[k].lowerBound, "slots overlap") }
                try expect(held.allSatisfy { $0.remoteDescriptor.key == pool.region.key }, "slot keys differ from the region's")
                for b in held {
                    let d = b.remoteDescriptor
                    try expect(d.address == pool.region.remoteBaseAddress + UInt64(b.offset) && d.length == b.length,
                               "descriptor \(d) does not match slot \(b)")
                }
                do {
                    _ = try pool.allocate(byteCount: 1)
                    throw CheckFailure(description: "a fifth slot was handed out")
                } catch FabricError.poolExhausted {}
                do {
                    _ = try pool.allocate(byteCount: 5000)
                    throw CheckFailure(description: "an oversized buffer was handed out")
                } catch FabricError.poolExhausted {}
                // Distinct contents per slot survive.
                for (k, b) in held.enumerated() { try b.copy(from: patternBytes(count: b.length, seed: k)) }
                for (k, b) in held.enumerated() {
                    try expect(b.firstMismatch(with: patternBytes(count: b.length, seed: k)) == nil, "slot \(k) clobbered")
                }
                try pool.free(held[2])
                do {
                    try pool.free(held[2])
                    throw CheckFailure(description: "double free accepted")
                } catch FabricError.invalidArgument {}
                let again = try pool.allocate(byteCount: 10)
                try expect(again.offset == held[2].offset, "freed slot not reused")
                do {
                    try pool.free(held[2])
                    throw CheckFailure(description: "stale buffer freed the reused slot")
                } catch FabricError.invalidArgument {}
                let other = try ep.register(byteCount: 64)
                do {
                    try pool.free(other.whole)
                    throw CheckFailure(description: "foreign buffer accepted")
                } catch FabricError.invalidArgument {}
                try expect(pool.availableSlots == 0, "available \(pool.availableSlots)")
                try ep.close()
                try expect(pool.region.isClosed && other.isClosed, "endpoint close left regions registered")
                do {
                    _ = try pool.allocate(byteCount: 1)
                    throw CheckFailure(description: "allocation from a closed pool")
                } catch FabricError.poolExhausted {
                } catch FabricError.closed {}
                try ep.close()  // twice is fine
            }
        }
    }
}

extension FabricChecks {
    /// An `shm` endpoint opens although segments named like its next ones (`<pid>:<uid>:<n>`)
    /// were left in /dev/shm, as a killed process whose pid was reused leaves them: the wrapper
    /// retries `fi_enable`'s `-FI_EBUSY` with a fresh endpoint. Plants `--stale` such segments
    /// (zero-filled, so libfabric sees a foreign layout) right after the endpoint this process
    /// would open next; more than the wrapper's retries must FAIL.
    struct StaleShm: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stale-shm")

        @Option(help: "Stale segments to plant in front of the endpoint.")
        var stale: Int = 3

        func run() throws {
            runUnderMPI("fabric stale-shm") { _ in
                // The per-process endpoint counter may already have been used (by MPI itself):
                // open one endpoint to learn it.
                let probe = try FabricEndpoint(provider: .shm)
                let probeName = String(decoding: probe.localAddress.prefix { $0 != 0 }, as: UTF8.self)
                try probe.close()
                guard let last = probeName.split(separator: ":").last, let used = Int(last) else {
                    throw CheckFailure(description: "unexpected shm address \(probeName)")
                }
                let prefix = "/dev/shm/\(getpid()):\(getuid()):"
                var planted: [String] = []
                for k in 1...max(1, stale) {
                    let path = prefix + "\(used + k)"
                    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
                    try expect(fd >= 0, "cannot create \(path): errno \(errno)")
                    let zeros = [UInt8](repeating: 0, count: 4096)
                    let written = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                    try expect(written == 4096, "short write to \(path)")
                    planted.append(path)
                }
                defer { for path in planted { unlink(path) } }
                let ep = try FabricEndpoint(provider: .shm)
                let name = String(decoding: ep.localAddress.prefix { $0 != 0 }, as: UTF8.self)
                say("INFO stale \(stale) probe \(probeName) endpoint \(name)")
                try expect(name.hasSuffix(":\(used + stale + 1)"), "endpoint \(name) did not skip the \(stale) stale names")
                // It must work, too: register memory and read it back through the endpoint.
                let peers = try ep.exchangeAddresses(over: try Communicator.world.duplicate())
                let region = try ep.register(byteCount: 8192)
                try region.slice(offset: 0, length: 4096).copy(from: [UInt8](repeating: 0xA5, count: 4096))
                try ep.read(into: try region.slice(offset: 4096, length: 4096), from: peers[0],
                            remoteAddress: region.remoteBaseAddress, key: region.key, length: 4096)
                try expect(try region.slice(offset: 4096, length: 4096).firstMismatch(with: [UInt8](repeating: 0xA5, count: 4096)) == nil,
                           "self-read through the re-opened endpoint differs")
                try ep.close()
            }
        }
    }
}

/// Makes progress on `ep` (polling its CQ and backing off) until `done` completes: what a rank
/// that exposes memory does while a peer reads or writes it.
func serve(_ ep: FabricEndpoint, until done: Request, maxSleepNanoseconds: Int = 1_000_000) throws {
    var backoff = IdleBackoff(maxSleepNanoseconds: maxSleepNanoseconds)
    while try done.test() == nil {
        let completed = try ep.progress()
        if completed.isEmpty { backoff.idle() } else { backoff.reset() }
    }
}

/// Two decimals, without Foundation.
func format2(_ x: Double) -> String {
    let scaled = (x * 100).rounded()
    guard scaled.isFinite, abs(scaled) < 1e15 else { return "\(x)" }
    let v = Int(scaled)
    let frac = abs(v % 100)
    return "\(v / 100).\(frac < 10 ? "0" : "")\(frac)"
}
