import Foundation
import TestSupport

/// `chronolog verify --json` of an archive whose stories may be partial on purpose (a killed job,
/// a full disk): the archive itself must be sound (no problem of another kind than completeness),
/// and the partial stories must say why.
struct StructuralVerify {
    /// The events the archive holds.
    let events: Int
    /// Problems other than completeness (must be none).
    let otherProblems: [String]
    /// The completeness problems' details ("partial: …").
    let partial: [String]
    let output: String

    init(_ archiveDirectory: String) throws {
        let r = try MPIJob.runCommand([MPIJob.executable("chronolog"), "verify", archiveDirectory, "--json"], timeout: 120)
        output = "\(r)"
        let doc = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        events = (doc["events"] as? NSNumber)?.intValue ?? -1
        let problems = doc["problems"] as? [[String: Any]] ?? []
        otherProblems = problems.filter { $0["kind"] as? String != "completeness" }.map { "\($0)" }
        partial = problems.filter { $0["kind"] as? String == "completeness" }.compactMap { $0["detail"] as? String }
    }
}
