import CChronoLog
import ChronoClient
import ChronoModel

/// Turns what C passes into Swift values, refusing what breaks the interface's rules with
/// `.invalidArgument` (CL_ERR_INVALID_ARG): NULL pointers and text that is not UTF-8.
enum CInput {
    /// A NUL-terminated UTF-8 string.
    /// - Throws: `.invalidArgument` for NULL or bytes that are not UTF-8.
    static func string(_ p: UnsafePointer<CChar>?, _ what: String) throws(ChronoLogError) -> String {
        guard let p else { throw .invalidArgument("\(what) is NULL") }
        guard let s = String(validatingCString: p) else { throw .invalidArgument("\(what) is not UTF-8") }
        return s
    }

    /// `count` key/value pairs from two arrays of C strings.
    /// - Throws: `.invalidArgument` for NULL arrays (with `count` > 0), NULL or non-UTF-8 entries.
    static func attributes(_ keys: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
                           count: Int) throws(ChronoLogError) -> [String: String] {
        guard count > 0 else {
            guard count == 0 else { throw .invalidArgument("attribute count \(count)") }
            return [:]
        }
        guard let keys, let values else { throw .invalidArgument("attribute keys or values are NULL") }
        var out: [String: String] = [:]
        for i in 0..<count {
            out[try string(keys[i], "attribute key \(i)")] = try string(values[i], "attribute value \(i)")
        }
        return out
    }

    /// The client behind a `chronolog_client *`.
    /// - Throws: `.noConnection` when not joined (checked first: after finalize the handle is gone),
    ///   `.invalidArgument` for NULL.
    static func client(_ p: OpaquePointer?) throws(ChronoLogError) -> ChronoLogClient {
        guard CABIRuntime.shared.isJoined else { throw .noConnection("not joined (call chronolog_join first) or finalized") }
        guard let p else { throw .invalidArgument("client is NULL") }
        return Unmanaged<ClientBox>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue().client
    }

    /// The story handle behind a `chronolog_story *` (checks like ``client(_:)``).
    @inline(__always)
    static func story(_ p: OpaquePointer?) throws(ChronoLogError) -> StoryHandle {
        guard CABIRuntime.shared.isJoined else { throw .noConnection("not joined (call chronolog_join first) or finalized") }
        guard let p else { throw .invalidArgument("story is NULL") }
        return Unmanaged<StoryBox>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue().handle
    }

    /// The cursor behind a `chronolog_cursor *` (checks like ``client(_:)``).
    static func cursor(_ p: OpaquePointer?) throws(ChronoLogError) -> ReplayCursor {
        guard CABIRuntime.shared.isJoined else { throw .noConnection("not joined (call chronolog_join first) or finalized") }
        guard let p else { throw .invalidArgument("cursor is NULL") }
        return Unmanaged<ReplayCursor>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    /// Calls `fn` with each name (NUL-terminated UTF-8 and its byte count) until it returns non-zero.
    static func each(_ names: [String], _ fn: chronolog_name_fn, _ user: UnsafeMutableRawPointer?) {
        for name in names {
            let stop = name.withCString { fn($0, name.utf8.count, user) }
            if stop != 0 { return }
        }
    }

    /// An opaque C pointer to an object kept alive elsewhere (by ``CABIRuntime``).
    static func opaque(_ object: AnyObject) -> OpaquePointer {
        OpaquePointer(Unmanaged.passUnretained(object).toOpaque())
    }
}

/// Runs a call and turns its outcome into ChronoLog's integer code.
@inline(__always)
func returnCode(_ body: () throws(ChronoLogError) -> Void) -> Int32 {
    do {
        try body()
        return ReturnCode.success.rawValue
    } catch {
        return error.returnCode.rawValue
    }
}
