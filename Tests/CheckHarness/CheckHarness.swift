import MPI

#if canImport(Glibc)
import Glibc
#endif

// The harness shared by the small check programs the tests run (wrapper-checks,
// archive-checks): checks that throw, output that interleaves cleanly under mpirun, and a run
// wrapper that fails the whole job at the first failed check.

/// A check that did not hold.
public struct CheckFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Throws `CheckFailure(message)` unless `condition` holds.
public func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailure(description: message()) }
}

/// Prints a line and flushes it at once (rank output interleaves under mpirun).
public func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Writes a line to standard error without Foundation.
public func warn(_ text: String) {
    var t = text + "\n"
    t.withUTF8 { p in _ = write(2, p.baseAddress, p.count) }
}

/// Runs `body` between `MPIRuntime.initialize` and `finalize`. On any error the rank prints
/// `FAIL` with the error and aborts the whole job, so no other rank is left waiting in a collective.
public func runUnderMPI(_ name: String, threadLevel: ThreadLevel = .funneled, _ body: (Communicator) throws -> Void) {
    do {
        try MPIRuntime.initialize(requiring: threadLevel)
    } catch {
        warn("FAIL \(name): \(error)")
        exit(2)
    }
    let world = Communicator.world
    do {
        try body(world)
        try world.barrier()
        if world.rank == 0 { say("PASS \(name)") }
        try MPIRuntime.finalize()
    } catch {
        warn("FAIL \(name) rank \(world.rank): \(error)")
        MPIRuntime.abort(code: 3)
    }
}

/// Runs `body` in a plain process (no MPI): prints `PASS name`, or `FAIL name: error` and exits 1.
public func runSerial(_ name: String, _ body: () throws -> Void) {
    do {
        try body()
        say("PASS \(name)")
    } catch {
        warn("FAIL \(name): \(error)")
        exit(1)
    }
}

/// Deterministic test bytes: a pattern that depends on `seed` and position, so a shifted or
/// truncated transfer never matches.
public func patternBytes(count: Int, seed: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    var x = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
    for i in 0..<count {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        out[i] = UInt8(truncatingIfNeeded: x)
    }
    return out
}

/// Bytes this process has passed to write system calls so far (`wchar` of `/proc/self/io`: file
/// writes, including MPI-IO's), or -1 when it cannot be read.
public func syscallWriteBytes() -> Int {
    guard let f = fopen("/proc/self/io", "r") else { return -1 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = String(cString: line)
        if text.hasPrefix("wchar:") {
            return Int(String(text.dropFirst(6).filter(\.isNumber))) ?? -1
        }
    }
    return -1
}
