import MPI

#if canImport(Glibc)
import Glibc
#endif

/// A check that did not hold.
struct CheckFailure: Error, CustomStringConvertible {
    let description: String
}

/// Throws `CheckFailure(message)` unless `condition` holds.
func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailure(description: message()) }
}

/// Prints a line and flushes it at once (rank output interleaves under mpirun).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Runs `body` between `MPIRuntime.initialize` and `finalize`. On any error the rank prints
/// `FAIL` with the error and aborts the whole job, so no other rank is left waiting in a collective.
func runUnderMPI(_ name: String, threadLevel: ThreadLevel = .funneled, _ body: (Communicator) throws -> Void) {
    do {
        try MPIRuntime.initialize(requiring: threadLevel)
    } catch {
        FileHandleErr.write("FAIL \(name): \(error)\n")
        exit(2)
    }
    let world = Communicator.world
    do {
        try body(world)
        try world.barrier()
        if world.rank == 0 { say("PASS \(name)") }
        try MPIRuntime.finalize()
    } catch {
        FileHandleErr.write("FAIL \(name) rank \(world.rank): \(error)\n")
        MPIRuntime.abort(code: 3)
    }
}

/// Writes to standard error without Foundation.
enum FileHandleErr {
    static func write(_ text: String) {
        var t = text
        t.withUTF8 { p in _ = Glibc.write(2, p.baseAddress, p.count) }
    }
}

/// Deterministic test bytes: a pattern that depends on `seed` and position, so a shifted or
/// truncated transfer never matches.
func patternBytes(count: Int, seed: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    var x = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
    for i in 0..<count {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        out[i] = UInt8(truncatingIfNeeded: x)
    }
    return out
}
