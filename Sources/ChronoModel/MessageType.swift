/// The type number carried in every ``MessageHeader``; one per ``ControlMessage`` case.
/// Numbers are part of the protocol: never reuse or renumber them.
public enum MessageType: UInt16, CaseIterable, Sendable {
    /// ``ControlMessage/connect(_:)``
    case connect = 1
    /// ``ControlMessage/connectReply(_:)``
    case connectReply = 2
    /// ``ControlMessage/clockPing(_:)``
    case clockPing = 3
    /// ``ControlMessage/clockPong(_:)``
    case clockPong = 4
    /// ``ControlMessage/disconnect(clientId:)``
    case disconnect = 5
    /// ``ControlMessage/createChronicle(_:)``
    case createChronicle = 10
    /// ``ControlMessage/destroyChronicle(_:)``
    case destroyChronicle = 11
    /// ``ControlMessage/acquireStory(_:)``
    case acquireStory = 12
    /// ``ControlMessage/releaseStory(_:)``
    case releaseStory = 13
    /// ``ControlMessage/destroyStory(_:)``
    case destroyStory = 14
    /// ``ControlMessage/showChronicles(clientId:)``
    case showChronicles = 15
    /// ``ControlMessage/showStories(_:)``
    case showStories = 16
    /// ``ControlMessage/readRoute(_:)``
    case readRoute = 17
    /// ``ControlMessage/reply(_:)``
    case reply = 20
    /// ``ControlMessage/nameList(_:)``
    case nameList = 21
    /// ``ControlMessage/acquireReply(_:)``
    case acquireReply = 22
    /// ``ControlMessage/register(_:)``
    case register = 30
    /// ``ControlMessage/heartbeat(_:)``
    case heartbeat = 31
    /// ``ControlMessage/startRecording(_:)``
    case startRecording = 32
    /// ``ControlMessage/stopRecording(_:)``
    case stopRecording = 33
    /// ``ControlMessage/recordingAck(_:)``
    case recordingAck = 34
    /// ``ControlMessage/holder(_:)``
    case holder = 35
    /// ``ControlMessage/readGrant(_:)``
    case readGrant = 36
    /// ``ControlMessage/readRevoke(_:)``
    case readRevoke = 37
    /// ``ControlMessage/eventBatch(_:)``
    case eventBatch = 40
    /// ``ControlMessage/chunkDescriptor(_:)``
    case chunkDescriptor = 41
    /// ``ControlMessage/chunkAck(_:)``
    case chunkAck = 42
    /// ``ControlMessage/batchAck(_:)``
    case batchAck = 44
    /// ``ControlMessage/storyChunk(_:)``
    case storyChunk = 43
    /// ``ControlMessage/watermarks(_:)``
    case watermarks = 45
    /// ``ControlMessage/durableRequest(_:)``
    case durableRequest = 46
    /// ``ControlMessage/durableReply(_:)``
    case durableReply = 47
    /// ``ControlMessage/replayRequest(_:)``
    case replayRequest = 50
    /// ``ControlMessage/replayPiece(_:)``
    case replayPiece = 51
    /// ``ControlMessage/replayAck(_:)``
    case replayAck = 52
    /// ``ControlMessage/archiveLease(_:)``
    case archiveLease = 53
    /// ``ControlMessage/shutdown(_:)``
    case shutdown = 60
    /// ``ControlMessage/shutdownComplete(_:)``
    case shutdownComplete = 61
}
