// Unsafe code of ChronoModel lives here, in WireReader.swift and in MergeKernel.swift: bulk copies between record tables,
// payload arrays and byte buffers. Every function checks its bounds before touching memory.

enum RawBytes {
    /// Appends the wire form of `records` (32 bytes each, little-endian) to `bytes`.
    static func appendRecords(_ records: [EventRecord], to bytes: inout [UInt8]) {
        if EventRecord.hasNativeWireLayout {
            records.withUnsafeBytes { bytes.append(contentsOf: $0) }
        } else {
            for r in records {
                appendLE(r.time, to: &bytes)
                appendLE(r.clientId, to: &bytes)
                appendLE(r.index, to: &bytes)
                appendLE(r.length, to: &bytes)
                appendLE(r.offset, to: &bytes)
            }
        }
    }

    /// Writes the 56-byte chunk layout header at the start of `raw` (the caller checked the size).
    static func storeChunkHeader(into raw: UnsafeMutableRawBufferPointer, story: UInt64, range: TimeRange, revision: UInt32,
                                 layoutVersion: UInt16, magic: UInt32, count: Int, payloadBytes: Int) {
        precondition(raw.count >= StoryChunk.headerByteCount, "chunk header does not fit")
        raw.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        raw.storeBytes(of: layoutVersion.littleEndian, toByteOffset: 4, as: UInt16.self)
        raw.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        raw.storeBytes(of: story.littleEndian, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: range.start.littleEndian, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: range.end.littleEndian, toByteOffset: 24, as: UInt64.self)
        raw.storeBytes(of: revision.littleEndian, toByteOffset: 32, as: UInt32.self)
        raw.storeBytes(of: UInt32(0), toByteOffset: 36, as: UInt32.self)
        raw.storeBytes(of: UInt64(count).littleEndian, toByteOffset: 40, as: UInt64.self)
        raw.storeBytes(of: UInt64(payloadBytes).littleEndian, toByteOffset: 48, as: UInt64.self)
    }

    /// Writes the wire form of `records[positions]` at `raw[at...]`, each offset lowered by `base`
    /// (the caller checked the size).
    static func storeRecords(_ records: [EventRecord], _ positions: Range<Int>, rebasedBy base: UInt64,
                             into raw: UnsafeMutableRawBufferPointer, at start: Int) {
        precondition(start >= 0 && positions.count <= (raw.count - start) / EventRecord.byteSize, "records do not fit")
        guard !positions.isEmpty else { return }
        records.withUnsafeBufferPointer { src in
            if EventRecord.hasNativeWireLayout && base == 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(src)[
                    (positions.lowerBound * EventRecord.byteSize)..<(positions.upperBound * EventRecord.byteSize)])
                UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + bytes.count)]).copyMemory(from: bytes)
                return
            }
            var p = start
            for k in positions {
                let r = src[k]
                raw.storeBytes(of: r.time.littleEndian, toByteOffset: p, as: UInt64.self)
                raw.storeBytes(of: r.clientId.littleEndian, toByteOffset: p + 8, as: UInt64.self)
                raw.storeBytes(of: r.index.littleEndian, toByteOffset: p + 16, as: UInt32.self)
                raw.storeBytes(of: r.length.littleEndian, toByteOffset: p + 20, as: UInt32.self)
                raw.storeBytes(of: (r.offset - base).littleEndian, toByteOffset: p + 24, as: UInt64.self)
                p += EventRecord.byteSize
            }
        }
    }

    /// Copies `bytes[range]` to `raw[at...]` (the caller checked the size).
    static func storeBytes(_ bytes: [UInt8], _ range: Range<Int>, into raw: UnsafeMutableRawBufferPointer, at start: Int) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count && start >= 0 && range.count <= raw.count - start,
                     "bytes do not fit")
        guard !range.isEmpty else { return }
        bytes.withUnsafeBytes { src in
            UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + range.count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[range]))
        }
    }

    /// Appends a fixed-width integer in little-endian order.
    @inline(__always)
    static func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Overwrites `bytes[at ..< at + size]` with `value` in little-endian order. Returns false if out of bounds.
    @discardableResult
    static func storeLE<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) -> Bool {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= bytes.count - size else { return false }
        withUnsafeBytes(of: value.littleEndian) { src in
            for i in 0..<size { bytes[offset + i] = src[i] }
        }
        return true
    }

    /// Reads `count` records (wire form) starting at `raw[offset]`. The caller has checked
    /// that `offset + count * 32 <= raw.count`.
    static func readRecords(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int) -> [EventRecord] {
        guard count > 0, offset >= 0, count <= (raw.count - offset) / EventRecord.byteSize else { return [] }
        if EventRecord.hasNativeWireLayout {
            return [EventRecord](unsafeUninitializedCapacity: count) { buffer, initialized in
                let dst = UnsafeMutableRawBufferPointer(buffer)
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * EventRecord.byteSize)]))
                initialized = count
            }
        }
        var records: [EventRecord] = []
        records.reserveCapacity(count)
        var p = offset
        for _ in 0..<count {
            records.append(EventRecord(
                time: loadLE(raw, p), clientId: loadLE(raw, p + 8), index: loadLE(raw, p + 16),
                length: loadLE(raw, p + 20), offset: loadLE(raw, p + 24)))
            p += EventRecord.byteSize
        }
        return records
    }

    /// Reads `count` records into `records`, reusing its capacity. The caller has checked the bounds.
    static func readRecords(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int, into records: inout [EventRecord]) {
        guard count > 0, offset >= 0, count <= (raw.count - offset) / EventRecord.byteSize else {
            records.removeAll(keepingCapacity: true)
            return
        }
        if EventRecord.hasNativeWireLayout {
            MergeKernel.resize(&records, to: count)
            records.withUnsafeMutableBytes { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * EventRecord.byteSize)]))
            }
        } else {
            records.removeAll(keepingCapacity: true)
            records.append(contentsOf: readRecords(raw, offset: offset, count: count))
        }
    }

    /// Loads a little-endian integer at `offset`; the caller has checked the bounds.
    @inline(__always)
    static func loadLE<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Copies `raw[offset ..< offset + count]` into a new array; the caller has checked the bounds.
    static func copyBytes(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int) -> [UInt8] {
        guard count > 0, offset >= 0, count <= raw.count - offset else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)]))
            initialized = count
        }
    }

    /// Runs `body` over the bytes of any contiguous byte collection.
    static func withBytes<C: Collection, R>(
        _ bytes: C, _ body: (UnsafeRawBufferPointer) -> R
    ) -> R where C.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes(body)
    }
}
