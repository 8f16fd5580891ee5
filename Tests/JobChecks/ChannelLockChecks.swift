import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation

/// The session's control channel as pollers meet it (`channel-lock`): a writer's thread waiting
/// for acknowledgements polls only when no other thread drives the channel
/// (`ChronoSession.withChannelIfAvailable`). Free, it runs its body; held by another thread, it
/// returns false without running it and without waiting (the holder waits for this call to return
/// before it lets go, so a poller that waited would never return: the job's timeout); its errors
/// come out as `withChannel`'s do. A job's rank survives SIGPIPE (`BrokenPipes`).
struct ChannelLockChecks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "channel-lock")
    @OptionGroup var options: JobChecks.Options

    private struct Unexpected: Error {}

    func run() throws {
        try options.runOnFirstClient { session, client, c in
            var ran = false
            let free = try session.withChannelIfAvailable { _ in ran = true }
            c.expect("a free channel runs the body", free && ran)

            let held = DispatchSemaphore(value: 0), letGo = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            let holder = Thread {
                try? session.withChannel { _ in
                    held.signal()
                    letGo.wait()
                }
                done.signal()
            }
            holder.start()
            held.wait()
            var ranWhileHeld = false
            let busy = try session.withChannelIfAvailable { _ in ranWhileHeld = true }
            c.expect("a channel another thread holds: false at once, the body not run", !busy && !ranWhileHeld)
            letGo.signal()
            done.wait()
            ran = false
            c.expect("free again: the body runs", (try session.withChannelIfAvailable { _ in ran = true }) && ran)

            // Errors: a ChronoLogError as it is; any other as −8 naming what was being done.
            let own = rc { _ = try session.withChannelIfAvailable { _ in throw ChronoLogError.notReaderMode } }
            c.expect("the body's ChronoLogError comes out as it is (\(own))", own == ChronoLogError.notReaderMode.returnCode.rawValue)
            var message = ""
            do {
                _ = try session.withChannelIfAvailable("polling for the check") { _ in throw Unexpected() }
            } catch let error as ChronoLogError {
                message = "\(error)"
                c.expect("another error becomes −8 (\(error.returnCode.rawValue))", error.returnCode == .noConnection)
            }
            c.expect("naming what was being done (\(message))", message.contains("polling for the check"))
            // A broken pipe (as a write to a killed attached client's connection raises) does not
            // kill a job's rank: the session goes on.
            raise(SIGPIPE)
            c.expect("the session goes on, after a SIGPIPE too", rc { try client.createChronicle("AfterLock") } == 0)
        }
    }
}
