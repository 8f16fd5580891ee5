#if canImport(Glibc)
import Glibc
#endif

/// Environment defaults the Fabric module sets before libfabric reads its configuration.
enum FabricEnvironment {
    /// Sets provider-specific defaults (only variables the user has not set).
    static func applyDefaults(for provider: FabricProvider) {
    }
}
