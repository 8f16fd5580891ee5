import ChronoModel

/// The C strings of every return code's name and summary, made once from the one table
/// (`ReturnCode`) and never freed (static storage for `chronolog_code_name`/`chronolog_strerror`).
final class CodeText: @unchecked Sendable {
    static let shared = CodeText()

    private let names: [Int32: UnsafePointer<CChar>]
    private let summaries: [Int32: UnsafePointer<CChar>]

    private init() {
        var names: [Int32: UnsafePointer<CChar>] = [:], summaries: [Int32: UnsafePointer<CChar>] = [:]
        for code in ReturnCode.allCases {
            names[code.rawValue] = Self.permanent(code.name)
            summaries[code.rawValue] = Self.permanent(code.summary)
        }
        self.names = names
        self.summaries = summaries
    }

    /// The name of `code`; unknown integers get `CL_ERR_UNKNOWN`'s.
    func name(_ code: Int32) -> UnsafePointer<CChar> {
        names[ReturnCode(code: code).rawValue] ?? Self.missing
    }

    /// The summary of `code`; unknown integers get `CL_ERR_UNKNOWN`'s.
    func summary(_ code: Int32) -> UnsafePointer<CChar> {
        summaries[ReturnCode(code: code).rawValue] ?? Self.missing
    }

    /// Never returned (every code is in the table); keeps the lookups total.
    nonisolated(unsafe) private static let missing = permanent("CL_ERR_UNKNOWN")

    private static func permanent(_ s: String) -> UnsafePointer<CChar> {
        let bytes = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(p)
    }
}
