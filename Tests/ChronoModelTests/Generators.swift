import PropertyBased
@testable import ChronoModel

/// Random values for property tests. Small domains on purpose, so equal keys and duplicates happen often.
enum Random {
    static func bytes<R: RandomNumberGenerator>(_ rng: inout R, maxCount: Int = 40) -> [UInt8] {
        let n = Int.random(in: 0...maxCount, using: &rng)
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func string<R: RandomNumberGenerator>(_ rng: inout R, maxCount: Int = 12) -> String {
        let pool: [String] = ["a", "Z", "0", " ", "é", "🙂", "中", "/", "\u{0}", "\n", "x", "👨‍👩‍👧"]
        let n = Int.random(in: 0...maxCount, using: &rng)
        return (0..<n).map { _ in pool[Int.random(in: 0..<pool.count, using: &rng)] }.joined()
    }

    static func event<R: RandomNumberGenerator>(_ rng: inout R, times: ClosedRange<UInt64> = 0...7,
                                                clients: ClosedRange<UInt64> = 1...3) -> Event {
        Event(time: UInt64.random(in: times, using: &rng), clientId: ClientID(UInt64.random(in: clients, using: &rng)),
              index: UInt32.random(in: 0...3, using: &rng), record: bytes(&rng, maxCount: 6))
    }

    /// A chunk of story 42 over [0, 100) with up to `maxEvents` events whose records are mostly a function
    /// of the key (so two copies of one key are identical, as retransmissions are) and sometimes random.
    static func chunk<R: RandomNumberGenerator>(_ rng: inout R, maxEvents: Int = 30, range: TimeRange = TimeRange(start: 0, end: 100),
                                                revision: UInt32 = 0) -> StoryChunk {
        let n = Int.random(in: 0...maxEvents, using: &rng)
        let events = (0..<n).map { _ in
            var e = keyedEvent(time: UInt64.random(in: range.start..<min(range.end, range.start + 20), using: &rng),
                               client: UInt64.random(in: 1...3, using: &rng), index: UInt32.random(in: 0...5, using: &rng))
            // Now and then a conflicting copy: same key, other bytes.
            if Int.random(in: 0..<5, using: &rng) == 0 { e.record = bytes(&rng, maxCount: 4) }
            return e
        }
        return (try? StoryChunk(storyId: StoryID(rawValue: 42), range: range, revision: revision, events: events))
            ?? .empty(storyId: StoryID(rawValue: 42), range: range)
    }

    static func keyedEvent(time: UInt64, client: UInt64, index: UInt32) -> Event {
        let length = Int((time &+ client &* 7 &+ UInt64(index) &* 13) % 9)
        return Event(time: time, clientId: ClientID(client), index: index,
                     record: (0..<length).map { UInt8(truncatingIfNeeded: Int(time) &+ $0 &* Int(client) &+ Int(index)) })
    }

    static func rc<R: RandomNumberGenerator>(_ rng: inout R) -> ReturnCode {
        ReturnCode.allCases[Int.random(in: 0..<ReturnCode.allCases.count, using: &rng)]
    }

    static func attributes<R: RandomNumberGenerator>(_ rng: inout R) -> [String: String] {
        var map: [String: String] = [:]
        for _ in 0..<Int.random(in: 0...4, using: &rng) { map[string(&rng)] = string(&rng) }
        return map
    }

    static func u64<R: RandomNumberGenerator>(_ rng: inout R) -> UInt64 {
        Bool.random(using: &rng) ? UInt64.random(in: 0...10, using: &rng) : UInt64.random(in: 0...UInt64.max, using: &rng)
    }

    /// A replay piece's descriptor: payload segments or none, and with segments sometimes the
    /// archive file they lie in.
    static func remotePiece<R: RandomNumberGenerator>(_ rng: inout R) -> RemotePiece {
        var piece = RemotePiece(address: u64(&rng), key: u64(&rng), length: u64(&rng),
                                eventCount: u64(&rng), playerAddress: Array(string(&rng).utf8),
                                payloadSegments: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                                    RemoteSegment(address: u64(&rng), key: u64(&rng), length: u64(&rng))
                                })
        if !piece.payloadSegments.isEmpty, Bool.random(using: &rng) {
            piece.payloadFile = RemoteFile(bootId: Array(string(&rng).utf8), path: string(&rng),
                                           identity: .init(device: u64(&rng), inode: u64(&rng)),
                                           offsets: piece.payloadSegments.map { _ in u64(&rng) })
        }
        return piece
    }

