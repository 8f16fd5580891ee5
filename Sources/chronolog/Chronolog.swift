import ArgumentParser

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `chronolog`: the offline command-line tool for ChronoLog-Swift archives (no job needed).
@main
struct Chronolog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chronolog",
        abstract: "Inspect ChronoLog-Swift archives without a running job; tail and ls --live watch a running service.",
        discussion: """
            PATH is an archive directory (every *.h5 file in it is read, and a story stored in \
            several files is merged) or one archive file. ls, export, verify and stats default to \
            ./chronolog-archive, the directory jobs archive to by default (archive.directory). \
            Do not read a file a running job is still writing.

            Exit status: 0 on success; 1 when the archive is missing, empty, unreadable or \
            damaged (one line on standard error names the path and the problem) or, for \
            verify, when a problem is found; 2 for a usage error; 3 when replay printed a \
            partial answer (damaged index rows left out, named on standard error).
            """,
        version: ChronologVersion.string,
        subcommands: [ListCommand.self, ReplayCommand.self, ExportCommand.self, VerifyCommand.self, StatsCommand.self, TailCommand.self,
                      Version.self])

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the tool's version.")
        func run() {
            print("chronolog \(ChronologVersion.string)")
        }
    }

    /// Parses and runs a command. Failures about the archive print `chronolog: <path>: <problem>`
    /// on standard error and exit 1; usage errors print the usage and exit 2.
    static func main() {
        // A closed pipe (`chronolog replay … | head`) is a write error that ends the command with
        // status 1 and a line on standard error, as any output that cannot be written; SIGPIPE
        // would kill the process silently (status 141).
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as ChronologFailure {
            writeStandardError("chronolog: \(failure)\n")
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                writeStandardError(fullMessage(for: error) + "\n")
                Glibc.exit(2)
            }
            if code == .success {  // --help, --version
                print(fullMessage(for: error))
                Glibc.exit(flushStandardOutput() ? 0 : 1)
            }
            _ = flushStandardOutput()
            exit(withError: error)
        }
        // A report that could not be written (disk full, closed pipe) is a failure, not a success.
        Glibc.exit(flushStandardOutput() ? 0 : 1)
    }

    /// Flushes standard output (`print` buffers it). - Returns: false, after a message on standard
    /// error, when any write to it failed.
    static func flushStandardOutput() -> Bool {
        if fflush(stdout) == 0 && ferror(stdout) == 0 { return true }
        let reason = errno == 0 ? "write error" : String(cString: strerror(errno))
        writeStandardError("chronolog: standard output: write failed: \(reason)\n")
        return false
    }
}

enum ChronologVersion {
    static let string = "0.2.0"
}
