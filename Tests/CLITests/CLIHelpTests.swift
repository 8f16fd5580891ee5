import Testing
import TestSupport

/// `chronolog --help` answers and names its commands.
@Test("chronolog --help answers")
func chronologHelp() throws {
    let r = try MPIJob.runCommand([MPIJob.executable("chronolog"), "--help"], timeout: 30)
    #expect(r.exitCode == 0, "\(r)")
    #expect(r.stdout.contains("USAGE"), "\(r)")
}
