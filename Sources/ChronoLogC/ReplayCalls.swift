import CChronoLog
import ChronoClient
import ChronoModel

// Replay (chronolog.h). Not collective; the client must be a reader.

/// `chronolog_replay`: see chronolog.h. Runs the query on the caller's thread, calling `fn` for
/// each event with a pointer into the piece just received (no copy).
@_cdecl("chronolog_replay")
public func cabiReplay(_ client: OpaquePointer?, _ chronicle: UnsafePointer<CChar>?, _ story: UnsafePointer<CChar>?,
                       _ start: UInt64, _ end: UInt64, _ fn: chronolog_event_fn?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        let chronicleName = try CInput.string(chronicle, "chronicle"), storyName = try CInput.string(story, "story")
        guard let fn else { throw .invalidArgument("callback is NULL") }
        var stopped = false
        var outcome: ReplayOutcome?
        do throws(ChronoLogError) {
            outcome = try c.replayStory(chronicleName, storyName, from: start, to: end) { (chunk: StoryChunk) throws(ChronoLogError) in
                for i in 0..<chunk.count {
                    var event = chronolog_event()
                    if chunk.withEvent(at: i, into: &event, { fn($0, user) }) != 0 {
                        stopped = true
                        // Thrown out of the piece handler, this cancels the query at the player.
                        throw .unknown("chronolog_replay: stopped by the callback")
                    }
                }
            }
        } catch {
            if !stopped { throw error }
        }
        if let partial = outcome?.partial { throw .partialResult(partial) }
    }
}

/// `chronolog_replay_last`: see chronolog.h. As `chronolog_replay`, for a "last N" query.
@_cdecl("chronolog_replay_last")
public func cabiReplayLast(_ client: OpaquePointer?, _ chronicle: UnsafePointer<CChar>?, _ story: UnsafePointer<CChar>?,
                           _ count: UInt64, _ fn: chronolog_event_fn?, _ user: UnsafeMutableRawPointer?,
                           _ completeBefore: UnsafeMutablePointer<UInt64>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        let chronicleName = try CInput.string(chronicle, "chronicle"), storyName = try CInput.string(story, "story")
        guard let fn else { throw .invalidArgument("callback is NULL") }
        guard count <= UInt64(UInt32.max) else { throw .invalidArgument("count \(count) is above \(UInt32.max)") }
        completeBefore?.pointee = 0
        var stopped = false
        var outcome: ReplayOutcome?
        do throws(ChronoLogError) {
            outcome = try c.replayLast(chronicleName, storyName, count: Int(count)) { (chunk: StoryChunk) throws(ChronoLogError) in
                for i in 0..<chunk.count {
                    var event = chronolog_event()
                    if chunk.withEvent(at: i, into: &event, { fn($0, user) }) != 0 {
                        stopped = true
                        throw .unknown("chronolog_replay_last: stopped by the callback")
                    }
                }
            }
        } catch {
            if !stopped { throw error }
        }
        if let outcome, outcome.isRecording { completeBefore?.pointee = outcome.completeBefore }
        if let partial = outcome?.partial { throw .partialResult(partial) }
    }
}

extension StoryChunk {
    /// Fills `event` with the event at `position` (its `data` pointing into this chunk's storage)
    /// and runs `body` on it while that pointer is valid.
    func withEvent<R>(at position: Int, into event: inout chronolog_event, _ body: (UnsafePointer<chronolog_event>) -> R) -> R {
        let key = self.key(at: position)
        event.time = key.time
        event.client_id = key.clientId.rawValue
        event.index = key.index
        event.reserved = 0
        return recordBytes(at: position).withUnsafeBytes { bytes in
            event.data = bytes.baseAddress
            event.length = bytes.count
            return withUnsafePointer(to: &event) { body($0) }
        }
    }
}

/// `chronolog_replay_open`: see chronolog.h.
@_cdecl("chronolog_replay_open")
public func cabiReplayOpen(_ client: OpaquePointer?, _ chronicle: UnsafePointer<CChar>?, _ story: UnsafePointer<CChar>?,
                           _ start: UInt64, _ end: UInt64, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.client(client)
        let chronicleName = try CInput.string(chronicle, "chronicle"), storyName = try CInput.string(story, "story")
        guard let out else { throw .invalidArgument("cursor is NULL") }
        _ = try c.requireConnectionForCABI()
        guard c.mode == .writerReader else { throw .notReaderMode }
        let cursor = ReplayCursor(client: c, chronicle: chronicleName, story: storyName, start: start, end: end)
        out.pointee = CInput.opaque(CABIRuntime.shared.keep(cursor))
        cursor.start()
    }
}

/// `chronolog_replay_next`: see chronolog.h.
@_cdecl("chronolog_replay_next")
public func cabiReplayNext(_ cursor: OpaquePointer?, _ events: UnsafeMutablePointer<chronolog_event>?, _ capacity: Int,
                           _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let c = try CInput.cursor(cursor)
        guard let events, let count, capacity > 0 else { throw .invalidArgument("events or count is NULL, or capacity is 0") }
        count.pointee = 0
        count.pointee = try c.next(into: UnsafeMutableBufferPointer(start: events, count: capacity))
    }
}

/// `chronolog_replay_close`: see chronolog.h.
@_cdecl("chronolog_replay_close")
public func cabiReplayClose(_ cursor: OpaquePointer?) -> Int32 {
    returnCode { () throws(ChronoLogError) in try CInput.cursor(cursor).close() }
}

extension ChronoLogClient {
    /// Throws `.noConnection` unless connected.
    func requireConnectionForCABI() throws(ChronoLogError) -> ClientID {
        guard let id = clientId else { throw .noConnection("the client is not connected") }
        return id
    }
}
