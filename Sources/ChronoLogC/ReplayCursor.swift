import CChronoLog
import ChronoClient
import ChronoModel
import Foundation

/// What a `chronolog_cursor *` points to: a replay run on a thread of its own, handing its events
/// out in batches (`chronolog_replay_next`).
///
/// The query thread puts pieces (``StoryChunk``) into a queue of at most two and waits while it is
/// full, so memory stays bounded whatever the range. The caller's batches copy the record bytes
/// into ``storage``, which the events' `data` point into until the next call.
final class ReplayCursor: @unchecked Sendable {
    private let client: ChronoLogClient
    private let chronicle: String
    private let story: String
    private let range: (start: UInt64, end: UInt64)

    /// Guards everything below.
    private let condition = NSCondition()
    private var pieces: [StoryChunk] = []
    private var position = 0
    private var finished = false
    private var failure: ChronoLogError?
    private var cancelled = false
    private var closed = false
    private var threadDone = true
    /// The record bytes of the last batch handed out (allocated by hand: C keeps pointers into it).
    private var storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)

    /// Pieces the query thread may hold ahead of the caller.
    static let piecesAhead = 2

    init(client: ChronoLogClient, chronicle: String, story: String, start: UInt64, end: UInt64) {
        self.client = client
        self.chronicle = chronicle
        self.story = story
        self.range = (start, end)
    }

    /// Starts the query thread.
    func start() {
        condition.withLock { threadDone = false }
        let thread = Thread { [self] in run() }
        thread.name = "chronolog-cursor"
        thread.start()
    }

    private func run() {
        do throws(ChronoLogError) {
            let outcome = try client.replayStory(chronicle, story, from: range.start, to: range.end) { (chunk: StoryChunk) throws(ChronoLogError) in
                try self.enqueue(chunk)
            }
            // Some events could not be read: the last call says so, after every event that could.
            condition.withLock { failure = outcome.partial.map { .partialResult($0) }; finished = true }
        } catch {
            condition.withLock { if !cancelled { failure = error }; finished = true }
        }
        condition.withLock { threadDone = true }
        condition.broadcast()
    }

    private func enqueue(_ chunk: StoryChunk) throws(ChronoLogError) {
        condition.lock()
        defer { condition.unlock() }
        while pieces.count >= Self.piecesAhead && !cancelled { condition.wait() }
        if cancelled { throw .unknown("the cursor was closed") }
        pieces.append(chunk)
        condition.broadcast()
    }

    /// Writes up to `out.count` next events into `out` (their data copied into ``storage``).
    /// - Returns: how many; 0 once the replay is over.
    /// - Throws: the query's error; `.invalidArgument` on a closed cursor.
    func next(into out: UnsafeMutableBufferPointer<chronolog_event>) throws(ChronoLogError) -> Int {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { throw .invalidArgument("the cursor is closed") }
        while true {
            if let chunk = pieces.first {
                if position < chunk.count { return copy(from: chunk, into: out) }
                pieces.removeFirst()
                position = 0
                condition.broadcast()
                continue
            }
            if let failure { throw failure }
            if finished { return 0 }
            condition.wait()
        }
    }

    /// Copies events of `chunk` from ``position`` on into `out` (caller holds the lock).
    private func copy(from chunk: StoryChunk, into out: UnsafeMutableBufferPointer<chronolog_event>) -> Int {
        let n = min(out.count, chunk.count - position)
        var bytes = 0
        for i in position..<(position + n) { bytes += chunk.recordBytes(at: i).count }
        if bytes > storage.count {
            storage.deallocate()
            storage = .allocate(byteCount: max(bytes, 2 * storage.count), alignment: 16)
        }
        var offset = 0
        for j in 0..<n {
            let key = chunk.key(at: position + j)
            let record = chunk.recordBytes(at: position + j)
            let target = UnsafeMutableRawBufferPointer(rebasing: storage[offset..<(offset + record.count)])
            target.copyBytes(from: record)
            out[j] = chronolog_event(time: key.time, client_id: key.clientId.rawValue, index: key.index, reserved: 0,
                                     data: UnsafeRawPointer(storage.baseAddress! + offset), length: record.count)
            offset += record.count
        }
        position += n
        return n
    }

    /// Cancels the query if it still runs, waits for its thread and drops the events. Idempotent.
    func close() {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        cancelled = true
        condition.broadcast()
        while !threadDone { condition.wait() }
        pieces = []
    }

    deinit { storage.deallocate() }
}