    static func i32<R: RandomNumberGenerator>(_ rng: inout R) -> Int32 { Int32.random(in: -5...Int32.max, using: &rng) }

    static func batch<R: RandomNumberGenerator>(_ rng: inout R) -> EventBatch {
        let client = ClientID(UInt64.random(in: 1...1000, using: &rng))
        let first = UInt32.random(in: 0...1_000_000, using: &rng)
        let n = Int.random(in: 0...20, using: &rng)
        let events = (0..<n).map { i in
            Event(time: u64(&rng), clientId: client, index: first + UInt32(i), record: bytes(&rng))
        }
        return (try? EventBatch(storyId: StoryID(rawValue: u64(&rng)), clientId: client, watermark: u64(&rng), events: events))
            ?? EventBatch(unchecked: StoryID(rawValue: 1), clientId: client, firstIndex: 0, watermark: 0, records: [], payload: [])
    }

    /// A random message of the given type; the switch is exhaustive, so every type is covered.
    static func message<R: RandomNumberGenerator>(_ type: MessageType, _ rng: inout R) -> ControlMessage {
        switch type {
        case .connect:
            return .connect(ConnectRequest(protocolVersion: UInt16.random(in: 0...3, using: &rng), hostName: string(&rng),
                                           pid: UInt32.random(in: 0...UInt32.max, using: &rng), rank: i32(&rng),
                                           user: string(&rng), mode: Bool.random(using: &rng) ? .writer : .writerReader))
        case .connectReply:
            return .connectReply(ConnectReply(rc: rc(&rng), clientId: ClientID(u64(&rng)), visorTime: u64(&rng), detail: string(&rng),
                                              visorHostBoot: bytes(&rng)))
        case .clockPing:
            return .clockPing(ClockPing(sequence: UInt32.random(in: 0...9, using: &rng), clientSendTime: u64(&rng)))
        case .clockPong:
            return .clockPong(ClockPong(sequence: UInt32.random(in: 0...9, using: &rng), clientSendTime: u64(&rng), visorTime: u64(&rng)))
        case .disconnect:
            return .disconnect(clientId: ClientID(u64(&rng)))
        case .createChronicle:
            return .createChronicle(CreateChronicleRequest(clientId: ClientID(u64(&rng)), chronicle: string(&rng),
                                                           attributes: attributes(&rng), flags: UInt32.random(in: 0...7, using: &rng)))
        case .destroyChronicle:
            return .destroyChronicle(ChronicleRequest(clientId: ClientID(u64(&rng)), chronicle: string(&rng)))
        case .acquireStory:
            return .acquireStory(StoryRequest(clientId: ClientID(u64(&rng)), chronicle: string(&rng), story: string(&rng),
                                              attributes: attributes(&rng), flags: UInt32.random(in: 0...7, using: &rng)))
        case .releaseStory:
            return .releaseStory(StoryRequest(clientId: ClientID(u64(&rng)), chronicle: string(&rng), story: string(&rng),
                                              eventCount: u64(&rng)))
        case .destroyStory:
            return .destroyStory(StoryRequest(clientId: ClientID(u64(&rng)), chronicle: string(&rng), story: string(&rng)))
        case .showChronicles:
            return .showChronicles(clientId: ClientID(u64(&rng)))
        case .showStories:
            return .showStories(ChronicleRequest(clientId: ClientID(u64(&rng)), chronicle: string(&rng)))
        case .readRoute:
            return .readRoute(StoryRequest(clientId: ClientID(u64(&rng)), chronicle: string(&rng), story: string(&rng)))
        case .reply:
            return .reply(GenericReply(rc: rc(&rng), detail: string(&rng, maxCount: 40)))
        case .nameList:
            return .nameList(NameListReply(rc: rc(&rng), names: (0..<Int.random(in: 0...5, using: &rng)).map { _ in string(&rng) }))
        case .acquireReply:
            return .acquireReply(AcquireReply(rc: rc(&rng), storyId: StoryID(rawValue: u64(&rng)),
                                              groupId: UInt32.random(in: 0...9, using: &rng),
                                              keeperRanks: (0..<Int.random(in: 0...4, using: &rng)).map { _ in i32(&rng) },
                                              grapherRank: i32(&rng), playerRank: i32(&rng), detail: string(&rng)))
        case .register:
            return .register(Registration(role: Role.recording.randomElement(using: &rng) ?? .keeper,
                                          groupId: UInt32.random(in: 0...9, using: &rng), rank: i32(&rng), hostName: string(&rng)))
        case .heartbeat:
            var counters: Counters = [:]
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let name = string(&rng)
                counters[Counter(name, name.utf8.count % 2 == 0 ? .sum : .max)] = u64(&rng)
            }
            return .heartbeat(Heartbeat(role: Role.recording.randomElement(using: &rng) ?? .grapher,
                                        groupId: UInt32.random(in: 0...9, using: &rng), rank: i32(&rng), sentAt: u64(&rng),
                                        counters: counters))
        case .startRecording:
            return .startRecording(RecordingNotice(storyId: StoryID(rawValue: u64(&rng)), chronicle: string(&rng),
                                                   story: string(&rng), groupId: UInt32.random(in: 0...9, using: &rng),
                                                   ticket: u64(&rng), holder: ClientID(u64(&rng)), holderRank: i32(&rng),
                                                   holderKeeper: i32(&rng)))
        case .stopRecording:
            return .stopRecording(RecordingNotice(storyId: StoryID(rawValue: u64(&rng)), chronicle: string(&rng),
                                                  story: string(&rng), groupId: UInt32.random(in: 0...9, using: &rng), ticket: u64(&rng)))
        case .recordingAck:
            return .recordingAck(RecordingAck(storyId: StoryID(rawValue: u64(&rng)), rank: i32(&rng), rc: rc(&rng), ticket: u64(&rng)))
        case .holder:
            return .holder(HolderNotice(ticket: u64(&rng), storyId: StoryID(rawValue: u64(&rng)), clientId: ClientID(u64(&rng)),
                                        clientRank: i32(&rng), holds: Bool.random(using: &rng), writerKeeper: i32(&rng)))
        case .readGrant:
            return .readGrant(ReadGrant(ticket: u64(&rng), storyId: StoryID(rawValue: u64(&rng)), clientId: ClientID(u64(&rng)),
                                        clientRank: i32(&rng)))
        case .readRevoke:
            return .readRevoke(ReadGrant(ticket: u64(&rng), storyId: StoryID(rawValue: u64(&rng)), clientId: ClientID(u64(&rng)),
                                         clientRank: i32(&rng)))
        case .eventBatch:
            return .eventBatch(batch(&rng))
        case .chunkDescriptor:
            return .chunkDescriptor(ChunkDescriptor(storyId: StoryID(rawValue: u64(&rng)), keeperRank: i32(&rng), sequence: u64(&rng),
                                                    range: TimeRange(start: u64(&rng), end: u64(&rng)),
                                                    revision: UInt32.random(in: 0...3, using: &rng), watermark: u64(&rng),
                                                    records: (u64(&rng), u64(&rng)), payload: (u64(&rng), u64(&rng)),
                                                    payloadBytes: u64(&rng), payloadBase: u64(&rng), eventCount: u64(&rng)))
        case .batchAck:
            return .batchAck(BatchAck(storyId: StoryID(rawValue: u64(&rng)), clientId: ClientID(rawValue: u64(&rng)),
                                      firstIndex: UInt32(truncatingIfNeeded: u64(&rng)), count: UInt32(truncatingIfNeeded: u64(&rng)),
                                      rejected: UInt32(truncatingIfNeeded: u64(&rng)), rc: rc(&rng)))
        case .watermarks:
            return .watermarks(WatermarkSet(contributor: u64(&rng), entries: (0..<Int.random(in: 0...5, using: &rng)).map { _ in
                WatermarkSet.Entry(storyId: StoryID(rawValue: u64(&rng)), watermark: u64(&rng), recording: u64(&rng))
            }))
        case .durableRequest:
            return .durableRequest(DurableRequest(storyId: StoryID(rawValue: u64(&rng)), clientId: ClientID(rawValue: u64(&rng)),
                                                  sequence: u64(&rng), watermark: u64(&rng)))
        case .durableReply:
            return .durableReply(DurableReply(storyId: StoryID(rawValue: u64(&rng)), clientId: ClientID(rawValue: u64(&rng)),
                                              sequence: u64(&rng), durableEvents: u64(&rng), failedEvents: u64(&rng), rc: rc(&rng)))
        case .chunkAck:
            return .chunkAck(ChunkAck(storyId: StoryID(rawValue: u64(&rng)), sequence: u64(&rng), rc: rc(&rng), detail: string(&rng),
                                      received: Bool.random(using: &rng)))
        case .storyChunk:
            return .storyChunk(chunk(&rng, revision: UInt32.random(in: 0...2, using: &rng)))
        case .replayRequest:
            return .replayRequest(ReplayRequest(queryId: u64(&rng), clientId: ClientID(u64(&rng)), chronicle: string(&rng),
                                                story: string(&rng), range: TimeRange(start: u64(&rng), end: u64(&rng)),
                                                timeoutMilliseconds: u64(&rng), clientRank: i32(&rng),
                                                keeperRanks: (0..<Int.random(in: 0...3, using: &rng)).map { _ in i32(&rng) },
                                                storyKnown: Bool.random(using: &rng),
                                                readerAddress: Array(string(&rng).utf8),
                                                hidden: (0..<Int.random(in: 0...2, using: &rng)).map { _ in
                                                    .init(client: u64(&rng), below: u64(&rng))
                                                },
                                                lastCount: UInt32(truncatingIfNeeded: u64(&rng)), belowKeepers: Bool.random(using: &rng),
                                                earlierWriters: (0..<Int.random(in: 0...2, using: &rng)).map { _ in
                                                    .init(client: u64(&rng), first: u64(&rng),
                                                          count: Bool.random(using: &rng) ? nil : UInt64.random(in: 0..<UInt64.max, using: &rng))
                                                },
                                                readerOnPlayerNode: Bool.random(using: &rng)))
        case .replayPiece:
            return .replayPiece(ReplayPiece(queryId: u64(&rng), rc: rc(&rng), pieceNumber: UInt32.random(in: 0...9, using: &rng),
                                            isLast: Bool.random(using: &rng),
                                            chunk: Bool.random(using: &rng) ? chunk(&rng) : nil,
                                            completeBefore: u64(&rng), recording: Bool.random(using: &rng), detail: string(&rng),
                                            remote: Bool.random(using: &rng) ? remotePiece(&rng) : nil,
                                            coveredFrom: u64(&rng)))
        case .replayAck:
            return .replayAck(ReplayAck(queryId: u64(&rng), pieceNumber: UInt32(truncatingIfNeeded: u64(&rng)),
                                        cancel: Bool.random(using: &rng)))
        case .archiveLease:
            return .archiveLease(ArchiveLease(leaseId: u64(&rng), action: ArchiveLease.Action.allCases.randomElement(using: &rng)!))
        case .shutdown:
            return .shutdown(ShutdownRequest(drain: Bool.random(using: &rng), deadlineMilliseconds: u64(&rng), reason: string(&rng)))
        case .shutdownComplete:
            return .shutdownComplete(ShutdownComplete(rank: i32(&rng), rc: rc(&rng), undrainedEvents: u64(&rng)))
        }
    }
}

/// Property-test generators built on ``Random``.
enum Gens {
    static let event = Generator<Event, Shrink.None<Event>> { rng in Random.event(&rng) }
    static let chunk = Generator<StoryChunk, Shrink.None<StoryChunk>> { rng in Random.chunk(&rng) }
    static let message = Generator<ControlMessage, Shrink.None<ControlMessage>> { rng in
        let type = MessageType.allCases[Int.random(in: 0..<MessageType.allCases.count, using: &rng)]
        return Random.message(type, &rng)
    }
    static let events = Generator<[Event], Shrink.None<[Event]>> { rng in
        (0..<Int.random(in: 0...40, using: &rng)).map { _ in Random.event(&rng) }
    }
}

/// Deterministic generator for loops that are not property checks (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
