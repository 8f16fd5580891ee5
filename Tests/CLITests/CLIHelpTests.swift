import Foundation
import Testing
import TestSupport

/// `chronolog --help` and usage errors.
@Suite("chronolog: help and usage")
struct CLIHelpTests {
    @Test("chronolog --help names every command and the exit statuses")
    func help() throws {
        let r = try chronolog(["--help"], timeout: 30)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("USAGE"), "\(r)")
        for command in ["ls", "replay", "export", "verify", "stats", "version"] {
            #expect(r.stdout.contains("  \(command) "), "--help lacks \(command): \(r)")
        }
        #expect(r.stdout.contains("chronolog-archive"), "\(r)")
    }

    @Test("every subcommand answers --help", arguments: ["ls", "replay", "export", "verify", "stats", "version"])
    func subcommandHelp(command: String) throws {
        let r = try chronolog([command, "--help"], timeout: 30)
        #expect(r.exitCode == 0 && r.stdout.contains("USAGE: chronolog \(command)"), "\(r)")
    }

    @Test("replay --help documents the csv and jsonl record encodings")
    func replayHelp() throws {
        let r = try chronolog(["replay", "--help"], timeout: 30)
        #expect(r.stdout.contains("base64") && r.stdout.contains("record_base64") && r.stdout.contains("--format"), "\(r)")
    }

    @Test("usage errors exit 2 with the usage on stderr", arguments: [
        ["bogus"], ["replay", "dir"], ["replay", "dir", "c", "s", "--format", "xml"],
        ["replay", "dir", "c", "s", "--from", "10", "--to", "5"], ["ls", "--frobnicate"],
    ])
    func usageErrors(args: [String]) throws {
        let r = try chronolog(args, timeout: 30)
        #expect(r.exitCode == 2, "\(r)")
        #expect(r.stderr.contains("Usage:") || r.stderr.contains("USAGE"), "\(r)")
    }

    @Test("version prints the tool version")
    func version() throws {
        let r = try chronolog(["version"], timeout: 30)
        #expect(r.exitCode == 0 && r.stdout.hasPrefix("chronolog "), "\(r)")
    }
}
