import ChronoModel

/// A recording role that tracks which stories it records and nothing more: the part of a
/// keeper, grapher or player that the start/stop-recording service needs.
public final class StoryTrackingRole: RecordingBehavior {
    private var stories = RecordedStories()
    public let role: ProcessRole

    /// - Parameter role: the role this process plays.
    public init(role: ProcessRole) {
        self.role = role
    }
    public var dataTags: [ControlTag] { [] }

    public func startRecording(_ notice: RecordingNotice) -> ReturnCode {
        stories.start(notice)
        return .success
    }

    public func stopRecording(_ notice: RecordingNotice) -> ReturnCode {
        stories.stop(notice)
        return .success
    }

    public func handle(_ message: ControlMessage, from source: Int, tag: ControlTag, channel: ControlChannel) throws -> Bool {
        false
    }

    public func poll(channel: ControlChannel) throws -> Bool { false }

    public func drain(channel: ControlChannel) throws -> Bool { true }

    public var undrainedEvents: UInt64 { 0 }

    public var drainState: String { "nothing held" }

    public var counters: [String: UInt64] {
        stories.counters(pipelines: PipelineStats())
    }

    public func close() throws {}
}
