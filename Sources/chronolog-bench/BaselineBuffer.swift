import ChronoModel

/// Events of one story waiting for one baseline I/O call, stored as ChronoLog-Swift stores them:
/// each event's 32-byte record (time, client id, index, length, payload offset; little-endian,
/// the archive's layout) and its record bytes.
///
/// `interleaved` (POSIX, MPI-IO: one byte stream per file) keeps record and bytes of each event
/// together; `split` (HDF5: a records dataset and a payload dataset) keeps all records first, then
/// all payloads, each region contiguous for its own `H5Dwrite`.
final class BaselineBuffer {
    /// How events are laid out in the buffer.
    enum Layout { case interleaved, split }

    /// Events the buffer holds when full.
    let capacity: Int
    /// Events held now.
    private(set) var count = 0
    private let layout: Layout
    private let eventBytes: Int
    private let storage: UnsafeMutableRawBufferPointer
    private let recordBytes = EventRecord.byteSize

    init(capacity: Int, eventBytes: Int, layout: Layout) {
        self.capacity = capacity
        self.eventBytes = eventBytes
        self.layout = layout
        storage = .allocate(byteCount: capacity * (eventBytes + EventRecord.byteSize), alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { storage.deallocate() }

    /// Whether the buffer is full.
    var isFull: Bool { count == capacity }

    /// Appends one event. - Precondition: not full.
    @inline(__always)
    func append(time: UInt64, clientId: UInt64, index: UInt32, slot: Int, payload: UnsafeRawBufferPointer) {
        let (recordAt, payloadAt) = layout == .interleaved
            ? (count * (recordBytes + eventBytes), count * (recordBytes + eventBytes) + recordBytes)
            : (count * recordBytes, capacity * recordBytes + count * eventBytes)
        let base = storage.baseAddress!
        base.storeBytes(of: time.littleEndian, toByteOffset: recordAt, as: UInt64.self)
        base.storeBytes(of: clientId.littleEndian, toByteOffset: recordAt + 8, as: UInt64.self)
        base.storeBytes(of: index.littleEndian, toByteOffset: recordAt + 16, as: UInt32.self)
        base.storeBytes(of: UInt32(eventBytes).littleEndian, toByteOffset: recordAt + 20, as: UInt32.self)
        base.storeBytes(of: UInt64(slot * eventBytes).littleEndian, toByteOffset: recordAt + 24, as: UInt64.self)
        (base + payloadAt).copyMemory(from: payload.baseAddress!, byteCount: eventBytes)
        count += 1
    }

    /// Interleaved: the held events, records and bytes together.
    var stream: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[0..<(count * (recordBytes + eventBytes))])
    }

    /// Split: the held events' records.
    var records: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<(count * recordBytes)]) }

    /// Split: the held events' record bytes.
    var payloads: UnsafeRawBufferPointer {
        let start = capacity * recordBytes
        return UnsafeRawBufferPointer(rebasing: storage[start..<(start + count * eventBytes)])
    }

    /// The whole storage, for reading into (interleaved: `capacity` events).
    var readSpace: UnsafeMutableRawBufferPointer { storage }

    /// Empties the buffer.
    func reset() { count = 0 }
}
