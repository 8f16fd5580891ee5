import ArgumentParser
import ChronoModel

/// The `replay` output formats.
enum EventFormat: String, ExpressibleByArgument, CaseIterable {
    /// `time<TAB>client_id<TAB>index<TAB>length<TAB>record`, the record shown as text with escapes.
    case text
    /// `time,client_id,index,length,record` with a header line; the record base64-encoded.
    case csv
    /// One JSON object per line; the record as a UTF-8 string, or base64 when it is not UTF-8.
    case jsonl
}

/// Formats events into an `OutputSink`'s buffer without building strings per event.
struct EventFormatter {
    let format: EventFormat

    /// The first line of the output, if the format has one.
    func header(into sink: OutputSink) {
        if format == .csv { sink.append("time,client_id,index,length,record\n") }
    }

    /// Appends the event at `position` of `chunk`, one line.
    @inline(__always)
    func append(_ chunk: StoryChunk, at position: Int, into out: inout [UInt8]) {
        let r = chunk.records[position]
        let record = chunk.recordBytes(at: position)
        switch format {
        case .text:
            appendDecimal(r.time, into: &out); out.append(0x09)
            appendDecimal(r.clientId, into: &out); out.append(0x09)
            appendDecimal(UInt64(r.index), into: &out); out.append(0x09)
            appendDecimal(UInt64(r.length), into: &out); out.append(0x09)
            appendEscapedText(record, into: &out)
        case .csv:
            appendDecimal(r.time, into: &out); out.append(0x2C)
            appendDecimal(r.clientId, into: &out); out.append(0x2C)
            appendDecimal(UInt64(r.index), into: &out); out.append(0x2C)
            appendDecimal(UInt64(r.length), into: &out); out.append(0x2C)
            appendBase64(record, into: &out)
        case .jsonl:
            out.append(contentsOf: #"{"time":"#.utf8); appendDecimal(r.time, into: &out)
            out.append(contentsOf: #","client_id":"#.utf8); appendDecimal(r.clientId, into: &out)
            out.append(contentsOf: #","index":"#.utf8); appendDecimal(UInt64(r.index), into: &out)
            out.append(contentsOf: #","length":"#.utf8); appendDecimal(UInt64(r.length), into: &out)
            if isValidUTF8(record) {
                out.append(contentsOf: #","record":""#.utf8)
                appendJSONStringBody(record, into: &out)
            } else {
                out.append(contentsOf: #","record_base64":""#.utf8)
                appendBase64(record, into: &out)
            }
            out.append(contentsOf: #""}"#.utf8)
        }
        out.append(0x0A)
    }
}

// MARK: Byte-level encoders

/// Appends `value` in decimal.
@inline(__always)
func appendDecimal(_ value: UInt64, into out: inout [UInt8]) {
    if value < 10 {
        out.append(0x30 &+ UInt8(value))
        return
    }
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
    var n = value, count = 0
    withUnsafeMutableBytes(of: &digits) { raw in
        while n > 0 {
            raw[23 - count] = 0x30 &+ UInt8(n % 10)
            n /= 10
            count += 1
        }
        out.append(contentsOf: raw[(24 - count)...])
    }
}

private let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
private let hexDigits = Array("0123456789abcdef".utf8)

/// Appends standard base64 (RFC 4648, `+/`, `=` padding) of `bytes`.
func appendBase64(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
    var i = bytes.startIndex
    let end = bytes.endIndex
    while end - i >= 3 {
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        out.append(base64Alphabet[Int(v >> 18)])
        out.append(base64Alphabet[Int(v >> 12 & 63)])
        out.append(base64Alphabet[Int(v >> 6 & 63)])
        out.append(base64Alphabet[Int(v & 63)])
        i += 3
    }
    switch end - i {
    case 1:
        let v = UInt32(bytes[i]) << 16
        out.append(base64Alphabet[Int(v >> 18)])
        out.append(base64Alphabet[Int(v >> 12 & 63)])
        out.append(0x3D); out.append(0x3D)
    case 2:
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
        out.append(base64Alphabet[Int(v >> 18)])
        out.append(base64Alphabet[Int(v >> 12 & 63)])
        out.append(base64Alphabet[Int(v >> 6 & 63)])
        out.append(0x3D)
    default:
        break
    }
}

/// The length of the well-formed UTF-8 sequence starting at `i` (1–4), or 0 when the bytes there
/// are not UTF-8 (stray continuation bytes, overlong forms, surrogates, beyond U+10FFFF, cut short).
@inline(__always)
func utf8SequenceLength(_ bytes: ArraySlice<UInt8>, at i: Int) -> Int {
    let b0 = bytes[i]
    if b0 < 0x80 { return 1 }
    let end = bytes.endIndex
    @inline(__always) func cont(_ j: Int) -> Bool { j < end && bytes[j] & 0xC0 == 0x80 }
    switch b0 {
    case 0xC2...0xDF:
        return cont(i + 1) ? 2 : 0
    case 0xE0...0xEF:
        guard i + 2 < end, cont(i + 1), cont(i + 2) else { return 0 }
        let b1 = bytes[i + 1]
        if b0 == 0xE0 && b1 < 0xA0 { return 0 }  // overlong
        if b0 == 0xED && b1 >= 0xA0 { return 0 }  // surrogates
        return 3
    case 0xF0...0xF4:
        guard i + 3 < end, cont(i + 1), cont(i + 2), cont(i + 3) else { return 0 }
        let b1 = bytes[i + 1]
        if b0 == 0xF0 && b1 < 0x90 { return 0 }  // overlong
        if b0 == 0xF4 && b1 >= 0x90 { return 0 }  // beyond U+10FFFF
        return 4
    default:
        return 0
    }
}

/// Whether `bytes` are well-formed UTF-8.
func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
    var i = bytes.startIndex
    while i < bytes.endIndex {
        if bytes[i] < 0x80 { i += 1; continue }
        let n = utf8SequenceLength(bytes, at: i)
        if n == 0 { return false }
        i += n
    }
    return true
}

/// Appends the body of a JSON string (no quotes) for valid UTF-8 `bytes`: `"` and `\` escaped,
/// control characters as `\n`, `\r`, `\t` or `\u00XX`; everything else as is.
func appendJSONStringBody(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
    for b in bytes {
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(0x6E)
        case 0x0D: out.append(0x5C); out.append(0x72)
        case 0x09: out.append(0x5C); out.append(0x74)
        case 0..<0x20:
            out.append(contentsOf: #"\u00"#.utf8)
            out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 15)])
        default: out.append(b)
        }
    }
}

/// Appends `bytes` for a human: printable UTF-8 as is; `\` as `\\`; newline, carriage return
/// and tab as `\n`, `\r`, `\t`; every other byte (controls, bytes that are not UTF-8, C1
/// controls) as `\xHH`. The result never holds a tab or line break, so lines stay one event each.
func appendEscapedText(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
    var i = bytes.startIndex
    while i < bytes.endIndex {
        let b = bytes[i]
        if b >= 0x20 && b < 0x7F {
            if b == 0x5C { out.append(0x5C) }
            out.append(b)
            i += 1
            continue
        }
        var n = b < 0x80 ? 0 : utf8SequenceLength(bytes, at: i)
        if n == 2 && b == 0xC2 && bytes[i + 1] < 0xA0 { n = 0 }  // C1 controls U+0080…U+009F
        if n > 0 {
            out.append(contentsOf: bytes[i..<(i + n)])
            i += n
            continue
        }
        switch b {
        case 0x0A: out.append(0x5C); out.append(0x6E)
        case 0x0D: out.append(0x5C); out.append(0x72)
        case 0x09: out.append(0x5C); out.append(0x74)
        default:
            out.append(0x5C); out.append(0x78)
            out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 15)])
        }
        i += 1
    }
}
