/// Every message of the control plane (MPI) and of event ingest, as one enum.
///
/// Encode with ``encode()`` / ``encode(into:)``; decode with ``decode(_:limits:)``, which checks
/// the ``MessageHeader``, bounds every length by ``WireLimits`` and returns typed errors for any
/// truncated, oversized, mutated or trailing input — it never traps. The wire layout of each body
/// is documented in docs/MODEL.md.
public enum ControlMessage: Sendable, Hashable {
    /// Client → visor: open a session.
    case connect(ConnectRequest)
    /// Visor → client: session opened (or refused), client id assigned.
    case connectReply(ConnectReply)
    /// Client → visor: clock-offset probe.
    case clockPing(ClockPing)
    /// Visor → client: answer to a probe.
    case clockPong(ClockPong)
    /// Client → visor: close the session.
    case disconnect(clientId: ClientID)
    /// Client → visor: `CreateChronicle`.
    case createChronicle(CreateChronicleRequest)
    /// Client → visor: `DestroyChronicle`.
    case destroyChronicle(ChronicleRequest)
    /// Client → visor: `AcquireStory` (answered by ``acquireReply(_:)``).
    case acquireStory(StoryRequest)
    /// Client → visor: `ReleaseStory`.
    case releaseStory(StoryRequest)
    /// Client → visor: `DestroyStory`.
    case destroyStory(StoryRequest)
    /// Client → visor: `ShowChronicles` (answered by ``nameList(_:)``).
    case showChronicles(clientId: ClientID)
    /// Client → visor: `ShowStories` (answered by ``nameList(_:)``).
    case showStories(ChronicleRequest)
    /// Client → visor: where a story is recorded, for "last N" queries sent straight to its keepers
    /// (answered by ``acquireReply(_:)``: the keepers, after they took the ``readGrant(_:)``; none
    /// when the story is not recorded, or must be read through the player).
    case readRoute(StoryRequest)
    /// Any answer that is only a return code and detail.
    case reply(GenericReply)
    /// Visor → client: a list of names.
    case nameList(NameListReply)
    /// Visor → client: where an acquired story is recorded.
    case acquireReply(AcquireReply)
    /// Recording process → visor: registration.
    case register(Registration)
    /// Recording process → visor: liveness and statistics.
    case heartbeat(Heartbeat)
    /// Visor → group: start recording a story.
    case startRecording(RecordingNotice)
    /// Visor → group: stop recording a story.
    case stopRecording(RecordingNotice)
    /// Group member → visor: start/stop or holder notice confirmed.
    case recordingAck(RecordingAck)
    /// Visor → group: a client holds (or no longer holds) a recorded story.
    case holder(HolderNotice)
    /// Visor → keepers: a client may send them "last N" queries of a recorded story directly.
    case readGrant(ReadGrant)
    /// Visor → keepers: a grant given by ``readGrant(_:)`` is withdrawn (its reader disconnected).
    /// Not acknowledged.
    case readRevoke(ReadGrant)
    /// Client → keeper: a batch of events (or a pure watermark update when empty).
    case eventBatch(EventBatch)
    /// Keeper → client: an event batch was accepted (flow control: a client keeps at most
    /// `client.maxPendingBatches` batches unacknowledged per story).
    case batchAck(BatchAck)
    /// Keeper → grapher: a sealed chunk is ready for an RMA read.
    case chunkDescriptor(ChunkDescriptor)
    /// Client → keeper (tag `events`) and keeper → grapher (tag `bulk`): the watermarks of many
    /// idle stories in one message. Sent on the same tag as the sender's batches or descriptors, so
    /// it never overtakes data sent before it.
    case watermarks(WatermarkSet)
    /// Client → keeper (tag `events`): answer once my events so far are durable (`flush(durable:)`).
    case durableRequest(DurableRequest)
    /// Keeper → client (tag `flow`): the client's events are durable, or why not.
    case durableReply(DurableReply)
    /// Grapher → keeper: chunk durable or failed.
    case chunkAck(ChunkAck)
    /// A whole chunk sent inline (fallback without RMA; keepers/grapher answering a player).
    case storyChunk(StoryChunk)
    /// Client → visor → player, and player → keeper: `ReplayStory`.
    case replayRequest(ReplayRequest)
    /// Player → client (and keeper → player): one piece of a replay answer.
    case replayPiece(ReplayPiece)
    /// Client → player: a replay piece was received (flow control), or the query is cancelled.
    case replayAck(ReplayAck)
    /// Player ↔ grapher: hold archive rounds off while the player reads the archive.
    case archiveLease(ArchiveLease)
    /// Visor → everyone: stop (after draining, if asked).
    case shutdown(ShutdownRequest)
    /// Any process → visor: drained and stopped.
    case shutdownComplete(ShutdownComplete)

    /// The type number of this message.
    public var type: MessageType {
        switch self {
        case .connect: return .connect
        case .connectReply: return .connectReply
        case .clockPing: return .clockPing
        case .clockPong: return .clockPong
        case .disconnect: return .disconnect
        case .createChronicle: return .createChronicle
        case .destroyChronicle: return .destroyChronicle
        case .acquireStory: return .acquireStory
        case .releaseStory: return .releaseStory
        case .destroyStory: return .destroyStory
        case .showChronicles: return .showChronicles
        case .showStories: return .showStories
        case .readRoute: return .readRoute
        case .reply: return .reply
        case .nameList: return .nameList
        case .acquireReply: return .acquireReply
        case .register: return .register
        case .heartbeat: return .heartbeat
        case .startRecording: return .startRecording
        case .stopRecording: return .stopRecording
        case .recordingAck: return .recordingAck
        case .holder: return .holder
        case .readGrant: return .readGrant
        case .readRevoke: return .readRevoke
        case .eventBatch: return .eventBatch
        case .chunkDescriptor: return .chunkDescriptor
        case .chunkAck: return .chunkAck
        case .watermarks: return .watermarks
        case .durableRequest: return .durableRequest
        case .durableReply: return .durableReply
        case .batchAck: return .batchAck
        case .storyChunk: return .storyChunk
        case .replayRequest: return .replayRequest
        case .replayPiece: return .replayPiece
        case .replayAck: return .replayAck
        case .archiveLease: return .archiveLease
        case .shutdown: return .shutdown
        case .shutdownComplete: return .shutdownComplete
        }
    }
}
