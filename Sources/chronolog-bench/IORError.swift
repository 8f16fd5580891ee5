#if canImport(Glibc)
import Glibc
#endif

/// Why a benchmark phase failed.
enum IORError: Error, CustomStringConvertible {
    /// A POSIX call failed on a path (errno).
    case posix(call: String, path: String, errno: Int32)
    /// A read phase got back other than what was written.
    case readBack(api: IORAPI, what: String, got: Int, expected: Int)
    /// `-R`: an event read back differs from what its writer wrote.
    case readCheck(api: IORAPI, problem: String)
    /// CHRONOLOG refused events (`logEvent` returned 0).
    case rejected(events: Int)
    /// Another rank failed (this one did not).
    case otherRank(String)

    var description: String {
        switch self {
        case .posix(let call, let path, let e): "\(call)(\(path)) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .readBack(let api, let what, let got, let expected): "\(api.rawValue) read back \(got) \(what), expected \(expected)"
        case .readCheck(let api, let problem): "\(api.rawValue) read check (-R): \(problem)"
        case .rejected(let n): "CHRONOLOG: logEvent refused \(n) event(s)"
        case .otherRank(let text): text
        }
    }

    /// Throws `.posix` with the current errno when `rc` is negative. - Returns: `rc`.
    @discardableResult
    static func check(_ rc: Int, _ call: String, _ path: String) throws -> Int {
        guard rc >= 0 else { throw IORError.posix(call: call, path: path, errno: errno) }
        return rc
    }
}
