import Testing
@testable import ChronoModel

@Suite struct EventBatchBuilderTests {
    let story = StoryID(rawValue: 9)
    let client = ClientID(4)

    func builder(maxEvents: Int = 4, maxBytes: Int = 100, linger: UInt64 = 1000, first: UInt32 = 0) -> EventBatchBuilder {
        EventBatchBuilder(storyId: story, clientId: client, firstIndex: first, maxEvents: maxEvents, maxBytes: maxBytes,
                          maxEventBytes: 16, lingerNanoseconds: linger)
    }

    @Test func assignsDenseIndexesAndNeverGoesBackInTime() throws {
        var b = builder()
        #expect(try b.append(time: 10, text: "a") == EventKey(time: 10, clientId: client, index: 0))
        #expect(try b.append(time: 5, text: "b") == EventKey(time: 10, clientId: client, index: 1))  // clamped
        #expect(try b.append(time: 12, record: [1, 2]) == EventKey(time: 12, clientId: client, index: 2))
        let batch = b.makeBatch(watermark: 11)
        #expect(batch.firstIndex == 0)
        #expect(batch.watermark == 12)  // raised to the last time handed out
        #expect(batch.events.map(\.index) == [0, 1, 2])
        #expect(batch.events.map(\.time) == [10, 10, 12])
        #expect(batch.events[2].record == [1, 2])
        #expect(b.isEmpty)
        #expect(try b.append(time: 20, text: "c").index == 3)
        #expect(b.makeBatch(watermark: 0).firstIndex == 3)
    }

    @Test func refusesOversizedEvents() {
        var b = builder()
        #expect(throws: ChronoLogError.self) { try b.append(time: 1, record: [UInt8](repeating: 0, count: 17)) }
        #expect(b.isEmpty)
        #expect(b.nextIndex == 0)  // no index consumed
    }

    @Test func fullAndLinger() throws {
        var b = builder(maxEvents: 3, maxBytes: 10, linger: 500)
        #expect(!b.isDue(now: 0))
        _ = try b.append(time: 1000, text: "abc")
        #expect(!b.isFull)
        #expect(!b.isDue(now: 1499))
        #expect(b.isDue(now: 1500))
        _ = try b.append(time: 1001, text: "defghij")  // 10 bytes now
        #expect(b.isFull)
        #expect(b.isDue(now: 1001))
        var c = builder(maxEvents: 2, maxBytes: 1000)
        _ = try c.append(time: 1, text: "")
        _ = try c.append(time: 1, text: "")
        #expect(c.isFull)
        let clock = ManualClock(start: 1)
        #expect(c.isDue(now: clock.now()))
    }

