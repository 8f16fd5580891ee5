import Testing
import TestSupport

/// The libfabric wrapper, exercised by `wrapper-checks fabric ...` programs under mpirun.
@Suite("Fabric wrapper under mpirun", .serialized)
struct FabricWrapperTests {
    let checks = MPIJob.executable("wrapper-checks")

    @Test("RMA read and write of 4 KiB and 8 MiB between two ranks, verified byte for byte, target polling",
          arguments: ["shm", "tcp;ofi_rxm"])
    func readWrite(provider: String) throws {
        let r = try MPIJob.run(ranks: 2, [checks, "fabric", "rma", "--provider", provider, "--sizes", "4096,8388608"], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS fabric rma \(provider)").count == 1, "\(r)")
        let bandwidth = r.lines(startingWith: "BW \(provider) ")
        #expect(bandwidth.count == 4, "\(r)")
        #expect(r.lines(startingWith: "INFO \(provider) ").count == 1, "the provider in use is the one asked for: \(r)")
        // By default an 8-MiB read is split into parts of 256 KiB: shm holds the target's lock for each part's copy.
        #expect(r.stdout.contains("split=262144"), "\(r)")
        #expect(r.lines(startingWith: "READ-UNREGISTERED \(provider) ").count == 2, "reads into unregistered memory: \(r)")
    }

    @Test("memory lent in place (a keeper's sealed chunk) is read by parts with one multi-segment read, also split into several operations",
          arguments: [("shm", nil), ("tcp;ofi_rxm", nil), ("shm", 1_000_000)] as [(String, Int?)])
    func lentMemory(provider: String, maxTransfer: Int?) throws {
        let r = try MPIJob.run(ranks: 2, [checks, "fabric", "lend", "--provider", provider]
                                   + (maxTransfer.map { ["--max-transfer", "\($0)"] } ?? []), timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS fabric lend \(provider)").count == 1, "\(r)")
        #expect(r.lines(startingWith: "LEND-READ \(provider) 3063000 B in 2 segments ok").count == 1, "\(r)")
    }

    @Test("shm addresses of different lengths (process ids of different digit counts) are inserted and reach their peers")
    func addressesOfDifferentLengths() throws {
        let r = try MPIJob.run(ranks: 2, [checks, "fabric", "rma", "--provider", "shm", "--sizes", "4096,1048576", "--pad-peer-address"],
                               timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS fabric rma shm").count == 1, "\(r)")
        let lengths = r.stdout.firstMatch(of: /INFO inserted addresses of lengths \[(\d+), (\d+)\]/)
        #expect(lengths.map { $0.1 != $0.2 } == true, "the inserted addresses differ in length: \(r)")
    }

    @Test("transfers larger than the operation limit are split and still arrive intact",
          arguments: ["shm", "tcp;ofi_rxm"])
    func splitTransfers(provider: String) throws {
        let r = try MPIJob.run(
            ranks: 2,
            [checks, "fabric", "rma", "--provider", provider, "--sizes", "8388608,3000001,1", "--max-transfer", "1000000",
             "--reps", "2"],
            timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS fabric rma \(provider)").count == 1, "\(r)")
        #expect(r.stdout.contains("split=1000000"), "\(r)")
        #expect(r.lines(startingWith: "READ-UNREGISTERED \(provider) ").count == 3, "split reads into unregistered memory: \(r)")
    }

    @Test("an unknown or unusable provider is a typed error naming it: no crash, no hang")
    func unknownProvider() throws {
        let r = try MPIJob.run(ranks: 1, [checks, "fabric", "unknown-provider"], timeout: 60)
        #expect(!r.timedOut, "\(r)")
        #expect(r.exitCode == 0, "\(r)")
        let caught = r.lines(startingWith: "CAUGHT")
        #expect(caught.count == 3, "\(r)")
        for name in ["no-such-provider", "psm2", "ofi_rxm"] {
            #expect(caught.contains { $0.contains("provider '\(name)' is unavailable") }, "\(name): \(r)")
        }
    }

    @Test("a read with a wrong remote key fails with fi_cq_readerr details (tcp;ofi_rxm), without a hang")
    func wrongKeyTCP() throws {
        let r = try MPIJob.run(ranks: 2, [checks, "fabric", "bad-key", "--provider", "tcp;ofi_rxm"], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        let caught = r.lines(startingWith: "CAUGHT wrong key")
        #expect(caught.count == 1 && caught[0].contains("fi_cq_readerr") && caught[0].contains("FI errno"), "\(r)")
    }

    @Test("a read with a wrong remote key on shm neither crashes nor hangs")
    func wrongKeySHM() throws {
        let r = try MPIJob.run(ranks: 2, [checks, "fabric", "bad-key", "--provider", "shm"], timeout: 90)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS fabric bad-key shm").count == 1, "\(r)")
    }

    @Test("registered memory pool: disjoint slots, exhaustion and double free are typed errors")
    func pool() throws {
        let r = try MPIJob.run(ranks: 1, [checks, "fabric", "pool"], timeout: 60)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS fabric pool").count == 1, "\(r)")
    }

    @Test("shm endpoint opens past segments a killed process with the same pid left in /dev/shm")
    func staleSharedMemorySegments() throws {
        let r = try MPIJob.run(ranks: 1, [checks, "fabric", "stale-shm", "--stale", "3"], timeout: 60)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "PASS fabric stale-shm").count == 1, "\(r)")
        // More stale names than the wrapper retries: the check must be able to fail.
        let tooMany = try MPIJob.run(ranks: 1, [checks, "fabric", "stale-shm", "--stale", "4"], timeout: 60)
        #expect(tooMany.exitCode != 0 && !tooMany.timedOut, "\(tooMany)")
        #expect(tooMany.stderr.contains("fi_enable"), "\(tooMany)")
    }

    @Test("corrupted data fails the RMA check (the byte-for-byte verification can fail)")
    func corruptedDataFails() throws {
        let r = try MPIJob.run(ranks: 2, [checks, "fabric", "rma", "--provider", "shm", "--sizes", "4096", "--corrupt"], timeout: 60)
        #expect(r.exitCode != 0 && !r.timedOut, "\(r)")
        #expect(r.stderr.contains("FAIL fabric rma shm") && r.stderr.contains("mismatch at byte 2048"), "\(r)")
        #expect(r.lines(startingWith: "PASS").isEmpty, "\(r)")
    }
}
