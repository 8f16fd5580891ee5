// swift-tools-version:6.1
//
// ChronoLog-Swift: a distributed, time-ordered log store for HPC jobs.
// Module layout (dependencies point one way; see docs/ARCHITECTURE.md in shared design):
//   CMPI, CFabric, CHDF5 (system libraries, found by pkg-config) + CChronoShims (macro getters);
//   CChronoKernels (per-byte C kernels with one clone per instruction set)
//   -> MPI, Fabric, HDF5 (thin Swift wrappers: the only code that touches the C APIs)
//   ChronoSystem (process utilities every layer uses: idle back-off, signals, heap settings)
//   ChronoModel (pure Swift: ids, events, chunks, merge, codec, errors, config)
//   ChronoRuntime (control channel and tags, bulk plane, job layout and role plan)
//   ChronoRoles (visor, keeper, grapher, player) and ChronoClient (Swift API), side by side
//   ChronoDeployment (a job: joining, serving, leaving, the summary) -> ChronoLogC (C ABI)
//   executables: chronolog-job, chronolog (CLI), chronolog-bench
import PackageDescription

/// Whether another package is building this one as its dependency: SwiftPM (and Xcode) check out
/// packages resolved by version, branch or revision under `…/checkouts/NAME` and registry packages
/// under `…/registry/downloads/…`. Built so, the targets carry no `unsafeFlags`, which SwiftPM
/// refuses in a dependency resolved by version ("contains unsafe build flags"); a test
/// (DependentPackageTests) resolves this package by version from another one.
let builtAsDependency = ["/checkouts/", "/registry/downloads/"].contains { Context.packageDirectory.contains($0) }

/// The data path (model, archive, roles) is compiled optimised even in debug builds of this
/// package itself: the tests push real volumes through it under mpirun, and unoptimised Swift is
/// 10–100× slower on per-byte loops (checksums, merges), which would make timing-dependent drains
/// flaky. Release builds (`-c release`, what scripts/install.sh and the benchmarks build, and
/// what a dependent's release build compiles) are optimised anyway; a dependent's debug build
/// compiles this package unoptimised, like any other dependency.
let optimizedInDebug: [SwiftSetting] = builtAsDependency ? [] : [.unsafeFlags(["-O"], .when(configuration: .debug))]

/// The C kernels' counterpart of `optimizedInDebug`.
let cOptimizedInDebug: [CSetting] = builtAsDependency ? [] : [.unsafeFlags(["-O2"], .when(configuration: .debug))]

