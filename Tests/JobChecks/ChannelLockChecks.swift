import ArgumentParser
import ChronoClient
import ChronoModel
import Foundation
import MPI

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
            try Self.checkTestSome(&c)
            // A broken pipe (as a write to a killed attached client's connection raises) does not
            // kill a job's rank: the session goes on.
            raise(SIGPIPE)
            c.expect("the session goes on, after a SIGPIPE too", rc { try client.createChronicle("AfterLock") } == 0)
        }
    }

    /// `Request.testSome` (one `MPI_Testsome` for all of a channel's sends): it reports which
    /// requests completed, leaves the others pending until they can, gives each completed one its
    /// status, and keeps an already completed request completed.
    static func checkTestSome(_ c: inout Checker) throws {
        let me = Communicator.selfOnly
        let waiting = try me.irecv(capacity: 16, tag: 7)       // nothing sent under tag 7 yet
        let early = try me.irecv(capacity: 16, tag: 8)
        let sent = try me.isend([1, 2, 3], to: 0, tag: 8)
        var done = [false, false, false]
        for _ in 0..<1000 where !(done[1] && done[2]) { done = try Request.testSome([waiting, early, sent]) }
        c.expect("a receive with nothing sent stays pending (\(done))", done == [false, true, true])
        c.expect("a completed receive has its status (\(String(describing: early.status)))",
                 early.status?.tag == 8 && early.status?.count == 3 && early.receivedBytes == [1, 2, 3])
        let late = try me.isend([9], to: 0, tag: 7)
        for _ in 0..<1000 where !(done[0] && done[3]) { done = try Request.testSome([waiting, early, sent, late]) }
        c.expect("it completes once its message came; completed ones stay so (\(done))", done == [true, true, true, true])
        c.expect("its own bytes arrived (\(waiting.receivedBytes))", waiting.receivedBytes == [9] && waiting.status?.tag == 7)
        c.expect("nothing to test: empty", try Request.testSome([]).isEmpty)
    }
}
