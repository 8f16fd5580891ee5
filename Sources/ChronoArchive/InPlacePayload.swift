import ChronoSystem

/// A window's payload left in place (``EncodedWindow/payloadInPlace``): its parts, one after the
/// other, and what keeps them valid — the ``MappedFile`` of the archive file they lie in (a
/// simulator's archive keeps them in memory of its own).
public struct InPlacePayload: @unchecked Sendable {
    /// The payload's bytes in order: a part per stretch of the file (HDF5 chunks lie apart).
    public var parts: [UnsafeRawBufferPointer]
    /// Keeps `parts` valid (mapped) as long as this value lives; never changed through them.
    public var owner: AnyObject

    public init(parts: [UnsafeRawBufferPointer], owner: AnyObject) {
        self.parts = parts
        self.owner = owner
    }

    /// Bytes in all parts.
    public var byteCount: Int { parts.reduce(0) { $0 + $1.count } }
}
