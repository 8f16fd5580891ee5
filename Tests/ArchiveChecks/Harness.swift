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

/// Writes to standard error.
func warn(_ text: String) {
    var t = text + "\n"
    t.withUTF8 { p in _ = write(2, p.baseAddress, p.count) }
}

/// Runs `body` between `MPIRuntime.initialize` and `finalize`. On any error the rank prints
/// `FAIL` with the error and aborts the whole job, so no rank is left waiting in a collective.
func runUnderMPI(_ name: String, _ body: (Communicator) throws -> Void) {
    do {
        _ = try MPIRuntime.initialize(requiring: .funneled)
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
func runSerial(_ name: String, _ body: () throws -> Void) {
    do {
        try body()
        say("PASS \(name)")
    } catch {
        warn("FAIL \(name): \(error)")
        exit(1)
    }
}
