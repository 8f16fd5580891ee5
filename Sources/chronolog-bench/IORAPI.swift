import ArgumentParser
import Foundation

/// One way of storing the benchmark's events: ChronoLog-Swift itself, or a baseline an HPC user
/// would compare it with (the names and spelling of IOR's `-a`).
enum IORAPI: String, CaseIterable, Codable, Sendable {
    /// `logEvent` through ChronoLog-Swift; read back by replay through the player.
    case chronolog = "CHRONOLOG"
    /// `pwrite`/`pread` on one file per story.
    case posix = "POSIX"
    /// `MPI_File_write_at`/`MPI_File_read_at` (independent) on one file per story.
    case mpiio = "MPIIO"
    /// Collective parallel HDF5 writes (`H5Dwrite`, MPI-IO driver) of a records and a payload dataset per story.
    case hdf5 = "HDF5"

    /// Whether this API is a baseline (anything but CHRONOLOG).
    var isBaseline: Bool { self != .chronolog }

    /// Parses IOR's `-a` value: one or more names separated by commas, case-insensitive, each at most once.
    /// - Throws: `ValidationError` naming an unknown or repeated API.
    static func parseList(_ text: String) throws -> [IORAPI] {
        var apis: [IORAPI] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces).uppercased()
            guard let api = IORAPI(rawValue: name == "MPI-IO" ? "MPIIO" : name) else {
                throw ValidationError("-a \(text): unknown API '\(part)' (expected one or more of "
                                      + "\(allCases.map(\.rawValue).joined(separator: ",")), separated by commas)")
            }
            guard !apis.contains(api) else { throw ValidationError("-a \(text): \(api.rawValue) is named twice") }
            apis.append(api)
        }
        return apis
    }
}
