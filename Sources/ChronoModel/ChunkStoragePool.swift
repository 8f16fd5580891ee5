import Synchronization

/// Storage of range buffers and chunks a role has finished with — record tables and payload
/// bytes — handed out again for the next ones, so a keeper or grapher in steady state reuses
/// memory it has touched before instead of faulting in fresh pages for every range, piece and
/// merge (on the development VM a fresh page costs a host fault: issue 17).
///
/// A role makes one pool and shares it between its story pipelines and its own chunk handling.
/// The pool keeps at most `capacityLimit` bytes of idle capacity; what does not fit goes back to
/// the heap. Thread-safe (a grapher's archive thread gives chunks back too).
public final class ChunkStoragePool: Sendable {
    /// The most idle capacity kept, in bytes.
    public let capacityLimit: Int

    private struct State: Sendable {
        var tables: [[EventRecord]] = []
        var payloads: [[UInt8]] = []
        var idleBytes = 0
        var reused: UInt64 = 0
        var fresh: UInt64 = 0
        var shared: UInt64 = 0
        var lastRange = (records: 0, bytes: 0)
    }
    private let state = Mutex(State())

    /// A pool keeping at most `capacityLimit` bytes of idle storage.
    public init(capacityLimit: Int) {
        self.capacityLimit = max(0, capacityLimit)
    }

    /// Storage handed out from the pool, and storage newly allocated because none fitted.
    public var counts: (reused: UInt64, fresh: UInt64) {
        state.withLock { ($0.reused, $0.fresh) }
    }

    /// Arrays given back while another copy still referred to their storage, and so not kept.
    public var sharedCount: UInt64 { state.withLock { $0.shared } }

    /// The size of the last range any pipeline sharing the pool sealed whole, or cut (the part
    /// sealed and the rest together, when larger than the story's hint): what a new story's
    /// first range reserves, instead of growing from nothing by doublings (each a copy, and a
    /// fresh allocation whenever no idle array is large enough).
    public var lastRange: (records: Int, bytes: Int) {
        get { state.withLock { $0.lastRange } }
        set { state.withLock { $0.lastRange = newValue } }
    }

    /// Idle capacity held, in bytes.
    public var idleBytes: Int { state.withLock { $0.idleBytes } }

    /// An empty record table with room for at least `capacity` records: the smallest idle one that
    /// fits, else a new one.
    public func takeTable(capacity: Int) -> [EventRecord] {
        let kept = state.withLock { s -> [EventRecord]? in
            guard let i = Self.bestFit(s.tables, capacity) else {
                s.fresh += 1
                return nil
            }
            let t = s.tables.remove(at: i)
            s.idleBytes -= t.capacity * EventRecord.byteSize
            s.reused += 1
            return t
        }
        if let t = kept { return t }
        var t: [EventRecord] = []
        t.reserveCapacity(Self.withHeadroom(capacity))
        return t
    }

    /// An empty payload with room for at least `capacity` bytes: the smallest idle one that fits,
    /// else a new one.
    public func takePayload(capacity: Int) -> [UInt8] {
        let kept = state.withLock { s -> [UInt8]? in
            guard let i = Self.bestFit(s.payloads, capacity) else {
                s.fresh += 1
                return nil
            }
            let p = s.payloads.remove(at: i)
            s.idleBytes -= p.capacity
            s.reused += 1
            return p
        }
        if let p = kept { return p }
        var p: [UInt8] = []
        p.reserveCapacity(Self.withHeadroom(capacity))
        return p
    }

    /// A new array's capacity for a request of `capacity`: a quarter more. Requests come in sizes
    /// that vary a little (a grapher's pieces, a keeper's ranges from one to the next), and an
    /// array of exactly the size asked would miss the next, slightly larger request when given
    /// back: a grapher's fresh allocations fell from 34–50 to 17–44 per IOR run with the headroom,
    /// its page faults by a quarter. Pages past what is written are never touched.
    static func withHeadroom(_ capacity: Int) -> Int {
        capacity > Int.max / 2 ? capacity : capacity + capacity / 4
    }

