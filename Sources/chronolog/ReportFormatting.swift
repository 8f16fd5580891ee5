import ChronoModel
import Foundation

/// Text helpers shared by the report commands (`ls`, `stats`, `verify`).
enum ReportFormatting {
    /// `2023-11-14T22:13:20.000000123Z`: a nanosecond time as UTC.
    static func utc(_ ns: UInt64) -> String {
        var seconds = time_t(ns / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fraction = String(ns % 1_000_000_000)
        let padded = String(repeating: "0", count: 9 - fraction.count) + fraction
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec)) + ".\(padded)Z"
    }

    /// `[start, end)` in nanoseconds with the first and last stored instant in UTC.
    static func times(_ range: TimeRange?) -> String {
        guard let range else { return "no events" }
        return "[\(range.start), \(range.end)) ns = \(utc(range.start)) … \(utc(range.end - 1))"
    }

    /// A duration in seconds with 3 decimals.
    static func seconds(_ ns: UInt64) -> String { String(format: "%.3f s", Double(ns) / 1e9) }

    /// `12345 B` or `1.2 MiB (1258291 B)`.
    static func bytes(_ n: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard n >= 1024 else { return "\(n) B" }
        var value = Double(n) / 1024, unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return String(format: "%.1f ", value) + "\(units[unit]) (\(n) B)"  // %d would cut n to 32 bits
    }

    /// A JSON document for `value` (sorted keys, indented), ending with a newline.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}

/// A time range in JSON: `{"start": s, "end": e}`, half-open, nanoseconds.
struct TimeRangeJSON: Codable, Equatable {
    var start: UInt64
    var end: UInt64
    init(_ r: TimeRange) { start = r.start; end = r.end }
}
