// libFuzzer target for ChronoModel's decoders. Built by scripts/fuzz.sh together with
// Sources/ChronoModel/*.swift (not part of any SwiftPM target).
//
// Every input is fed to the message decoder, the chunk-layout decoder and the header decoder.
// Decoding must never trap; whatever decodes must re-encode to exactly the input bytes
// (the encoding is canonical), otherwise the target aborts so libFuzzer reports the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Small limits as well as the defaults, so the limit checks are exercised too.
    let limits = (data[0] & 1) == 0 ? WireLimits.default
        : WireLimits(maxBodyBytes: 4096, maxStringBytes: 64, maxListCount: 8, maxMapCount: 4, maxEventBytes: 32, maxEvents: 16)

    if let (header, message) = try? ControlMessage.decodeWithHeader(bytes, limits: limits) {
        // The request id is part of the encoding (it is echoed in answers).
        let again = message.encode(requestId: header.requestId)
        if again != bytes { fatalError("message re-encodes differently (\(message.type))") }
        if (try? ControlMessage.decode(again, limits: limits)) != message { fatalError("message round trip differs") }
        if MessageHeader.requestId(of: bytes) != header.requestId { fatalError("request id read apart differs") }
    }
    if let chunk = try? StoryChunk.decode(raw: raw, limits: limits) {
        if chunk.encode() != bytes { fatalError("chunk re-encodes differently") }
        // A decoded chunk is canonical, so merging it with itself is the identity.
        if (try? chunk.merged(with: chunk)) != chunk { fatalError("merge not idempotent on decoded chunk") }
    }
    // Decoding into reused storage agrees with decoding into a new chunk, and leaves it empty on error.
    var scratch = StoryChunk.empty(storyId: StoryID(rawValue: 0), range: TimeRange(start: 0, end: 1))
    let fresh = try? StoryChunk.decode(raw: raw, limits: limits)
    do {
        try scratch.assign(decoding: raw, limits: limits)
        if scratch != fresh { fatalError("in-place decode differs") }
    } catch {
        if fresh != nil || !scratch.isEmpty { fatalError("in-place decode failed differently") }
    }
    // Receiving the payload apart (the replay's RMA path) agrees with decoding the whole: the head
    // is the header plus the record table its event count announces, the payload the rest.
    if size >= StoryChunk.headerByteCount {
        let announced = raw.loadUnaligned(fromByteOffset: 40, as: UInt64.self).littleEndian
        let headBytes = announced > UInt64(size) ? size : min(size, StoryChunk.headerByteCount + Int(announced) * 32)
        var apart = StoryChunk.empty(storyId: StoryID(rawValue: 0), range: TimeRange(start: 0, end: 1))
        do {
            try apart.assign(payloadByteCount: size - headBytes, limits: limits) { (payload) throws(ChronoLogError) in
                payload.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[headBytes...]))
                return UnsafeRawBufferPointer(rebasing: raw[..<headBytes])
            }
            if apart != fresh { fatalError("decoding with the payload apart differs") }
        } catch {
            if fresh != nil || !apart.isEmpty { fatalError("decoding with the payload apart failed differently") }
        }
    }
    _ = try? MessageHeader.decode(bytes, limits: limits)
    return 0
}

#if canImport(Glibc)
import Glibc
#endif

