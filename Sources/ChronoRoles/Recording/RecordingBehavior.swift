import ChronoRuntime
import ChronoModel

/// What makes a keeper, a grapher or a player different. Everything they share —
/// registration with the visor, heartbeats with statistics, the start/stop-recording service
/// and the staged shutdown — is done once, by `RecordingProcess`, which calls these hooks.
public protocol RecordingBehavior: AnyObject {
    /// Which role this is.
    var role: Role { get }
    /// Extra tags this role receives on (the service tag is always polled).
    var dataTags: [ControlTag] { get }
    /// Starts recording a story (create its pipeline). - Returns: the outcome for the visor.
    func startRecording(_ notice: RecordingNotice) -> ReturnCode
    /// Stops recording a story (retire its pipeline once drained).
    func stopRecording(_ notice: RecordingNotice) -> ReturnCode
    /// A client now holds (or no longer holds) a recorded story. Keepers accept batches only
    /// from holders; the other roles only acknowledge. - Returns: the outcome for the visor.
    func holderChanged(_ notice: HolderNotice) -> ReturnCode
    /// A client may send "last N" queries of a recorded story straight to this process (keepers
    /// answer them; the other roles only acknowledge). - Returns: the outcome for the visor.
    func readGranted(_ grant: ReadGrant) -> ReturnCode
    /// A grant given by ``readGranted(_:)`` is withdrawn: its reader disconnected. Not acknowledged.
    func readRevoked(_ grant: ReadGrant)
    /// Handles a role-specific message. - Returns: whether it was understood.
    func handle(_ message: ControlMessage, from source: Int, tag: ControlTag, channel: any ControlTransport) throws -> Bool
    /// Does pending work (sealing, transfers, archive writes). - Returns: whether any was done.
    func poll(channel: any ControlTransport) throws -> Bool
    /// Works towards a drained state after shutdown was requested; called repeatedly.
    /// - Returns: `true` once nothing is held any more.
    func drain(channel: any ControlTransport) throws -> Bool
    /// Events still held that could not be drained (reported as lost in the summary).
    var undrainedEvents: UInt64 { get }
    /// What is still held, for the log when a drain deadline passes.
    var drainState: String { get }
    /// Statistics sent with each heartbeat and in the job summary.
    var counters: Counters { get }
    /// Releases resources (called once, after the loop ended).
    func close() throws
}

extension RecordingBehavior {
    /// Graphers and players do not check holders: acknowledged and ignored.
    public func holderChanged(_ notice: HolderNotice) -> ReturnCode { .success }

    /// Graphers and players take no direct queries: acknowledged and ignored.
    public func readGranted(_ grant: ReadGrant) -> ReturnCode { .success }

    /// Graphers and players hold no grants.
    public func readRevoked(_ grant: ReadGrant) {}
}

/// The set of stories a recording process currently records: the part of the start/stop
/// service every role needs.
public struct RecordedStories: Sendable {
    /// Notices of the stories being recorded, by id.
    public private(set) var active: [StoryID: RecordingNotice] = [:]
    /// Starts seen since start-up.
    public private(set) var started: UInt64 = 0
    /// Stops seen since start-up.
    public private(set) var stopped: UInt64 = 0

    public init() {}

    /// Records a start. Idempotent: starting a recorded story again changes nothing.
    public mutating func start(_ n: RecordingNotice) {
        if active[n.storyId] == nil { started += 1 }
        active[n.storyId] = n
    }

    /// The summary counters of the start/stop service plus the totals of `pipelines` (late,
    /// rejected-late and duplicate events): the counters every recording role reports.
    public func counters(pipelines: PipelineStats) -> Counters {
        [.storiesRecording: UInt64(active.count), .storiesStarted: started, .storiesStopped: stopped,
         .eventsLate: pipelines.lateEvents, .eventsRejectedLate: pipelines.rejectedLateEvents,
         .eventsDuplicates: pipelines.duplicatesDropped, .rangesSplit: pipelines.rangesSplit]
    }

    /// One story's state for a drain report.
    public static func describe(_ notice: RecordingNotice, _ pipeline: StoryPipeline, stopping: Bool) -> String {
        "\(notice.chronicle)/\(notice.story): buffered=\(pipeline.bufferedEventCount) stopping=\(stopping) "
            + "contributors=\(pipeline.contributors) frontier=\(pipeline.sealedFrontier)"
    }

    /// Records a stop. - Returns: whether the story was being recorded.
    @discardableResult
    public mutating func stop(_ n: RecordingNotice) -> Bool {
        guard active.removeValue(forKey: n.storyId) != nil else { return false }
        stopped += 1
        return true
    }
}
