import CChronoShims

/// A failure in the libfabric wrapper, with enough detail to act on it.
///
/// Every libfabric status goes through one checking helper (`check`) that turns a negative return
/// code into `.callFailed`; error completions read with `fi_cq_readerr` become
/// `.operationFailed`. Nothing in this module traps on a C error.
public enum FabricError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The named provider does not exist here, or offers no RDM endpoint with RMA and messaging.
    /// The wrapper never falls back to another provider.
    case providerUnavailable(provider: String, detail: String)
    /// A libfabric call returned an error: the call, its return code (negative, libfabric's
    /// `-FI_E...` convention) and `fi_strerror`'s text for it.
    case callFailed(call: String, code: Int32, message: String)
    /// An RMA operation completed with an error; the details come from `fi_cq_readerr`:
    /// `code` is the libfabric error number (positive `FI_E...`), `providerCode` the provider's own
    /// errno, and `message` the text of both (`fi_strerror` and `fi_cq_strerror`).
    case operationFailed(call: String, operation: OperationID?, code: Int32, providerCode: Int32, message: String)
    /// The caller asked for something the wrapper cannot do (a buffer too small, a slice outside
    /// its region, a region of another endpoint, ...). Nothing was posted.
    case invalidArgument(call: String, detail: String)
    /// The endpoint or region was already closed.
    case closed(call: String)
    /// An operation did not complete within the time allowed. It stays posted: its memory must
    /// not be reused until it completes or the endpoint is closed.
    case timedOut(call: String, operation: OperationID, seconds: Double)
    /// A registered memory pool has no free slot (or no slot large enough).
    case poolExhausted(slotCount: Int, slotSize: Int, requested: Int)

    /// The name of the call or wrapper method that failed.
    public var call: String {
        switch self {
        case .providerUnavailable: return "fi_getinfo"
        case .callFailed(let call, _, _), .operationFailed(let call, _, _, _, _),
             .invalidArgument(let call, _), .closed(let call), .timedOut(let call, _, _):
            return call
        case .poolExhausted: return "RegisteredMemoryPool.allocate"
        }
    }

    /// The libfabric error code, when one was involved.
    public var code: Int32? {
        switch self {
        case .callFailed(_, let code, _), .operationFailed(_, _, let code, _, _): return code
        default: return nil
        }
    }

    /// A readable one-line description naming the call, the code and libfabric's text.
    public var description: String {
        switch self {
        case .providerUnavailable(let provider, let detail):
            return "libfabric provider '\(provider)' is unavailable: \(detail)"
        case .callFailed(let call, let code, let message):
            return "\(call) failed: \(message) (return code \(code))"
        case .operationFailed(let call, let op, let code, let prov, let message):
            let which = op.map { " (operation \($0.rawValue))" } ?? ""
            return "\(call) completed with an error\(which): \(message) (FI errno \(code), provider errno \(prov))"
        case .invalidArgument(let call, let detail):
            return "\(call): invalid argument: \(detail)"
        case .closed(let call):
            return "\(call): the endpoint or region is closed"
        case .timedOut(let call, let op, let seconds):
            return "\(call): operation \(op.rawValue) did not complete within \(seconds) s"
        case .poolExhausted(let count, let size, let requested):
            return "registered memory pool exhausted: \(requested) bytes requested, \(count) slots of \(size) bytes all in use or too small"
        }
    }
}

/// libfabric's text for an error number (`fi_strerror`); accepts either sign.
func fabricErrorText(_ code: Int32) -> String {
    guard let text = chrono_fi_strerror(code < 0 ? -code : code) else { return "libfabric error \(code)" }
    return String(cString: text)
}

/// The one checking helper every libfabric status goes through: a negative return code throws
/// `FabricError.callFailed` naming the call.
@inline(__always)
func check(_ rc: Int32, _ call: @autoclosure () -> String) throws(FabricError) {
    if rc < 0 { throw FabricError.callFailed(call: call(), code: rc, message: fabricErrorText(rc)) }
}

/// `check` for the calls that return `ssize_t`.
@inline(__always)
func check(_ rc: Int, _ call: @autoclosure () -> String) throws(FabricError) {
    if rc < 0 {
        let code = Int32(clamping: rc)
        throw FabricError.callFailed(call: call(), code: code, message: fabricErrorText(code))
    }
}
