import Foundation
import Testing
import TestSupport

/// The Fortran module (`Sources/ChronoLogFortran/chronolog.f90`, `use chronolog`): its code
/// constants are chronolog.h's, it wraps every C call, and a Fortran program built with `mpifort`
/// and `pkg-config` against an installed prefix gets every call's documented code.
@Suite("Fortran module", .serialized)
struct FortranModuleTests {
    static let directory = CProgram.packageRoot.appendingPathComponent("Sources/ChronoLogFortran")
    static let module = directory.appendingPathComponent("chronolog.f90")
    static let shim = directory.appendingPathComponent("chronolog_fortran.c")

    /// Every `integer(c_int), parameter, public :: CL_… = value` of the module.
    static func constants() throws -> [(name: String, value: Int32)] {
        let text = try String(contentsOf: module, encoding: .utf8)
        return text.matches(of: #/parameter, public :: (CL_[A-Z_]+) = (-?\d+)/#).compactMap { m in
            Int32(m.output.2).map { (String(m.output.1), $0) }
        }
    }

    @Test("every CL_ constant of the module is chronolog.h's, name for name")
    func constantsMatchHeader() throws {
        let module = try Self.constants()
        let header = try HeaderCodeTableTests.constants()
        #expect(!header.isEmpty)
        #expect(module.map(\.name) == header.map(\.name), "module \(module.map(\.name)) vs header \(header.map(\.name))")
        #expect(module.map(\.value) == header.map(\.value), "module \(module) vs header \(header)")
    }

    @Test("every function of chronolog.h is bound in the module (join and init through the MPI-handle shim)")
    func everyCallWrapped() throws {
        let header = try String(contentsOf: HeaderCodeTableTests.header, encoding: .utf8)
        let functions = Set(header.matches(of: #/^(?:int|uint64_t|const char \*) ?(chronolog_\w+)\(/#.anchorsMatchLineEndings())
            .map { String($0.output.1) })
        let module = try String(contentsOf: Self.module, encoding: .utf8)
        let bound = Set(module.matches(of: #/bind\(C, name="(chronolog_\w+)"\)/#).map { String($0.output.1) })
        let shim = try String(contentsOf: Self.shim, encoding: .utf8)
        let viaShim = Set(functions.filter { shim.contains("\($0)(") })
        #expect(functions.count >= 20, "\(functions)")
        #expect(viaShim == ["chronolog_join", "chronolog_init"], "\(viaShim)")
        #expect(bound.isSuperset(of: ["chronolog_fortran_join", "chronolog_fortran_init"]), "\(bound)")
        let missing = functions.subtracting(bound).subtracting(viaShim)
        #expect(missing.isEmpty, "not wrapped in chronolog.f90: \(missing.sorted())")
        #expect(header.contains(#"#define CHRONOLOG_WRITER (0)"#) && module.contains("CHRONOLOG_WRITER = 0"))
        #expect(header.contains(#"#define CHRONOLOG_READER (1)"#) && module.contains("CHRONOLOG_READER = 1"))
    }

    @Test("a Fortran program built against the installed prefix with mpifort and pkg-config: every call and its codes, MPMD beside the service")
    func everyCallFromFortran() throws {
        let dir = try CProgram.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("prefix")
        try CProgram.install(into: prefix)
        for file in ["include/chronolog.mod", "lib/libchronolog_fortran.so", "lib/pkgconfig/chronolog-fortran.pc"] {
            #expect(FileManager.default.fileExists(atPath: prefix.appendingPathComponent(file).path), "\(file) not installed")
        }
        let program = try CProgram.buildInstalled("Tests/CABITests/Programs/fortran_checks.f90", prefix: prefix, into: dir,
                                                  compiler: "mpifort", warnings: ["-std=f2018", "-Wall", "-Werror"])
        let r = try MPIJob.run([
            (4, [prefix.appendingPathComponent("bin/chronolog-job").path, "--workload", "none"]),
            (2, [program]),
        ], timeout: 180, workingDirectory: dir)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.lines(startingWith: "FAIL").isEmpty, "\(r)")
        // Counted anywhere in the output: mpirun interleaves ranks' lines, and once a rank's verdict
        // landed in the middle of the service's summary line.
        let passed = r.stdout.matches(of: #/CHECKS passed=\d+ failed=0/#)
        #expect(passed.count == 2, "\(r)")
        #expect(r.stdout.contains("lost=0") && r.stdout.contains("exit status: 0"), "\(r)")
    }
}
