/// The HDF5 archive layout (placeholder; see docs/ARCHIVE.md once written).
public enum ArchiveLayout {
    /// Layout version stored in every archive file.
    public static let version: UInt64 = 1
}
