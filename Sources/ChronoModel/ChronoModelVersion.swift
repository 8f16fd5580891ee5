/// Version numbers of the ChronoModel formats.
public enum ChronoModelVersion {
    /// The control-plane protocol version carried in every ``MessageHeader``.
    /// Peers with a different version are refused with ``ChronoLogError/protocolVersionMismatch(expected:got:)``.
    public static let protocolVersion: UInt16 = 19

    /// The version of the chunk layout (``StoryChunk`` encoded form, stored as is by the archive).
    public static let chunkLayoutVersion: UInt16 = 1
}