    @Test func encodedMessageEqualsTheBatch() throws {
        var a = builder(first: 77)
        var b = builder(first: 77)
        for i in 0..<3 {
            _ = try a.append(time: UInt64(i), text: "event \(i)")
            _ = try b.append(time: UInt64(i), text: "event \(i)")
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        a.encodeMessage(watermark: 9, into: &buffer)
        let batch = b.makeBatch(watermark: 9)
        #expect(try ControlMessage.decode(buffer) == .eventBatch(batch))
        #expect(buffer == ControlMessage.eventBatch(batch).encode())
        // The buffer is reused: a second batch is appended after the first.
        _ = try a.append(time: 5, text: "x")
        let before = buffer.count
        a.encodeMessage(watermark: 9, into: &buffer)
        let second = try ControlMessage.decode(buffer[before...])
        guard case let .eventBatch(s) = second else { Issue.record("not a batch"); return }
        #expect(s.firstIndex == 80 && s.events.map(\.recordText) == ["x"])
    }

    @Test("a batch encoded into raw memory (a send's own) is byte for byte the message of the batch it holds, empty batches and watermarks below the last event included")
    func rawEncodingEqualsTheMessage() throws {
        for (events, watermark) in [(0, UInt64(3)), (1, 0), (5, 2), (200, 1_000_000)] {
            var a = builder(maxEvents: 1000, maxBytes: 1 << 20, first: 11), b = builder(maxEvents: 1000, maxBytes: 1 << 20, first: 11)
            for i in 0..<events {
                let text = String(repeating: "e", count: i % 10) + "\(i)"
                _ = try a.append(time: UInt64(10 * i + 1), text: text)
                _ = try b.append(time: UInt64(10 * i + 1), text: text)
            }
            // The message encoder every other message goes through (header and batch body writers).
            let expected = ControlMessage.eventBatch(a.makeBatch(watermark: watermark)).encode()
            let size = b.encodedMessageByteCount
            #expect(size == expected.count)
            // One byte more than needed, poisoned: the encoding writes exactly its frame.
            var raw = [UInt8](repeating: 0xEE, count: size + 1)
            raw.withUnsafeMutableBytes { b.encodeMessage(watermark: watermark, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<size])) }
            #expect(Array(raw[0..<size]) == expected, "\(events) events")
            #expect(raw[size] == 0xEE)
            #expect(b.isEmpty && b.encodedMessageByteCount == MessageHeader.byteCount + 40, "the builder is emptied")
        }
    }

    @Test("a batch taken as its frame is the message of the batch it holds, built where its events were appended; the builder goes on in the replacement's storage")
    func frameIsTheMessageWithoutACopy() throws {
        var a = builder(maxEvents: 1000, maxBytes: 1 << 20, first: 11), b = builder(maxEvents: 1000, maxBytes: 1 << 20, first: 11)
        var replacement: [UInt8]? = [UInt8]()
        replacement?.reserveCapacity(a.frameCapacity)
        let replacementAddress = replacement?.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        for (round, (events, watermark)) in [(5, UInt64(2)), (0, 3), (200, 1_000_000)].enumerated() {
            for i in 0..<events {
                let text = String(repeating: "e", count: i % 10) + "\(round).\(i)"
                _ = try a.append(time: UInt64(10 * i + 1), text: text)
                _ = try b.append(time: UInt64(10 * i + 1), text: text)
            }
            let expected = ControlMessage.eventBatch(b.makeBatch(watermark: watermark)).encode()
            var next = [UInt8]()
            next.reserveCapacity(a.frameCapacity)
            // Moved in, as a pool lends it: the builder's is then the only reference.
            let frame = a.takeFrame(watermark: watermark, replacement: round == 0 ? replacement.take()! : next)
            #expect(frame == expected, "round \(round)")
            #expect(a.isEmpty && a.payloadByteCount == 0 && a.encodedMessageByteCount == EventBatchBuilder.frameHeaderBytes)
            if round == 1 {
                // The second batch was built in the first replacement, and leaves in it.
                #expect(frame.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == replacementAddress)
            }
        }
    }

    @Test func emptyBatchIsAWatermarkUpdate() throws {
        var b = builder()
        let batch = b.makeBatch(watermark: 500)
        #expect(batch.isEmpty && batch.watermark == 500)
        #expect(try ControlMessage.decode(ControlMessage.eventBatch(batch).encode()) == .eventBatch(batch))
    }

    @Test func configSizesTheBuilder() {
        var config = ChronoConfig()
        config.client.batchEvents = 7
        config.client.lingerMicroseconds = 3
        let b = EventBatchBuilder(storyId: story, clientId: client, config: config)
        #expect(b.maxEvents == 7 && b.lingerNanoseconds == 3000 && b.maxEventBytes == 65536)
    }

    @Test func batchInitChecksDensityAndClient() {
        #expect(throws: ChronoLogError.self) {
            _ = try EventBatch(storyId: story, clientId: client, watermark: 0, events: [
                Event(time: 1, clientId: client, index: 0, record: []), Event(time: 1, clientId: client, index: 2, record: []),
            ])
        }
        #expect(throws: ChronoLogError.self) {
            _ = try EventBatch(storyId: story, clientId: client, watermark: 0, events: [Event(time: 1, clientId: ClientID(5), index: 0, record: [])])
        }
    }
}
