/// The mode a client connects in (ChronoLog: writer-only, or writer + reader).
public enum ClientMode: UInt8, Sendable, Hashable, CaseIterable {
    /// May log events; `ReplayStory` returns `CL_ERR_NOT_READER_MODE`.
    case writer = 1
    /// May log and replay.
    case writerReader = 2
}
