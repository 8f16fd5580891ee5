import ChronoModel
import Testing

/// One role type for the layout, the messages and the summary.
@Suite struct RoleTests {
    @Test("recording roles keep their wire codes (keeper 1, grapher 2, player 3); visor and client have none")
    func codes() {
        #expect(Role.recording.map(\.recordingCode) == [1, 2, 3])
        #expect(Role.visor.recordingCode == nil && Role.client.recordingCode == nil)
        for code in UInt8.min...UInt8.max {
            #expect(Role(recordingCode: code)?.recordingCode == ((1...3).contains(code) ? code : nil))
        }
        #expect(Role.allCases.filter(\.isRecording) == Role.recording)
        #expect(Role.allCases.map(\.description) == ["visor", "keeper", "grapher", "player", "client"])
    }

    @Test("a registration or heartbeat naming the visor or a client is refused as malformed", arguments: [Role.visor, .client])
    func notARecordingRole(role: Role) {
        let messages: [ControlMessage] = [.register(Registration(role: role, groupId: 0, rank: 1, hostName: "h")),
                                          .heartbeat(Heartbeat(role: role, groupId: 0, rank: 1, sentAt: 0))]
        for m in messages {
            #expect(throws: ChronoLogError.self) { try ControlMessage.decode(m.encode()) }
        }
    }
}
