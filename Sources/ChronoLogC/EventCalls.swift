import CChronoLog
import ChronoClient
import ChronoModel

// Logging and flushing (chronolog.h). Not collective; any thread.

/// `chronolog_log_event`: see chronolog.h. The event path: one atomic load, then the Swift
/// client's `StoryHandle.log(bytes:)`.
@_cdecl("chronolog_log_event")
public func cabiLogEvent(_ story: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) -> UInt64 {
    (try? logChecked(story, data, length)) ?? 0
}

/// `chronolog_log`: see chronolog.h.
@_cdecl("chronolog_log")
public func cabiLog(_ story: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int, _ time: UnsafeMutablePointer<UInt64>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let t = try logChecked(story, data, length)
        time?.pointee = t
    }
}

/// Logs `length` bytes at `data` to the story behind `story`. The box is borrowed, not retained
/// (it lives until finalize, and no call may run concurrently with finalize).
/// - Throws: `.noConnection` (not joined), `.invalidArgument` (NULL story, NULL data with a
///   length, a negative length: a `size_t` above `Int.max`), and what `StoryHandle.log` throws.
@inline(__always)
private func logChecked(_ story: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: Int) throws(ChronoLogError) -> UInt64 {
    guard CABIRuntime.shared.isJoined else { throw .noConnection("not joined (call chronolog_join first) or finalized") }
    guard let story else { throw .invalidArgument("story is NULL") }
    guard length >= 0 else { throw .invalidArgument("event length \(UInt(bitPattern: length))") }
    guard data != nil || length == 0 else { throw .invalidArgument("event data is NULL") }
    let record = UnsafeRawBufferPointer(start: length == 0 ? nil : data, count: length)
    let result = Unmanaged<StoryBox>.fromOpaque(UnsafeRawPointer(story))._withUnsafeGuaranteedRef { box in
        Result { () throws(ChronoLogError) -> UInt64 in try box.handle.log(bytes: record) }
    }
    return try result.get()
}

/// `chronolog_flush`: see chronolog.h.
@_cdecl("chronolog_flush")
public func cabiFlush(_ story: OpaquePointer?, _ durable: Int32, _ durableEvents: UnsafeMutablePointer<UInt64>?) -> Int32 {
    returnCode { () throws(ChronoLogError) in
        let handle = try CInput.story(story)
        let count = try handle.flush(durable: durable != 0)
        if let count { durableEvents?.pointee = count }
    }
}

/// `chronolog_code_name`: see chronolog.h.
@_cdecl("chronolog_code_name")
public func cabiCodeName(_ code: Int32) -> UnsafePointer<CChar> {
    CodeText.shared.name(code)
}

/// `chronolog_strerror`: see chronolog.h.
@_cdecl("chronolog_strerror")
public func cabiStrerror(_ code: Int32) -> UnsafePointer<CChar> {
    CodeText.shared.summary(code)
}
