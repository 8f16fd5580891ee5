import PropertyBased
import Synchronization
import Testing
@testable import ChronoModel

@Suite struct CodecTests {
    @Test func roundTripEveryMessageType() throws {
        var rng = SplitMix(seed: 1)
        for type in MessageType.allCases {
            for _ in 0..<50 {
                let message = Random.message(type, &rng)
                #expect(message.type == type)
                let bytes = message.encode()
                #expect(try ControlMessage.decode(bytes) == message)
                let header = try MessageHeader.decode(bytes)
                #expect(header.type == type)
                #expect(Int(header.bodyLength) == bytes.count - MessageHeader.byteCount)
            }
        }
    }

    /// A piece descriptor's `length` is the size of the piece's encoding, the slot a grapher reads it
    /// into; sizes that overflow give `UInt64.max`, which no slot fits (the grapher refuses the piece).
    @Test func aPieceDescriptorsLengthIsItsEncodedSizeAndSaturates() throws {
        func descriptor(events: UInt64, payload: UInt64) -> ChunkDescriptor {
            ChunkDescriptor(storyId: StoryID(rawValue: 1), keeperRank: 1, sequence: 1, range: TimeRange(start: 0, end: 10), revision: 0,
                            watermark: 0, records: (0, 1), payload: (0, 2), payloadBytes: payload, eventCount: events)
        }
        let chunk = try StoryChunk(storyId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: 10),
                                   events: (0..<3).map { Event(time: UInt64($0), clientId: ClientID(1), index: UInt32($0), text: "e\($0)x") })
        #expect(descriptor(events: 3, payload: UInt64(chunk.payload.count)).length == UInt64(chunk.encodedByteCount))
        #expect(descriptor(events: 0, payload: 0).length == UInt64(StoryChunk.headerByteCount))
        #expect(descriptor(events: .max / 16, payload: 0).length == .max)
        #expect(descriptor(events: 1, payload: .max - 40).length == .max)
        #expect(descriptor(events: 1, payload: UInt64.max - 100).length == UInt64.max - 12)  // 32 + 56 bytes more, just fits
    }

    @Test func roundTripProperty() async throws {
        let seen = Mutex(Set<MessageType>())
        await propertyCheck(count: 1000, input: Gens.message) { message in
            seen.withLock { _ = $0.insert(message.type) }
            let decoded = try ControlMessage.decode(message.encode())
            #expect(decoded == message)
            // With a request id (requests to the visor and their answers): it survives the round trip.
            let id = UInt32(truncatingIfNeeded: message.encode().count &* 2_654_435_761)
            let (header, again) = try ControlMessage.decodeWithHeader(message.encode(requestId: id))
            #expect(again == message && header.requestId == id && MessageHeader.requestId(of: message.encode(requestId: id)) == id)
            // Also from a slice of a larger buffer.
            let framed = [0xEE] + message.encode() + [0xEE]
            let fromSlice = try ControlMessage.decode(framed[1..<(framed.count - 1)])
            #expect(fromSlice == message)
        }
        // The draw must reach every message type, or the property says nothing about some.
        let missing = Set(MessageType.allCases).subtracting(seen.withLock { $0 })
        #expect(missing.isEmpty, "message types never drawn: \(missing.map(\.rawValue).sorted())")
    }

    @Test func chunkLayoutRoundTrip() async throws {
        await propertyCheck(count: 300, input: Gens.chunk) { chunk in
            let bytes = chunk.encode()
            #expect(bytes.count == chunk.encodedByteCount)
            #expect(bytes.count == StoryChunk.headerByteCount + 32 * chunk.count + chunk.payload.count)
            let decoded = try StoryChunk.decode(bytes)
            #expect(decoded == chunk)
        }
    }

    @Test func decodeIntoReusedStorage() throws {
        var rng = SplitMix(seed: 5)
        var scratch = StoryChunk.empty(storyId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: 1))
        for _ in 0..<200 {
            let chunk = Random.chunk(&rng)
            let bytes = chunk.encode()
            try bytes.withUnsafeBytes { raw in try scratch.assign(decoding: raw) }
            #expect(scratch == chunk)
            // A corrupted input leaves the scratch chunk empty, never half-written.
            var bad = bytes
            bad[bad.count / 2] ^= 0x40
            if bad.count > StoryChunk.headerByteCount, (try? StoryChunk.decode(bad)) == nil {
                #expect(throws: ChronoLogError.self) { try bad.withUnsafeBytes { raw in try scratch.assign(decoding: raw) } }
                #expect(scratch.isEmpty && scratch.payload.isEmpty)
            }
        }
    }

    /// The replay's RMA path: the head (header and records) and the payload arrive apart, the
    /// payload written straight into the chunk's storage.
    @Test func decodeWithPayloadReceivedApart() throws {
        var rng = SplitMix(seed: 9)
        var scratch = StoryChunk.empty(storyId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: 1))
        for _ in 0..<200 {
            let chunk = Random.chunk(&rng)
            let bytes = chunk.encode()
            let headBytes = StoryChunk.headerByteCount + 32 * chunk.count
            func receive(_ head: ArraySlice<UInt8>, payload: ArraySlice<UInt8>, announced: Int) throws {
                try head.withUnsafeBytes { raw in
                    try scratch.assign(payloadByteCount: announced) { (destination) throws(ChronoLogError) in
                        #expect(destination.count == announced)
                        payload.withUnsafeBytes { destination.copyMemory(from: $0) }
                        return raw
                    }
                }
            }
            try receive(bytes[..<headBytes], payload: bytes[headBytes...], announced: bytes.count - headBytes)
            #expect(scratch == chunk)
            // A payload of another length than the header announces is refused, and the chunk left empty.
            if chunk.payload.count > 0 {
                #expect(throws: ChronoLogError.self) {
                    try receive(bytes[..<headBytes], payload: bytes[headBytes..<(bytes.count - 1)], announced: bytes.count - headBytes - 1)
                }
                #expect(scratch.isEmpty && scratch.payload.isEmpty)
                // A head with a byte of the payload left on it is refused.
                #expect(throws: ChronoLogError.self) {
                    try receive(bytes[..<(headBytes + 1)], payload: bytes[(headBytes + 1)...], announced: bytes.count - headBytes - 1)
                }
            }
            // What the receiver throws comes out, and the chunk is left empty.
            #expect(throws: ChronoLogError.noConnection("gone")) {
                try scratch.assign(payloadByteCount: 8) { (_) throws(ChronoLogError) in throw .noConnection("gone") }
            }
            #expect(scratch.isEmpty)
        }
        #expect(throws: ChronoLogError.self) {
            try scratch.assign(payloadByteCount: Int(WireLimits.default.maxBodyBytes) + 1) { (_) throws(ChronoLogError) in
                Issue.record("an oversized payload must be refused before it is received")
                return UnsafeRawBufferPointer(start: nil, count: 0)
            }
        }
    }

    @Test func chunkLayoutIsTheDocumentedOne() throws {
        let chunk = try StoryChunk(storyId: StoryID(rawValue: 0x0102_0304_0506_0708), range: TimeRange(start: 10, end: 20), revision: 3,
                                   events: [Event(time: 11, clientId: ClientID(5), index: 6, text: "hi")])
        let b = chunk.encode()
        #expect(Array(b[0..<4]) == Array("CLCK".utf8))
        #expect(b[4] == 1 && b[5] == 0)  // layout version 1, little-endian
        #expect(Array(b[8..<16]) == [8, 7, 6, 5, 4, 3, 2, 1])
        #expect(b[16] == 10 && b[24] == 20 && b[32] == 3 && b[40] == 1 && b[48] == 2)
        // The record: time 11, client 5, index 6, length 2, offset 0.
        #expect(b[56] == 11 && b[64] == 5 && b[72] == 6 && b[76] == 2 && b[80] == 0)
        #expect(Array(b[88...]) == Array("hi".utf8))
    }

    @Test func headerLayout() throws {
        let b = ControlMessage.disconnect(clientId: ClientID(7)).encode()
        #expect(Array(b[0..<4]) == Array("CLOG".utf8))
        #expect(b[4] == UInt8(ChronoModelVersion.protocolVersion) && b[5] == 0)
        #expect(b[6] == UInt8(MessageType.disconnect.rawValue) && b[7] == 0)
        #expect(b[8] == 8 && b.count == 24 && b[16] == 7)
        #expect(Array(b[12..<16]) == [0, 0, 0, 0])  // no request id
        // Body length in bytes 8..<12, the request id in 12..<16.
        let r = ControlMessage.disconnect(clientId: ClientID(7)).encode(requestId: 0x0403_0201)
        #expect(Array(r[8..<16]) == [8, 0, 0, 0, 1, 2, 3, 4])
        #expect(try MessageHeader.decode(r).requestId == 0x0403_0201)
    }

    @Test func everyStrictPrefixIsATypedError() throws {
        var rng = SplitMix(seed: 2)
        for type in MessageType.allCases {
            let bytes = Random.message(type, &rng).encode()
            for n in 0..<bytes.count {
                do {
                    _ = try ControlMessage.decode(bytes[0..<n])
                    Issue.record("prefix \(n)/\(bytes.count) of \(type) decoded")
                } catch {
                    #expect(error.returnCode == .invalidArgument)
                }
            }
        }
    }

    @Test func bitFlipsNeverCrashAndAcceptedInputIsCanonical() throws {
        var rng = SplitMix(seed: 3)
        var rejected = 0
        var total = 0
        for type in MessageType.allCases {
            for _ in 0..<10 {
                let original = Random.message(type, &rng).encode(requestId: UInt32.random(in: 0...3, using: &rng) << 30)
                for _ in 0..<40 {
                    var bytes = original
                    for _ in 0..<Int.random(in: 1...3, using: &rng) {
                        let i = Int.random(in: 0..<bytes.count, using: &rng)
                        bytes[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                    }
                    total += 1
                    do {
                        let (header, decoded) = try ControlMessage.decodeWithHeader(bytes)
                        // Whatever decodes re-encodes to exactly the same bytes (one encoding per value;
                        // the request id is part of it).
                        #expect(decoded.encode(requestId: header.requestId) == bytes)
                    } catch {
                        rejected += 1
                    }
                }
            }
        }
        #expect(rejected > total / 10)
    }

    @Test func randomBytesNeverCrash() async throws {
        let bytes = Gen.uint8(in: 0...255).array(of: 0...300)
        await propertyCheck(count: 2000, input: bytes, Gen.int(in: 0...28)) { body, typeIndex in
            // Raw noise, and noise behind a valid header of every type.
            _ = try? ControlMessage.decode(body)
            _ = try? StoryChunk.decode(body)
            var framed: [UInt8] = []
            MessageHeader(type: MessageType.allCases[typeIndex % MessageType.allCases.count], bodyLength: UInt64(body.count))
                .write(to: &framed)
            framed += body
            if let decoded = try? ControlMessage.decode(framed) {
                #expect(decoded.encode() == framed)
            }
        }
    }

    @Test func specificErrors() throws {
        let good = ControlMessage.showChronicles(clientId: ClientID(1)).encode()
        var badMagic = good
        badMagic[0] = 0
        #expect(throws: ChronoLogError.malformedMessage(.badMagic(expected: MessageHeader.magic, got: 0x474F_4C00))) {
            try ControlMessage.decode(badMagic)
        }
        var otherVersion = good
        let other = ChronoModelVersion.protocolVersion &+ 1
        otherVersion[4] = UInt8(truncatingIfNeeded: other)
        otherVersion[5] = UInt8(truncatingIfNeeded: other >> 8)
        #expect(throws: ChronoLogError.protocolVersionMismatch(expected: ChronoModelVersion.protocolVersion, got: other)) {
            try ControlMessage.decode(otherVersion)
        }
        var unknownType = good
        unknownType[6] = 0xFF
        #expect(throws: ChronoLogError.malformedMessage(.unknownMessageType(0xFF))) { try ControlMessage.decode(unknownType) }
        #expect(throws: ChronoLogError.malformedMessage(.trailingBytes(count: 1))) { try ControlMessage.decode(good + [0]) }
        var huge = good
        for i in 8..<12 { huge[i] = 0xFF }  // the body length (4 bytes)
        #expect(throws: ChronoLogError.malformedMessage(.limitExceeded(field: "header.bodyLength", value: UInt64(UInt32.max),
                                                                        limit: WireLimits.default.maxBodyBytes))) {
            try ControlMessage.decode(huge)
        }
    }

    @Test func hugeCountsAreRefusedBeforeAllocating() throws {
        // A name list claiming 2^20 names in a 30-byte body.
        var w = WireWriter()
        w.returnCode(.success)
        w.u32(1 << 20)
        w.u32(1)
        var bytes: [UInt8] = []
        MessageHeader(type: .nameList, bodyLength: UInt64(w.bytes.count)).write(to: &bytes)
        bytes += w.bytes
        #expect(throws: ChronoLogError.self) { try ControlMessage.decode(bytes) }
        // A chunk claiming 2^40 events.
        var chunk = StoryChunk.empty(storyId: StoryID(rawValue: 1), range: TimeRange(start: 0, end: 1)).encode()
        chunk[40 + 5] = 1
        #expect(throws: ChronoLogError.malformedMessage(.limitExceeded(field: "chunk.eventCount", value: 1 << 40,
                                                                        limit: WireLimits.default.maxEvents))) {
            try StoryChunk.decode(chunk)
        }
        // A string longer than the limit.
        let long = ControlMessage.reply(GenericReply(rc: .unknown, detail: String(repeating: "x", count: 70_000))).encode()
        #expect(throws: ChronoLogError.malformedMessage(.limitExceeded(field: "reply.detail", value: 70_000,
                                                                        limit: UInt64(WireLimits.default.maxStringBytes)))) {
            try ControlMessage.decode(long)
        }
        // A replay piece claiming more payload segments than a piece may have.
        let segments = (0...RemotePiece.maxPayloadSegments).map { RemoteSegment(address: UInt64($0), key: 1, length: 1) }
        let piece = ControlMessage.replayPiece(ReplayPiece(queryId: 1, rc: .success, pieceNumber: 0, isLast: false, chunk: nil,
            remote: RemotePiece(address: 0, key: 0, length: 5000, eventCount: 1, playerAddress: [1], payloadSegments: segments)))
        #expect(throws: ChronoLogError.malformedMessage(.limitExceeded(field: "replayPiece.payloadSegments",
                                                                        value: UInt64(RemotePiece.maxPayloadSegments + 1),
                                                                        limit: UInt64(RemotePiece.maxPayloadSegments)))) {
            try ControlMessage.decode(piece.encode())
        }
        // A replay piece whose payload segments do not add up to its payload is refused by its
        // reader before it reads anything (−2 at the client's boundary): fewer bytes would leave
        // part of the chunk unread, more would land past it.
        func lent(_ lengths: [UInt64]) -> RemotePiece {
            RemotePiece(address: 0x1000, key: 7, length: 100 + 60, eventCount: 1, playerAddress: [1],
                        payloadSegments: lengths.enumerated().map { RemoteSegment(address: 0x9000 + UInt64($0.offset) * 0x100, key: 8, length: $0.element) })
        }
        let exact = try lent([20, 0, 40]).payloadLayout(headBytes: 100)
        #expect(exact.map(\.offset) == [0, 20, 20] && exact.map(\.length) == [20, 0, 40] && exact.map(\.remoteAddress) == [0x9000, 0x9100, 0x9200])
        let whole = try lent([]).payloadLayout(headBytes: 100)
        #expect(whole.count == 1 && whole[0].offset == 0 && whole[0].remoteAddress == 0x1000 + 100 && whole[0].key == 7 && whole[0].length == 60)
        #expect(throws: ChronoLogError.malformedMessage(.inconsistent("replay piece's payload segments hold 59 of its 60 payload bytes"))) {
            try lent([20, 39]).payloadLayout(headBytes: 100)
        }
        #expect(throws: ChronoLogError.malformedMessage(.inconsistent("replay piece's payload segments exceed its 60 payload bytes"))) {
            try lent([20, 41]).payloadLayout(headBytes: 100)
        }
        #expect(throws: ChronoLogError.malformedMessage(.inconsistent("replay piece's payload segments exceed its 60 payload bytes"))) {
            try lent([UInt64.max, 61]).payloadLayout(headBytes: 100)
        }
        #expect(throws: ChronoLogError.malformedMessage(.inconsistent("replay piece of 160 bytes is shorter than its 161-byte head"))) {
            try lent([]).payloadLayout(headBytes: 161)
        }
        // The archive file a lent payload lies in: one offset per segment, each segment's offset
        // in the payload from the same layout; a file naming another number of offsets is refused,
        // by the decoder (a file without segments) and by the reader.
        func inFile(_ offsets: [UInt64], segments: [UInt64] = [20, 0, 40]) -> RemotePiece {
            var piece = lent(segments)
            piece.payloadFile = RemoteFile(bootId: Array("boot".utf8), path: "/a/b.h5", identity: .init(device: 3, inode: 4), offsets: offsets)
            return piece
        }
        let file = try #require(try inFile([4096, 0, 9000]).fileLayout(headBytes: 100))
        #expect(file.map(\.offset) == [0, 20, 20] && file.map(\.fileOffset) == [4096, 0, 9000] && file.map(\.length) == [20, 0, 40])
        #expect(try lent([60]).fileLayout(headBytes: 100) == nil)
        #expect(throws: ChronoLogError.malformedMessage(.inconsistent("replay piece names 2 file offsets for its 3 payload segments"))) {
            try inFile([1, 2]).fileLayout(headBytes: 100)
        }
        #expect(throws: ChronoLogError.malformedMessage(.inconsistent("replay piece's payload segments hold 59 of its 60 payload bytes"))) {
            try inFile([1, 2], segments: [20, 39]).fileLayout(headBytes: 100)
        }
        var fileWithoutSegments = lent([])
        fileWithoutSegments.payloadFile = RemoteFile(bootId: [1], path: "/x", identity: .init(device: 1, inode: 1), offsets: [])
        #expect(throws: ChronoLogError.malformedMessage(.inconsistent("replay piece names a payload file but no payload segments"))) {
            try ControlMessage.decode(ControlMessage.replayPiece(ReplayPiece(queryId: 1, rc: .success, pieceNumber: 0, isLast: false,
                                                                             chunk: nil, remote: fileWithoutSegments)).encode())
        }
        let sent = ControlMessage.replayPiece(ReplayPiece(queryId: 1, rc: .success, pieceNumber: 0, isLast: false, chunk: nil,
                                                          remote: inFile([4096, 0, 9000])))
        #expect(try ControlMessage.decode(sent.encode()) == sent)
        let huge = RemotePiece(address: 0, key: 0, length: UInt64(Int.max) + 1, eventCount: 0, playerAddress: [1])
        #expect(throws: ChronoLogError.malformedMessage(.limitExceeded(field: "replayPiece.length", value: UInt64(Int.max) + 1,
                                                                        limit: UInt64(Int.max)))) {
            try huge.payloadLayout(headBytes: 100)
        }
        #expect(ChronoLogError.malformedMessage(.inconsistent("")).returnCode.rawValue == -2)
        // Custom limits apply.
        let good = ControlMessage.showChronicles(clientId: ClientID(1)).encode()
        #expect(try ControlMessage.decode(good, limits: WireLimits(maxBodyBytes: 8)) == .showChronicles(clientId: ClientID(1)))
        #expect(throws: ChronoLogError.malformedMessage(.limitExceeded(field: "header.bodyLength", value: 8, limit: 7))) {
            try ControlMessage.decode(good, limits: WireLimits(maxBodyBytes: 7))
        }
    }

    @Test func invalidFieldValuesAreRejected() throws {
        let batch = try EventBatch(storyId: StoryID(rawValue: 1), clientId: ClientID(3), watermark: 9,
                                   events: [Event(time: 1, clientId: ClientID(3), index: 4, text: "x"),
                                            Event(time: 2, clientId: ClientID(3), index: 5, text: "yz")])
        let bytes = ControlMessage.eventBatch(batch).encode()
        #expect(try ControlMessage.decode(bytes) == .eventBatch(batch))
        let recordsAt = MessageHeader.byteCount + EventBatch.headerByteCount + batch.payload.count  // the payload comes first
        var wrongClient = bytes
        wrongClient[recordsAt + 32 + 8] = 4  // second record's client
        #expect(throws: ChronoLogError.self) { try ControlMessage.decode(wrongClient) }
        var gap = bytes
        gap[recordsAt + 32 + 16] = 7  // second record's index 5 → 7
        #expect(throws: ChronoLogError.self) { try ControlMessage.decode(gap) }
        // Bad enum, bool and return code.
        var mode = ControlMessage.connect(ConnectRequest(hostName: "h", pid: 1, rank: 0, mode: .writer)).encode()
        mode[mode.count - 1] = 9
        #expect(throws: ChronoLogError.malformedMessage(.invalidValue(field: "connect.mode", value: 9))) { try ControlMessage.decode(mode) }
        var rc = ControlMessage.reply(GenericReply(rc: .success)).encode()
        rc[16] = 77
        #expect(throws: ChronoLogError.self) { try ControlMessage.decode(rc) }
        var flag = ControlMessage.shutdown(ShutdownRequest(drain: true, deadlineMilliseconds: 1)).encode()
        flag[16] = 2
        #expect(throws: ChronoLogError.malformedMessage(.invalidValue(field: "shutdown.drain", value: 2))) { try ControlMessage.decode(flag) }
        // Invalid UTF-8.
        var utf8 = ControlMessage.destroyChronicle(ChronicleRequest(clientId: ClientID(1), chronicle: "ab")).encode()
        utf8[utf8.count - 1] = 0xFF
        #expect(throws: ChronoLogError.malformedMessage(.invalidUTF8(field: "chronicle"))) { try ControlMessage.decode(utf8) }
    }

    @Test func rawMemoryDecode() throws {
        var rng = SplitMix(seed: 4)
        let chunk = Random.chunk(&rng)
        let bytes = chunk.encode()
        let decoded = try bytes.withUnsafeBytes { raw in try StoryChunk.decode(raw: raw) }
        #expect(decoded == chunk)
    }
}
