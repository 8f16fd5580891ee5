import ChronoModel

/// Writes Chrome trace-event JSON (the object form Perfetto and chrome://tracing read) into an
/// `OutputSink`, one trace event per line, as chunks of events arrive: nothing but the client →
/// pid map and the named tracks is kept between chunks.
///
/// Tracks: pid = the client (1, 2, … in order of first appearance; `process_name` "client <id>"),
/// tid = the story being written (``story``; `thread_name` "<chronicle>/<story>").
struct ChromeTraceWriter {
    /// Longest event name taken from a record, in bytes.
    static let nameBytes = 64

    let sink: OutputSink
    /// The time, in ns, that `ts` counts from.
    let origin: UInt64
    /// The story whose events ``append(_:)`` gets: its tid, name and chronicle.
    var story: (tid: Int, name: String, chronicle: String) = (1, "", "")
    private var pids: [UInt64: Int] = [:]
    private var namedTracks = Set<Int>()
    private var first = true

    init(sink: OutputSink, origin: UInt64) {
        self.sink = sink
        self.origin = origin
    }

    /// The document's opening, up to the trace-event array.
    mutating func begin(archive: String) {
        sink.append(#"{"displayTimeUnit":"ns","otherData":{"chronolog_time_origin_ns":""#)
        appendDecimal(origin, into: &sink.buffer)
        sink.append(#"","archive":""#)
        appendJSONStringBody(Array(archive.utf8)[...], into: &sink.buffer)
        sink.append("\"},\"traceEvents\":[")
    }

    /// Closes the array and the document.
    mutating func end() {
        sink.append("\n]}\n")
    }

    /// Appends one instant event per event of `chunk` (events of ``story``, in event order),
    /// with the metadata naming a track the first time it is used.
    /// - Throws: `ChronologFailure` when the output cannot be written.
    mutating func append(_ chunk: StoryChunk) throws(ChronologFailure) {
        for i in 0..<chunk.count {
            let r = chunk.records[i]
            let pid = track(client: r.clientId)
            startEvent("i", name: nil, pid: pid, tid: story.tid, ts: r.time)
            sink.append(#","s":"t","name":""#)
            appendName(chunk.recordBytes(at: i))
            sink.append(#"","cat":""#)
            appendJSONStringBody(Array(story.chronicle.utf8)[...], into: &sink.buffer)
            sink.append(#"","args":{"time_ns":""#)
            appendDecimal(r.time, into: &sink.buffer)
            sink.append(#"","client_id":""#)
            appendDecimal(r.clientId, into: &sink.buffer)
            sink.append(#"","index":"#)
            appendDecimal(UInt64(r.index), into: &sink.buffer)
            sink.append(#","length":"#)
            appendDecimal(UInt64(r.length), into: &sink.buffer)
            sink.append("}}")
            try sink.flushIfFull()
        }
    }

    /// The pid of `client`, writing the metadata of its process and of its track for the
    /// current story when they are new.
    private mutating func track(client: UInt64) -> Int {
        let pid: Int
        if let known = pids[client] {
            pid = known
        } else {
            pid = pids.count + 1
            pids[client] = pid
            metadata("process_name", pid: pid, tid: 0, value: "client \(client)")
        }
        if namedTracks.insert(pid << 32 | story.tid).inserted {
            metadata("thread_name", pid: pid, tid: story.tid, value: story.name)
        }
        return pid
    }

    /// A metadata event (`"ph":"M"`) naming a process or a thread.
    private mutating func metadata(_ kind: String, pid: Int, tid: Int, value: String) {
        startEvent("M", name: kind, pid: pid, tid: tid, ts: origin)
        sink.append(#","args":{"name":""#)
        appendJSONStringBody(Array(value.utf8)[...], into: &sink.buffer)
        sink.append("\"}}")
    }

    /// `{"ph":…,"pid":…,"tid":…,"ts":…` (and `"name"` when given), after the separator.
    private mutating func startEvent(_ phase: String, name: String?, pid: Int, tid: Int, ts time: UInt64) {
        sink.append(first ? "\n" : ",\n")
        first = false
        sink.append("{\"ph\":\"\(phase)\",\"pid\":")
        appendDecimal(UInt64(pid), into: &sink.buffer)
        sink.append(#","tid":"#)
        appendDecimal(UInt64(tid), into: &sink.buffer)
        sink.append(#","ts":"#)
        let d = time >= origin ? time - origin : 0
        appendDecimal(d / 1000, into: &sink.buffer)
        let fraction = d % 1000
        sink.buffer.append(0x2E)
        sink.buffer.append(0x30 &+ UInt8(fraction / 100))
        sink.buffer.append(0x30 &+ UInt8(fraction / 10 % 10))
        sink.buffer.append(0x30 &+ UInt8(fraction % 10))
        if let name { sink.append(",\"name\":\"\(name)\"") }
    }

    /// The event's name: its record's first ``nameBytes`` bytes (cut at a character boundary) when
    /// the record is non-empty UTF-8, otherwise `event`.
    private func appendName(_ record: ArraySlice<UInt8>) {
        guard !record.isEmpty, isValidUTF8(record) else {
            sink.append("event")
            return
        }
        var end = min(record.endIndex, record.startIndex + Self.nameBytes)
        while end < record.endIndex, end > record.startIndex, record[end] & 0xC0 == 0x80 { end -= 1 }
        appendJSONStringBody(record[record.startIndex..<end], into: &sink.buffer)
    }
}
