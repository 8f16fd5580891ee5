// The merge inner loop. Uses unsafe buffers for speed; all indices stay inside the canonical tables
// given (offsets and lengths of canonical chunks are within their payloads by construction).

enum MergeKernel {
    /// Merges two canonical (sorted, duplicate-free, gap-free) record tables with their payloads.
    static func merge(
        _ aRecords: [EventRecord], _ aPayload: [UInt8], _ bRecords: [EventRecord], _ bPayload: [UInt8]
    ) -> (records: [EventRecord], payload: [UInt8]) {
        let capacity = aRecords.count + bRecords.count
        let payloadCapacity = aPayload.count + bPayload.count
        var outCount = 0
        var outBytes = 0
        var outPayload: [UInt8] = []
        let outRecords = [EventRecord](unsafeUninitializedCapacity: capacity) { recordBuffer, initialized in
            outPayload = [UInt8](unsafeUninitializedCapacity: payloadCapacity) { byteBuffer, bytesInitialized in
                aRecords.withUnsafeBufferPointer { ar in
                    bRecords.withUnsafeBufferPointer { br in
                        aPayload.withUnsafeBytes { ap in
                            bPayload.withUnsafeBytes { bp in
                                let dst = UnsafeMutableRawBufferPointer(byteBuffer)
                                (outCount, outBytes) = run(ar, ap, br, bp, recordBuffer, dst)
                            }
                        }
                    }
                }
                bytesInitialized = outBytes
            }
            initialized = outCount
        }
        return (outRecords, outPayload)
    }

    /// Merges into existing arrays, reusing their capacity (no allocation when it suffices).
    static func merge(
        _ aRecords: [EventRecord], _ aPayload: [UInt8], _ bRecords: [EventRecord], _ bPayload: [UInt8],
        into records: inout [EventRecord], _ payload: inout [UInt8]
    ) {
        let capacity = aRecords.count + bRecords.count
        let payloadCapacity = aPayload.count + bPayload.count
        resize(&records, to: capacity)
        resize(&payload, to: payloadCapacity)
        var outCount = 0
        var outBytes = 0
        records.withUnsafeMutableBufferPointer { recordBuffer in
            payload.withUnsafeMutableBytes { dst in
                aRecords.withUnsafeBufferPointer { ar in
                    bRecords.withUnsafeBufferPointer { br in
                        aPayload.withUnsafeBytes { ap in
                            bPayload.withUnsafeBytes { bp in
                                (outCount, outBytes) = run(ar, ap, br, bp, recordBuffer, dst)
                            }
                        }
                    }
                }
            }
        }
        records.removeLast(records.count - outCount)
        payload.removeLast(payload.count - outBytes)
    }

    /// Sets `array.count` to exactly `count` without giving up capacity (new elements are zero).
    /// Grows by appending slices of a zero block (one bulk copy each): appending a repeated element
    /// goes element by element through unspecialised generic code when not inlined.
    static func resize(_ array: inout [UInt8], to count: Int) {
        if array.count < count {
            array.reserveCapacity(count)
            while array.count < count {
                let n = min(count - array.count, zeroBytes.count)
                array.append(contentsOf: zeroBytes[0..<n])
            }
        } else if array.count > count {
            array.removeLast(array.count - count)
        }
    }

    /// `resize` for record tables (new records are zero).
    static func resize(_ array: inout [EventRecord], to count: Int) {
        if array.count < count {
            array.reserveCapacity(count)
            while array.count < count {
                let n = min(count - array.count, zeroRecords.count)
                array.append(contentsOf: zeroRecords[0..<n])
            }
        } else if array.count > count {
            array.removeLast(array.count - count)
        }
    }

    private static let zeroBytes = [UInt8](repeating: 0, count: 64 << 10)
    private static let zeroRecords = [EventRecord](repeating: EventRecord(time: 0, clientId: 0, index: 0, length: 0, offset: 0),
                                                   count: 4096)

    @inline(__always)
    private static func emit(
        _ r: EventRecord, from src: UnsafeRawBufferPointer, to out: UnsafeMutableBufferPointer<EventRecord>,
        _ dst: UnsafeMutableRawBufferPointer, _ n: inout Int, _ off: inout Int
    ) {
        let length = Int(r.length)
        var copy = r
        copy.offset = UInt64(off)
        out.initializeElement(at: n, to: copy)
        if length > 0, let s = src.baseAddress, let d = dst.baseAddress {
            (d + off).copyMemory(from: s + Int(r.offset), byteCount: length)
        }
        n += 1
        off += length
    }

    /// Copies the tail `records[from...]` with its (contiguous) payload in one block.
    @inline(__always)
    private static func copyTail(
        _ records: UnsafeBufferPointer<EventRecord>, from start: Int, _ src: UnsafeRawBufferPointer,
        to out: UnsafeMutableBufferPointer<EventRecord>, _ dst: UnsafeMutableRawBufferPointer,
        _ n: inout Int, _ off: inout Int
    ) {
        guard start < records.count else { return }
        let base = Int(records[start].offset)
        let shift = off - base
        for k in start..<records.count {
            var r = records[k]
            r.offset = UInt64(Int(r.offset) + shift)
            out.initializeElement(at: n, to: r)
            n += 1
        }
        let bytes = src.count - base
        if bytes > 0, let s = src.baseAddress, let d = dst.baseAddress {
            (d + off).copyMemory(from: s + base, byteCount: bytes)
        }
        off += bytes
    }

    private static func run(
        _ ar: UnsafeBufferPointer<EventRecord>, _ ap: UnsafeRawBufferPointer,
        _ br: UnsafeBufferPointer<EventRecord>, _ bp: UnsafeRawBufferPointer,
        _ out: UnsafeMutableBufferPointer<EventRecord>, _ dst: UnsafeMutableRawBufferPointer
    ) -> (Int, Int) {
        var i = 0
        var j = 0
        var n = 0
        var off = 0
        let na = ar.count
        let nb = br.count
        while i < na && j < nb {
            let x = ar[i]
            let y = br[j]
            if EventRecord.precedes(x, y) {
                emit(x, from: ap, to: out, dst, &n, &off)
                i += 1
            } else if EventRecord.precedes(y, x) {
                emit(y, from: bp, to: out, dst, &n, &off)
                j += 1
            } else {
                // Same event twice: keep the copy whose bytes sort first (symmetric choice).
                let xb = UnsafeRawBufferPointer(rebasing: ap[Int(x.offset)..<Int(x.offset + UInt64(x.length))])
                let yb = UnsafeRawBufferPointer(rebasing: bp[Int(y.offset)..<Int(y.offset + UInt64(y.length))])
                if yb.lexicographicallyPrecedes(xb) {
                    emit(y, from: bp, to: out, dst, &n, &off)
                } else {
                    emit(x, from: ap, to: out, dst, &n, &off)
                }
                i += 1
                j += 1
            }
        }
        copyTail(ar, from: i, ap, to: out, dst, &n, &off)
        copyTail(br, from: j, bp, to: out, dst, &n, &off)
        return (n, off)
    }
}