let package = Package(
    name: "ChronoLogSwift",
    products: [
        .executable(name: "chronolog-job", targets: ["chronolog-job"]),
        .executable(name: "chronolog", targets: ["chronolog"]),
        .executable(name: "chronolog-bench", targets: ["chronolog-bench"]),
        .library(name: "ChronoModel", targets: ["ChronoModel"]),
        .library(name: "ChronoClient", targets: ["ChronoClient"]),
        .library(name: "ChronoDeployment", targets: ["ChronoDeployment"]),
        // The C interface (chronolog.h): libChronoLog.so in the build directory (the product name
        // `chronolog` belongs to the CLI); scripts/install.sh installs it as libchronolog.so.
        .library(name: "ChronoLog", type: .dynamic, targets: ["ChronoLogC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        // C libraries, one system-library target each.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CFabric", pkgConfig: "libfabric", providers: [.apt(["libfabric-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-openmpi", providers: [.apt(["libhdf5-openmpi-dev"])]),
        .target(name: "CChronoShims", dependencies: ["CMPI", "CFabric", "CHDF5"]),
        // Per-byte kernels in C, one clone per instruction set (optimised in debug builds too).
        .target(name: "CChronoKernels", cSettings: cOptimizedInDebug),

        // Process utilities below the wrappers (the fabric's waits back off too).
        .target(name: "ChronoSystem", dependencies: ["ChronoModel", "CChronoShims"]),

        // Thin wrappers: their public API names no C type.
        .target(name: "MPI", dependencies: ["CMPI", "CChronoShims"]),
        .target(name: "Fabric", dependencies: ["CFabric", "CChronoShims", "ChronoSystem", "MPI"]),
        .target(name: "HDF5", dependencies: ["CHDF5", "CChronoShims", "MPI"]),

        // The model: pure Swift, no C, no MPI, no I/O.
        .target(name: "ChronoModel", swiftSettings: optimizedInDebug),

        // The archive: the HDF5 layout, written collectively by the graphers, read by players and tools.
        .target(
            name: "ChronoArchive",
            dependencies: ["ChronoModel", "ChronoSystem", "CChronoKernels", "HDF5", "MPI", .product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: optimizedInDebug),

        // What roles and clients share: the control channel and its tags, the bulk plane, the job layout.
        .target(name: "ChronoRuntime", dependencies: ["ChronoModel", "ChronoSystem", "MPI", "Fabric"], swiftSettings: optimizedInDebug),

        // Service roles and the client.
        .target(
            name: "ChronoRoles",
            dependencies: [
                "ChronoModel", "ChronoRuntime", "ChronoSystem", "ChronoArchive", "MPI", "Fabric", "HDF5",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: optimizedInDebug),
        .target(
            name: "ChronoClient",
            dependencies: ["ChronoModel", "ChronoRuntime", "ChronoSystem", "MPI", "Fabric",
                           .product(name: "Logging", package: "swift-log")]),
        // A job: the role plan carried out, service ranks serving, clients joining and leaving, the summary.
        .target(
            name: "ChronoDeployment",
            dependencies: ["ChronoModel", "ChronoRuntime", "ChronoSystem", "ChronoRoles", "ChronoClient", "ChronoArchive", "MPI", "Fabric",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "DequeModule", package: "swift-collections")]),

        // The C interface: chronolog.h (C target CChronoLog), implemented in Swift (@_cdecl) on the client.
        .target(name: "CChronoLog", dependencies: ["CMPI"]),
        .target(name: "ChronoLogC", dependencies: ["CChronoLog", "CChronoShims", "ChronoClient", "ChronoDeployment", "ChronoModel", "ChronoSystem", "MPI", "CMPI"]),

        // Executables.
        .executableTarget(
            name: "chronolog-job",
            dependencies: [
                "ChronoDeployment", "ChronoRuntime", "ChronoSystem", "ChronoRoles", "ChronoClient", "ChronoModel", "MPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "chronolog",
            dependencies: [
                "ChronoModel", "ChronoArchive", "HDF5", "ChronoClient", "ChronoDeployment", "ChronoSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "chronolog-bench",
            dependencies: [
                "ChronoModel", "ChronoClient", "ChronoDeployment", "ChronoRuntime", "ChronoSystem", "ChronoArchive",
                "MPI", "Fabric", "HDF5",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),

        // Small MPI programs that the wrapper tests launch under mpirun (never MPI_Init in XCTest).
        .target(name: "CheckHarness", dependencies: ["MPI"], path: "Tests/CheckHarness"),
        .executableTarget(
            name: "wrapper-checks",
            dependencies: [
                "CheckHarness", "ChronoSystem", "MPI", "Fabric", "HDF5",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/WrapperChecks"),

        // Scenario programs the job tests run under mpirun: whole deployments with checking clients.
        .executableTarget(
            name: "job-checks",
            dependencies: [
                "ChronoClient", "ChronoDeployment", "ChronoRuntime", "ChronoSystem", "ChronoRoles", "ChronoModel",
                "ChronoArchive", "MPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/JobChecks"),

        // Tests.
        .testTarget(
            name: "ChronoModelTests",
            dependencies: ["ChronoModel", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "WrapperTests", dependencies: ["TestSupport"]),
        .testTarget(name: "ArchiveTests", dependencies: ["ChronoArchive", "ChronoModel", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["ChronoArchive", "ChronoModel", "TestSupport"]),
        .executableTarget(
            name: "archive-checks",
            dependencies: [
                "CheckHarness", "ChronoArchive", "ChronoModel", "MPI", "HDF5",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/ArchiveChecks"),
        // The h5py checkers are run by path (next to the tests), not built.
        .testTarget(name: "JobTests", dependencies: ["ChronoRoles", "ChronoRuntime", "ChronoSystem", "ChronoModel", "ChronoDeployment", "Fabric",
                                                 "TestSupport"],
                    exclude: ["verify_job_archive.py", "check_partial_archive.py"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // The simulator: a recording group's real roles on one thread, in memory, on a manual clock
        // (docs/SIMULATOR.md), and the suite that runs it over many seeds in the default test command.
        .target(
            name: "ChronoSimulator",
            dependencies: ["ChronoRoles", "ChronoRuntime", "ChronoModel", "ChronoArchive", "ChronoDeployment", "Fabric",
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/Simulator",
            swiftSettings: optimizedInDebug),
        .testTarget(name: "SimulatorTests", dependencies: ["ChronoSimulator", "ChronoModel"]),
        // chronolog-bench ior, benchmarks/plot.py and the jobs/ scripts (run under mpirun and a local Slurm).
        .testTarget(name: "BenchTests", dependencies: ["TestSupport"], exclude: ["Programs"]),
        // C programs compiled with mpicc against libChronoLog.so and run MPMD (Programs/ is theirs).
        .testTarget(name: "CABITests", dependencies: ["ChronoModel", "TestSupport"], exclude: ["Programs"]),
        // py_chronolog_client (python/), installed by scripts/install.sh and pip, run MPMD with its scripts.
        .testTarget(name: "PythonTests", dependencies: ["TestSupport"]),
    ]
)