/// When `CHRONOLOG_X_FUZZ_SEED_DIR` is set, writes one valid encoding of every message type and a
/// chunk layout into that directory (the initial corpus), so fuzzing starts deep inside the decoders.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    guard let dirPointer = getenv("CHRONOLOG_X_FUZZ_SEED_DIR") else { return 0 }
    let dir = String(cString: dirPointer)
    let story = StoryID(rawValue: 0x1234)
    let client = ClientID(7)
    let events = (0..<4).map { Event(time: UInt64(10 + $0), clientId: client, index: UInt32($0), text: "event \($0)") }
    guard let chunk = try? StoryChunk(storyId: story, range: TimeRange(start: 0, end: 100), revision: 1, events: events),
          let batch = try? EventBatch(storyId: story, clientId: client, watermark: 20, events: events) else { return 0 }
    // One switch over every message type: a type added without a seed does not compile.
    func seeds(_ type: MessageType) -> [ControlMessage] {
        switch type {
        case .connect:
            return [
                .connect(ConnectRequest(hostName: "node1", pid: 42, rank: 3, user: "alice", mode: .writerReader)),
            ]
        case .connectReply:
            return [
                .connectReply(ConnectReply(rc: .success, clientId: client, visorTime: 99, detail: "")),
            ]
        case .clockPing:
            return [
                .clockPing(ClockPing(sequence: 1, clientSendTime: 5)),
            ]
        case .clockPong:
            return [
                .clockPong(ClockPong(sequence: 1, clientSendTime: 5, visorTime: 6)),
            ]
        case .disconnect:
            return [
                .disconnect(clientId: client),
            ]
        case .createChronicle:
            return [
                .createChronicle(CreateChronicleRequest(clientId: client, chronicle: "chron", attributes: ["a": "1", "b": "2"], flags: 1)),
            ]
        case .destroyChronicle:
            return [
                .destroyChronicle(ChronicleRequest(clientId: client, chronicle: "chron")),
            ]
        case .acquireStory:
            return [
                .acquireStory(StoryRequest(clientId: client, chronicle: "chron", story: "story", attributes: ["k": "v"])),
            ]
        case .releaseStory:
            return [
                .releaseStory(StoryRequest(clientId: client, chronicle: "chron", story: "story", eventCount: 1_200)),
            ]
        case .destroyStory:
            return [
                .destroyStory(StoryRequest(clientId: client, chronicle: "chron", story: "story")),
            ]
        case .showChronicles:
            return [
                .showChronicles(clientId: client),
            ]
        case .showStories:
            return [
                .showStories(ChronicleRequest(clientId: client, chronicle: "chron")),
            ]
        case .readRoute:
            return [
                .readRoute(StoryRequest(clientId: client, chronicle: "chron", story: "story")),
            ]
        case .reply:
            return [
                .reply(GenericReply(rc: .chronicleExists, detail: "exists")),
            ]
        case .nameList:
            return [
                .nameList(NameListReply(rc: .success, names: ["a", "b", "🙂"])),
            ]
        case .acquireReply:
            return [
                .acquireReply(AcquireReply(rc: .success, storyId: story, groupId: 1, keeperRanks: [1, 2], grapherRank: 3, playerRank: 4)),
            ]
        case .register:
            return [
                .register(Registration(role: .keeper, groupId: 1, rank: 2, hostName: "node1")),
            ]
        case .heartbeat:
            return [
                .heartbeat(Heartbeat(role: .grapher, groupId: 1, rank: 3, sentAt: 7, counters: [.eventsReceived: 9, .eventsLate: 1])),
            ]
        case .startRecording:
            return [
                .startRecording(RecordingNotice(storyId: story, chronicle: "chron", story: "story", groupId: 1, ticket: 3,
                                                holder: client, holderRank: 5)),
            ]
        case .stopRecording:
            return [
                .stopRecording(RecordingNotice(storyId: story, chronicle: "chron", story: "story", groupId: 1)),
            ]
        case .recordingAck:
            return [
                .recordingAck(RecordingAck(storyId: story, rank: 2, rc: .success, ticket: 3)),
            ]
        case .holder:
            return [
                .holder(HolderNotice(ticket: 4, storyId: story, clientId: client, clientRank: 5, holds: true)),
            ]
        case .readGrant:
            return [
                .readGrant(ReadGrant(ticket: 6, storyId: story, clientId: client, clientRank: 5)),
            ]
        case .readRevoke:
            return [
                .readRevoke(ReadGrant(ticket: 0, storyId: story, clientId: client, clientRank: 5)),
            ]
        case .eventBatch:
            return [
                .eventBatch(batch),
            ]
        case .chunkDescriptor:
            return [
                .chunkDescriptor(ChunkDescriptor(storyId: story, keeperRank: 1, sequence: 5, range: TimeRange(start: 0, end: 100), revision: 0,
                    watermark: 100, records: (0xdead_beef, 17), payload: (0xbeef_0000, 18),
                    payloadBytes: UInt64(chunk.payload.count), payloadBase: 64, eventCount: 4)),
            ]
        case .chunkAck:
            return [
                .chunkAck(ChunkAck(storyId: story, sequence: 5, rc: .success)),
                .chunkAck(ChunkAck(storyId: story, sequence: 5, rc: .success, received: true)),
            ]
        case .batchAck:
            return [
                .batchAck(BatchAck(storyId: story, clientId: ClientID(rawValue: 7), firstIndex: 0, count: 1024)),
            ]
        case .storyChunk:
            return [
                .storyChunk(chunk),
            ]
        case .replayRequest:
            return [
                .replayRequest(ReplayRequest(queryId: 8, clientId: client, chronicle: "chron", story: "story",
                    range: TimeRange(start: 0, end: 50), timeoutMilliseconds: 1000, clientRank: 5,
                    keeperRanks: [1, 2], storyKnown: true, hidden: [.init(client: 3, below: 40)],
                    earlierWriters: [.init(client: 3, first: 40, count: 45), .init(client: 4, first: 0, count: nil)],
                    readerOnPlayerNode: true)),
            ]
        case .replayPiece:
            return [
                .replayPiece(ReplayPiece(queryId: 8, rc: .success, pieceNumber: 0, isLast: true, chunk: chunk, completeBefore: 40,
                    recording: true)),
                .replayPiece(ReplayPiece(queryId: 8, rc: .success, pieceNumber: 1, isLast: false, chunk: nil,
                    remote: RemotePiece(address: 0x1000, key: 9, length: 4096, eventCount: 3,
                    playerAddress: [1, 2, 3, 4]))),
                .replayPiece(ReplayPiece(queryId: 8, rc: .success, pieceNumber: 2, isLast: false, chunk: nil,
                    remote: RemotePiece(address: 0x1000, key: 9, length: 4096, eventCount: 3, playerAddress: [1, 2, 3, 4],
                    payloadSegments: [RemoteSegment(address: 0x9000, key: 11, length: 1000), RemoteSegment(address: 0xA000, key: 12, length: 3000)]))),
                .replayPiece(ReplayPiece(queryId: 8, rc: .success, pieceNumber: 3, isLast: false, chunk: nil,
                    remote: RemotePiece(address: 0x1000, key: 9, length: 4096, eventCount: 3, playerAddress: [1, 2, 3, 4],
                    payloadSegments: [RemoteSegment(address: 0x9000, key: 11, length: 1000), RemoteSegment(address: 0xA000, key: 12, length: 3000)],
                    payloadFile: RemoteFile(bootId: Array("0b6f9c1e-boot".utf8), path: "/archive/chronolog-0.h5",
                                            identity: .init(device: 2049, inode: 131_074), offsets: [8192, 1_056_768])))),
            ]
        case .replayAck:
            return [
                .replayAck(ReplayAck(queryId: 8, pieceNumber: 0)),
            ]
        case .archiveLease:
            return [
                .archiveLease(ArchiveLease(leaseId: 3, action: .grant)),
            ]
        case .shutdown:
            return [
                .shutdown(ShutdownRequest(drain: true, deadlineMilliseconds: 100, reason: "done")),
            ]
        case .shutdownComplete:
            return [
                .shutdownComplete(ShutdownComplete(rank: 2, rc: .success, undrainedEvents: 0)),
            ]
        case .durableRequest:
            return [.durableRequest(DurableRequest(storyId: story, clientId: client, sequence: 3))]
        case .durableReply:
            return [.durableReply(DurableReply(storyId: story, clientId: client, sequence: 3, durableEvents: 4, failedEvents: 0,
                                               rc: .success))]
        case .watermarks:
            return [.watermarks(WatermarkSet(contributor: 7, entries: [WatermarkSet.Entry(storyId: story, watermark: 20),
                                                                       WatermarkSet.Entry(storyId: StoryID(rawValue: 9), watermark: 0)]))]
        }
    }
    let messages = MessageType.allCases.flatMap(seeds)
    // Requests to the visor and its answers carry request ids (the others 0).
    var inputs = messages.enumerated().map { ("\($0.element.type.rawValue)-\($0.offset)",
                                              $0.element.encode(requestId: $0.element.type.rawValue < 30 ? 0x8000_0001 : 0)) }
    inputs.append(("chunk", chunk.encode()))
    for (name, bytes) in inputs {
        guard let file = fopen(dir + "/seed-" + name, "wb") else { continue }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    return 0
}
