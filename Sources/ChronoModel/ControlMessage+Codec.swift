extension ControlMessage {
    /// Encodes the message: a ``MessageHeader`` (carrying `requestId`, 0 for no request) followed
    /// by the body.
    public func encode(requestId: UInt32 = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes, requestId: requestId)
        return bytes
    }

    /// Appends the encoded message to `bytes` (reuse one buffer to avoid allocations).
    public func encode(into bytes: inout [UInt8], requestId: UInt32 = 0) {
        let headerAt = bytes.count
        MessageHeader(type: type, bodyLength: 0, requestId: requestId).write(to: &bytes)
        let bodyAt = bytes.count
        var w = WireWriter(appendingTo: [])
        swap(&w.bytes, &bytes)
        writeBody(to: &w)
        swap(&w.bytes, &bytes)
        RawBytes.storeLE(UInt32(clamping: bytes.count - bodyAt), into: &bytes, at: headerAt + MessageHeader.bodyLengthOffset)
    }

    private func writeBody(to w: inout WireWriter) {
        switch self {
        case let .connect(m): m.write(to: &w)
        case let .connectReply(m): m.write(to: &w)
        case let .clockPing(m): m.write(to: &w)
        case let .clockPong(m): m.write(to: &w)
        case let .disconnect(clientId): w.u64(clientId.rawValue)
        case let .createChronicle(m): m.write(to: &w)
        case let .destroyChronicle(m): m.write(to: &w)
        case let .acquireStory(m): m.write(to: &w)
        case let .releaseStory(m): m.write(to: &w)
        case let .destroyStory(m): m.write(to: &w)
        case let .showChronicles(clientId): w.u64(clientId.rawValue)
        case let .showStories(m): m.write(to: &w)
        case let .reply(m): m.write(to: &w)
        case let .nameList(m): m.write(to: &w)
        case let .acquireReply(m): m.write(to: &w)
        case let .register(m): m.write(to: &w)
        case let .heartbeat(m): m.write(to: &w)
        case let .startRecording(m): m.write(to: &w)
        case let .stopRecording(m): m.write(to: &w)
        case let .recordingAck(m): m.write(to: &w)
        case let .holder(m): m.write(to: &w)
        case let .readGrant(m), let .readRevoke(m): m.write(to: &w)
        case let .readRoute(m): m.write(to: &w)
        case let .eventBatch(m): m.write(to: &w)
        case let .chunkDescriptor(m): m.write(to: &w)
        case let .chunkAck(m): m.write(to: &w)
        case let .watermarks(m): m.write(to: &w)
        case let .durableRequest(m): m.write(to: &w)
        case let .durableReply(m): m.write(to: &w)
        case let .batchAck(m): m.write(to: &w)
        case let .storyChunk(m): m.encode(into: &w.bytes)
        case let .replayRequest(m): m.write(to: &w)
        case let .replayPiece(m): m.write(to: &w)
        case let .replayAck(m): m.write(to: &w)
        case let .archiveLease(m): m.write(to: &w)
        case let .shutdown(m): m.write(to: &w)
        case let .shutdownComplete(m): m.write(to: &w)
        }
    }

    /// Decodes exactly one message (header + body, nothing after it).
    /// - Throws: ``ChronoLogError/malformedMessage(_:)`` for truncated, oversized, mutated or trailing
    ///   input; ``ChronoLogError/protocolVersionMismatch(expected:got:)`` when the header's version differs.
    ///   Never traps, and never allocates more than the input's size.
    public static func decode<C: Collection>(_ bytes: C, limits: WireLimits = .default) throws(ChronoLogError) -> ControlMessage
    where C.Element == UInt8 {
        let result: Result<ControlMessage, ChronoLogError> = RawBytes.withBytes(bytes) { raw in
            Result { () throws(ChronoLogError) -> ControlMessage in try decode(raw: raw, limits: limits) }
        }
        return try result.get()
    }

    /// Decodes exactly one message from an array, like ``decode(_:limits:)``, with one difference:
    /// an event batch's payload is not copied out but stays in `bytes` (``EventBatch/payload`` is a
    /// slice of it), so a keeper keeps each received batch as it came until its range seals.
    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(ChronoLogError) -> ControlMessage {
        let result: Result<ControlMessage, ChronoLogError> = bytes.withUnsafeBytes { raw in
            Result { () throws(ChronoLogError) -> ControlMessage in
                try decodeWithHeader(raw: raw, limits: limits, backing: bytes).message
            }
        }
        return try result.get()
    }

    /// Decodes exactly one message from raw memory. Same checks as ``decode(_:limits:)``.
    public static func decode(raw: UnsafeRawBufferPointer, limits: WireLimits = .default) throws(ChronoLogError) -> ControlMessage {
        try decodeWithHeader(raw: raw, limits: limits).message
    }

    /// Decodes exactly one message with its header (for its ``MessageHeader/requestId``).
    /// Same checks as ``decode(_:limits:)``.
    public static func decodeWithHeader<C: Collection>(_ bytes: C, limits: WireLimits = .default)
    throws(ChronoLogError) -> (header: MessageHeader, message: ControlMessage) where C.Element == UInt8 {
        let result: Result<(header: MessageHeader, message: ControlMessage), ChronoLogError> = RawBytes.withBytes(bytes) { raw in
            Result { () throws(ChronoLogError) -> (header: MessageHeader, message: ControlMessage) in
                try decodeWithHeader(raw: raw, limits: limits)
            }
        }
        return try result.get()
    }

    private static func decodeWithHeader(raw: UnsafeRawBufferPointer, limits: WireLimits, backing: [UInt8]? = nil)
    throws(ChronoLogError) -> (header: MessageHeader, message: ControlMessage) {
        var r = WireReader(raw, limits: limits)
        let header = try MessageHeader.read(from: &r)
        guard header.bodyLength == UInt64(r.remaining) else {
            if header.bodyLength > UInt64(r.remaining) {
                throw .malformedMessage(.truncated(offset: r.position, needed: Int(clamping: header.bodyLength),
                                                   available: r.remaining))
            }
            throw .malformedMessage(.trailingBytes(count: r.remaining - Int(header.bodyLength)))
        }
        let message = try readBody(type: header.type, from: &r, backing: backing)
        try r.expectEnd()
        return (header, message)
    }

    private static func readBody(type: MessageType, from r: inout WireReader, backing: [UInt8]?) throws(ChronoLogError) -> ControlMessage {
        switch type {
        case .connect: return .connect(try .read(from: &r))
        case .connectReply: return .connectReply(try .read(from: &r))
        case .clockPing: return .clockPing(try .read(from: &r))
        case .clockPong: return .clockPong(try .read(from: &r))
        case .disconnect: return .disconnect(clientId: ClientID(rawValue: try r.u64()))
        case .createChronicle: return .createChronicle(try .read(from: &r))
        case .destroyChronicle: return .destroyChronicle(try .read(from: &r))
        case .acquireStory: return .acquireStory(try .read(from: &r))
        case .releaseStory: return .releaseStory(try .read(from: &r))
        case .destroyStory: return .destroyStory(try .read(from: &r))
        case .showChronicles: return .showChronicles(clientId: ClientID(rawValue: try r.u64()))
        case .showStories: return .showStories(try .read(from: &r))
        case .reply: return .reply(try .read(from: &r))
        case .nameList: return .nameList(try .read(from: &r))
        case .acquireReply: return .acquireReply(try .read(from: &r))
        case .register: return .register(try .read(from: &r))
        case .heartbeat: return .heartbeat(try .read(from: &r))
        case .startRecording: return .startRecording(try .read(from: &r))
        case .stopRecording: return .stopRecording(try .read(from: &r))
        case .recordingAck: return .recordingAck(try .read(from: &r))
        case .holder: return .holder(try .read(from: &r))
        case .readGrant: return .readGrant(try .read(from: &r))
        case .readRevoke: return .readRevoke(try .read(from: &r))
        case .readRoute: return .readRoute(try .read(from: &r))
        case .eventBatch: return .eventBatch(try EventBatch.read(from: &r, backing: backing))
        case .chunkDescriptor: return .chunkDescriptor(try .read(from: &r))
        case .chunkAck: return .chunkAck(try .read(from: &r))
        case .watermarks: return .watermarks(try .read(from: &r))
        case .durableRequest: return .durableRequest(try .read(from: &r))
        case .durableReply: return .durableReply(try .read(from: &r))
        case .batchAck: return .batchAck(try .read(from: &r))
        case .storyChunk: return .storyChunk(try StoryChunk.read(from: &r))
        case .replayRequest: return .replayRequest(try .read(from: &r))
        case .replayPiece: return .replayPiece(try .read(from: &r))
        case .replayAck: return .replayAck(try .read(from: &r))
        case .archiveLease: return .archiveLease(try .read(from: &r))
        case .shutdown: return .shutdown(try .read(from: &r))
        case .shutdownComplete: return .shutdownComplete(try .read(from: &r))
        }
    }
}
