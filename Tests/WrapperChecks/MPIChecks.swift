import CheckHarness
import Foundation
import ArgumentParser
import MPI

/// MPI wrapper checks: point-to-point, collectives, MPMD app numbers, splitting, errors.
struct MPIChecks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi",
        abstract: "MPI wrapper checks.",
        subcommands: [PointToPoint.self, Collectives.self, AppNumber.self, Split.self, Errors.self, FileIO.self])

    /// Ring exchange with blocking, non-blocking and matched-probe receives; sizes 0 B to 1 MiB.
    struct PointToPoint: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "p2p")

        func run() throws {
            runUnderMPI("mpi p2p") { world in
                let comm = try world.duplicate()
                let (rank, size) = (comm.rank, comm.size)
                try expect(size >= 2, "needs at least 2 ranks, got \(size)")
                let next = (rank + 1) % size, prev = (rank + size - 1) % size
                for (round, count) in [0, 1, 4096, 1 << 20].enumerated() {
                    // Blocking: even ranks send first, odd ranks receive first.
                    let mine = patternBytes(count: count, seed: rank * 100 + round)
                    let expected = patternBytes(count: count, seed: prev * 100 + round)
                    if rank % 2 == 0 {
                        try comm.send(mine, to: next, tag: round)
                        let got = try comm.receive(from: prev, tag: round)
                        try expect(got.bytes == expected && got.status.source == prev && got.status.tag == round,
                                   "blocking \(count) B from \(prev) mismatched")
                    } else {
                        let got = try comm.receive(from: prev, tag: round)
                        try expect(got.bytes == expected, "blocking \(count) B from \(prev) mismatched")
                        try comm.send(mine, to: next, tag: round)
                    }
                    // Non-blocking both ways at once.
                    let rreq = try comm.irecv(capacity: count, from: prev, tag: 100 + round)
                    let sreq = try comm.isend(mine, to: next, tag: 100 + round)
                    try sreq.wait()
                    let st = try rreq.wait()
                    try expect(st.count == count && rreq.receivedBytes == expected, "irecv \(count) B mismatched")
                }
                // Many large sends in flight at once, twice: each copy into pooled memory stays the
                // message's own until its send completes, and completed sends' memory is kept for
                // the next ones (the second round reuses it).
                for batch in 0..<2 {
                    let count = 20
                    let receives = try (0..<count).map { try comm.irecv(capacity: 1 << 20, from: prev, tag: 200 + $0) }
                    var sends = try (0..<count).map { i in
                        try comm.isend(patternBytes(count: 1 << 20, seed: rank * 1000 + batch * 100 + i), to: next, tag: 200 + i)
                    }
                    try Request.waitAll(sends)
                    for (i, r) in receives.enumerated() {
                        try r.wait()
                        try expect(r.receivedBytes == patternBytes(count: 1 << 20, seed: prev * 1000 + batch * 100 + i),
                                   "pooled send \(i) of round \(batch) mismatched")
                    }
                    sends.removeAll()  // completed: their buffers go back to the pool
                    try expect(SendBufferPool.idleBytes >= 1 << 20, "no send buffer kept after round \(batch)")
                }
                // Sends from the array itself: the array goes back, unchanged and unshared, to its
                // release once its send completed (a batch frame returning to its pool).
                let released = ReleasedArrays()
                var arrays: [[UInt8]?] = (0..<8).map { patternBytes(count: (1 << 20) + $0, seed: rank * 10 + $0) }
                let addresses = arrays.map { a in a!.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } }
                let adoptedReceives = try (0..<8).map { try comm.irecv(capacity: (1 << 20) + $0, from: prev, tag: 300 + $0) }
                var adopted = try (0..<8).map { i in
                    // Moved in, as a batch frame is: the send's is then the only reference.
                    try comm.isend(adopting: arrays[i].take()!, to: next, tag: 300 + i) { sent in released.add(consume sent) }
                }
                try Request.waitAll(adopted)
                for (i, r) in adoptedReceives.enumerated() {
                    try r.wait()
                    try expect(r.receivedBytes == patternBytes(count: (1 << 20) + i, seed: prev * 10 + i), "adopted send \(i) mismatched")
                }
                adopted.removeAll()
                let back = released.taken()
                try expect(back.count == 8 && Set(back.map(\.address)) == Set(addresses) && back.allSatisfy(\.unique),
                           "sent arrays given back: \(back.count), the same storage and unshared: \(back) vs \(addresses)")
                // Probe, iprobe and matched probe.
                try comm.send([1, 2, 3], to: next, tag: 7)
                let st = try comm.probe(from: prev, tag: 7)
                try expect(st.count == 3 && st.source == prev, "probe reported \(st)")
                var msg: Message? = nil
                while msg == nil { msg = try comm.improbe(from: prev, tag: 7) }
                try expect(try msg!.receive() == [1, 2, 3], "mrecv payload mismatched")
                try expect(try comm.iprobe(from: prev, tag: 7) == nil, "message received twice")
                // Receive into caller memory.
                try comm.send(patternBytes(count: 64, seed: rank), to: next, tag: 8)
                var into = [UInt8](repeating: 0, count: 64)
                let st2 = try into.withUnsafeMutableBytes { try comm.receive(into: $0, from: prev, tag: 8) }
                try expect(st2.count == 64 && into == patternBytes(count: 64, seed: prev), "receive(into:) mismatched")
                try comm.free()
                try expect(comm.isFreed, "free did not free")
            }
        }
    }

    /// Barrier, broadcast, gather, allgather(v), allreduce over Int64, UInt64 and Double.
    struct Collectives: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "collectives")

        func run() throws {
            runUnderMPI("mpi collectives") { world in
                let comm = try world.duplicate()
                let (rank, size) = (comm.rank, comm.size)
                try comm.barrier()
                let root = size - 1
                let b = try comm.broadcast(rank == root ? patternBytes(count: 10_000, seed: 42) : [], root: root)
                try expect(b == patternBytes(count: 10_000, seed: 42), "broadcast mismatched")
                let mine = patternBytes(count: rank * 3, seed: rank)
                let gathered = try comm.gather(mine, root: 0)
                if rank == 0 {
                    try expect(gathered?.count == size, "gather returned \(gathered?.count ?? -1) pieces")
                    for r in 0..<size { try expect(gathered![r] == patternBytes(count: r * 3, seed: r), "gather piece \(r)") }
                } else {
                    try expect(gathered == nil, "gather returned data off the root")
                }
                let all = try comm.allgatherv(mine)
                for r in 0..<size { try expect(all[r] == patternBytes(count: r * 3, seed: r), "allgatherv piece \(r)") }
                let ranks = try comm.allgather(Int64(rank))
                try expect(ranks == (0..<size).map { Int64($0) }, "allgather gave \(ranks)")
                let s = try comm.allreduce(Int64(rank + 1), op: .sum)
                try expect(s == Int64(size * (size + 1) / 2), "sum gave \(s)")
                let mx = try comm.allreduce(UInt64(rank), op: .max)
                try expect(mx == UInt64(size - 1), "max gave \(mx)")
                let mn = try comm.allreduce(Double(rank) + 0.5, op: .min)
                try expect(mn == 0.5, "min gave \(mn)")
                let v = try comm.allreduce([Int64(1), Int64(rank)], op: .sum)
                try expect(v == [Int64(size), Int64(size * (size - 1) / 2)], "vector sum gave \(v)")
                try comm.free()
            }
        }
    }

    /// Reports `MPI_APPNUM` of every rank from rank 0 as `APPNUMS a,b,c`.
    struct AppNumber: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "appnum")

        func run() throws {
            runUnderMPI("mpi appnum") { world in
                let mine = Int64(try Communicator.appNumber() ?? -1)
                let all = try world.allgather(mine)
                if world.rank == 0 { say("APPNUMS " + all.map(String.init).joined(separator: ",")) }
            }
        }
    }

    /// Split by node (all ranks share this machine), split by colour, nil colour, dup and free.
    struct Split: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "split")

        func run() throws {
            runUnderMPI("mpi split") { world in
                let (rank, size) = (world.rank, world.size)
                let node = try world.splitByNode(key: rank)
                try expect(node.size == size, "one machine, yet the node communicator has \(node.size) of \(size)")
                try expect(node.rank == rank, "node rank \(node.rank) != world rank \(rank)")
                let names = try world.allgatherv(Array(try MPIRuntime.processorName().utf8))
                try expect(Set(names).count == 1, "ranks report several hosts")
                let parity = try world.split(color: rank % 2, key: -rank)
                try expect(parity != nil, "split returned nil for a coloured rank")
                let expectedSize = (size + 1 - rank % 2) / 2
                try expect(parity!.size == expectedSize, "parity size \(parity!.size), expected \(expectedSize)")
                // Keys are -rank: the highest world rank comes first.
                let members = try parity!.allgather(Int64(rank))
                try expect(members == members.sorted(by: >), "split ignored the key: \(members)")
                let none = try world.split(color: rank == 0 ? nil : 1, key: 0)
                try expect((none == nil) == (rank == 0), "nil colour handling wrong on rank \(rank)")
                try none?.free()
                try parity!.free()
                try node.free()
            }
        }
    }

    /// MPI-IO (`MPIFile`): every rank writes its own block of a shared file at its offset,
    /// syncs and closes collectively, then reads the next rank's block back; a missing file and a
    /// closed file are typed errors naming the call.
    struct FileIO: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "file")
        @Option var path: String

        func run() throws {
            runUnderMPI("mpi file") { world in
                let (rank, size) = (world.rank, world.size)
                let block = 100_003
                let mine = (0..<block).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ rank) }
                let out = try MPIFile.open(path: path, access: .createWriteOnly, communicator: world)
                try mine.withUnsafeBytes { try out.write($0, at: rank * block) }
                try out.sync()
                try out.close()
                try out.close()
                let next = (rank + 1) % size
                let input = try MPIFile.open(path: path, access: .readOnly, communicator: world)
                var back = [UInt8](repeating: 0, count: block + 10)
                let got = try back.withUnsafeMutableBytes { try input.read(into: $0, at: next * block) }
                try expect(got == (next == size - 1 ? block : block + 10), "read \(got) bytes of rank \(next)'s block")
                try expect(Array(back[0..<block]) == (0..<block).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ next) },
                           "rank \(next)'s block read back differs")
                try input.close()
                do {
                    _ = try back.withUnsafeMutableBytes { try input.read(into: $0, at: 0) }
                    throw CheckFailure(description: "reading a closed file did not fail")
                } catch let e as MPIError {
                    try expect(e.call == "MPI_File_read_at" && e.message.contains("closed"), "unexpected error \(e)")
                }
                do {
                    _ = try MPIFile.open(path: path + ".missing", access: .readOnly, communicator: world)
                    throw CheckFailure(description: "opening a missing file did not fail")
                } catch let e as MPIError {
                    try expect(e.call.hasPrefix("MPI_File_open") && e.code != 0, "unexpected error \(e)")
                }
                try world.barrier()
            }
        }
    }

    /// Typed errors: a failing call on an owned communicator, freeing twice or a predefined one,
    /// initialising twice, and the thread level reported.
    struct Errors: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "errors")

        func run() throws {
            runUnderMPI("mpi errors", threadLevel: .multiple) { world in
                try expect(MPIRuntime.threadLevel == .multiple, "thread level \(MPIRuntime.threadLevel)")
                let comm = try world.duplicate()
                do {
                    try comm.send([1], to: comm.size + 5, tag: 0)
                    throw CheckFailure(description: "send to a rank outside the communicator did not fail")
                } catch let e as MPIError {
                    try expect(e.call == "MPI_Send" && !e.message.isEmpty && e.code != 0, "unexpected error \(e)")
                    if world.rank == 0 { say("CAUGHT \(e)") }
                }
                do {
                    _ = try comm.broadcast([1], root: -3)
                    throw CheckFailure(description: "broadcast with a bad root did not fail")
                } catch let e as MPIError {
                    try expect(e.call == "MPI_Bcast", "unexpected error \(e)")
                }
                do {
                    try MPIRuntime.initialize(requiring: .single)
                    throw CheckFailure(description: "second initialise did not fail")
                } catch let e as MPIError {
                    try expect(e.message.contains("already"), "unexpected error \(e)")
                }
                do {
                    try world.free()
                    throw CheckFailure(description: "freeing MPI_COMM_WORLD did not fail")
                } catch is MPIError {}
                try comm.free()
                do {
                    try comm.free()
                    throw CheckFailure(description: "double free did not fail")
                } catch is MPIError {}
            }
        }
    }
}

/// Arrays a send gave back, with their storage address and whether nothing else held them.
final class ReleasedArrays: @unchecked Sendable {
    private let lock = NSLock()
    private var arrays: [(address: UInt, unique: Bool)] = []

    func add(_ array: consuming [UInt8]) {
        var a = consume array
        let unique = isKnownUniquelyReferencedStorage(&a)
        let address = a.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        lock.lock()
        arrays.append((address, unique))
        lock.unlock()
    }

    func taken() -> [(address: UInt, unique: Bool)] {
        lock.lock()
        defer { lock.unlock() }
        return arrays
    }
}

/// Whether `array`'s storage has no other owner (a write would not copy it).
private func isKnownUniquelyReferencedStorage(_ array: inout [UInt8]) -> Bool {
    let before = array.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
    array.withUnsafeMutableBytes { _ in }  // copies the storage if it is shared
    return array.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == before
}
