import ChronoModel
import Synchronization

/// The MPI transport of a session's ingest: batches go out on tag `.events` of the session's
/// control channel, acknowledgements come in on `.flow`. Every call takes the session's channel
/// lock (MPI calls from any thread, serialized; `MPI_THREAD_MULTIPLE`); polling for
/// acknowledgements only when it is free (another thread holding it drives the channel, and the
/// poller comes back after its back-off).
final class SessionIngestTransport: IngestTransport, @unchecked Sendable {
    private unowned let session: ChronoSession

    init(session: ChronoSession) {
        self.session = session
    }

    func send(_ message: [UInt8], to keeperRank: Int) throws(ChronoLogError) {
        try session.withChannel("sending to keeper rank \(keeperRank) failed") { channel in
            try channel.post(message, to: keeperRank, tag: .events)
        }
    }

    func send(frame: consuming [UInt8], to keeperRank: Int) throws(ChronoLogError) {
        var frame = Optional(consume frame)
        try session.withChannel("sending to keeper rank \(keeperRank) failed") { channel in
            guard let bytes = frame.take() else { return }
            try channel.post(adopting: consume bytes, to: keeperRank, tag: .events) { sent in EventBatchFrames.give(consume sent) }
        }
    }

    func pollAcks(into router: AckRouter) throws(ChronoLogError) -> Bool {
        var worked = false
        _ = try session.withChannelIfAvailable("receiving batch acknowledgements failed") { channel in
            worked = try channel.progress()
            while let (bytes, _) = try channel.poll(tag: .flow) {
                worked = true
                switch try? ControlMessage.decode(bytes) {
                case .batchAck(let ack)?: router.deliver(ack)
                case .durableReply(let reply)?: router.deliver(reply)
                default: router.noteMalformed()
                }
            }
        }
        return worked
    }
}