    /// An empty chunk of `storyId` and `range` whose storage has room for `records` records and
    /// `bytes` payload bytes.
    public func takeChunk(storyId: StoryID, range: TimeRange, records: Int, bytes: Int) -> StoryChunk {
        StoryChunk(unchecked: storyId, range: range, revision: 0, records: takeTable(capacity: records),
                   payload: takePayload(capacity: bytes))
    }

    /// Keeps a table for reuse (emptied), unless the pool is full or it has no capacity.
    public func give(table: consuming [EventRecord]) {
        var t = consume table  // a copy would share the storage: it could not be emptied in place
        guard t.capacity > 0 else { return }
        guard Self.emptyInPlace(&t) else { return noteShared() }
        let bytes = t.capacity * EventRecord.byteSize
        state.withLock { s in
            guard Self.makeRoom(&s, for: bytes, limit: capacityLimit) else { return }
            s.idleBytes += bytes
            s.tables.append(t)
        }
    }

    /// Keeps a payload for reuse (emptied), unless the pool is full or it has no capacity.
    public func give(payload: consuming [UInt8]) {
        var p = consume payload
        guard p.capacity > 0 else { return }
        guard Self.emptyInPlace(&p) else { return noteShared() }
        let bytes = p.capacity
        state.withLock { s in
            guard Self.makeRoom(&s, for: bytes, limit: capacityLimit) else { return }
            s.idleBytes += bytes
            s.payloads.append(p)
        }
    }

    /// Keeps a chunk's storage for reuse, leaving `chunk` empty. Pass the only copy of the chunk,
    /// or its storage is still shared and cannot be reused.
    public func give(_ chunk: inout StoryChunk) {
        let (records, payload) = chunk.takeStorage()
        give(table: consume records)
        give(payload: consume payload)
    }

    /// Empties `array` keeping its storage, if no other copy refers to that storage. A shared
    /// array cannot be emptied in place: `removeAll(keepingCapacity:)` gives it new storage of the
    /// same size (memory never touched), which the pool must not keep as if it were warm — and the
    /// warm storage goes back to the heap when its other holder lets go. Callers should give only
    /// their last copy (``storage.shared`` counts the ones that were not).
    /// - Returns: whether the storage is the same (then `array` is empty and its own).
    private static func emptyInPlace<T>(_ array: inout [T]) -> Bool {
        let before = array.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        array.removeAll(keepingCapacity: true)
        return array.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } == before
    }

    private func noteShared() {
        state.withLock { $0.shared += 1 }
    }

    /// Makes room for `bytes` more idle bytes by dropping idle arrays smaller than that (large
    /// arrays are the ones worth keeping: a range or a round's merge needs them whole).
    /// - Returns: whether `bytes` fit now.
    private static func makeRoom(_ s: inout State, for bytes: Int, limit: Int) -> Bool {
        while s.idleBytes + bytes > limit {
            let table = s.tables.indices.min { s.tables[$0].capacity < s.tables[$1].capacity }
            let payload = s.payloads.indices.min { s.payloads[$0].capacity < s.payloads[$1].capacity }
            let tableBytes = table.map { s.tables[$0].capacity * EventRecord.byteSize } ?? Int.max
            let payloadBytes = payload.map { s.payloads[$0].capacity } ?? Int.max
            if tableBytes <= payloadBytes, let i = table, tableBytes < bytes {
                s.tables.remove(at: i)
                s.idleBytes -= tableBytes
            } else if let i = payload, payloadBytes < bytes {
                s.payloads.remove(at: i)
                s.idleBytes -= payloadBytes
            } else {
                return false
            }
        }
        return true
    }

    /// The index of the smallest array in `list` with room for `capacity` elements.
    private static func bestFit<T>(_ list: [[T]], _ capacity: Int) -> Int? {
        var best: Int? = nil
        for i in list.indices where list[i].capacity >= capacity {
            if let b = best, list[b].capacity <= list[i].capacity { continue }
            best = i
        }
        return best
    }
}
