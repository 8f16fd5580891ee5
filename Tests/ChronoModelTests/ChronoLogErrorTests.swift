import Testing
@testable import ChronoModel

@Suite struct ChronoLogErrorTests {
    /// One value of every case (the switch in `sample` is exhaustive over a mirror of the cases).
    static let everyCase: [ChronoLogError] = [
        .unknown("x"), .invalidArgument("x"),
        .invalidName(kind: .chronicle, name: "", violation: .empty),
        .invalidConfiguration(ConfigError(key: "k", problem: .unknownKey)),
        .malformedMessage(.trailingBytes(count: 1)), .eventRejected("x"),
        .chronicleNotFound("c"), .storyNotFound(chronicle: "c", story: "s"),
        .storyAcquired(chronicle: "c", story: "s"), .storyNotAcquired(chronicle: "c", story: "s"),
        .chronicleExists("c"), .noKeepers, .noConnection("x"), .notAuthorized("x"), .noPlayers, .notReaderMode,
        .queryTimedOut(queryId: 1), .protocolVersionMismatch(expected: 1, got: 2), .partialResult("x"),
    ]

    @Test func codesMatchChronoLog() {
        let expected: [(ReturnCode, Int32, String)] = [
            (.success, 0, "CL_SUCCESS"), (.unknown, -1, "CL_ERR_UNKNOWN"), (.invalidArgument, -2, "CL_ERR_INVALID_ARG"),
            (.notExist, -3, "CL_ERR_NOT_EXIST"), (.acquired, -4, "CL_ERR_ACQUIRED"), (.notAcquired, -5, "CL_ERR_NOT_ACQUIRED"),
            (.chronicleExists, -6, "CL_ERR_CHRONICLE_EXISTS"), (.noKeepers, -7, "CL_ERR_NO_KEEPERS"),
            (.noConnection, -8, "CL_ERR_NO_CONNECTION"), (.notAuthorized, -9, "CL_ERR_NOT_AUTHORIZED"),
            (.noPlayers, -10, "CL_ERR_NO_PLAYERS"), (.notReaderMode, -11, "CL_ERR_NOT_READER_MODE"),
            (.queryTimedOut, -12, "CL_ERR_QUERY_TIMED_OUT"), (.protocolVersionMismatch, -13, "CL_ERR_PROTOCOL_VERSION_MISMATCH"),
            (.partialResult, -18, "CL_ERR_PARTIAL_RESULT"),
        ]
        #expect(ReturnCode.allCases.count == expected.count)
        for (code, value, name) in expected {
            #expect(code.rawValue == value)
            #expect(code.name == name)
            #expect(ReturnCode(code: value) == code)
        }
        #expect(Set(ReturnCode.allCases.map(\.rawValue)).count == ReturnCode.allCases.count)
        #expect(Set(ReturnCode.allCases.map(\.name)).count == ReturnCode.allCases.count)
        #expect(ReturnCode(code: -99) == .unknown)
    }

    @Test func everyErrorMapsToADocumentedFailureCode() {
        var reached = Set<ReturnCode>()
        for error in Self.everyCase {
            let code = error.returnCode
            #expect(code != .success)
            #expect(ReturnCode.allCases.contains(code))
            #expect(error.description.hasPrefix(code.name))
            reached.insert(code)
        }
        // Every failure code is produced by at least one error case.
        #expect(reached == Set(ReturnCode.allCases).subtracting([.success]))
    }

    @Test func specificMappings() {
        #expect(ChronoLogError.chronicleExists("c").returnCode.rawValue == -6)
        #expect(ChronoLogError.invalidName(kind: .story, name: "/", violation: .forbiddenCharacter("/")).returnCode.rawValue == -2)
        #expect(ChronoLogError.storyAcquired(chronicle: "c", story: "s").returnCode.rawValue == -4)
        #expect(ChronoLogError.queryTimedOut(queryId: 3).returnCode.rawValue == -12)
        #expect(ChronoLogError.protocolVersionMismatch(expected: 1, got: 9).returnCode.rawValue == -13)
        #expect(ChronoLogError.partialResult("1 damaged row").returnCode.rawValue == -18)
    }

    @Test func codeRoundTripThroughReplies() {
        for code in ReturnCode.allCases {
            let error = ChronoLogError(code: code, detail: "d")
            if code == .success {
                #expect(error == nil)
            } else {
                #expect(error?.returnCode == code)
                #expect(GenericReply(rc: code, detail: "d").error?.returnCode == code)
            }
        }
        #expect(GenericReply(.noPlayers).rc == .noPlayers)
    }

    @Test func repliesRebuildTheErrorWithoutNestingIt() {
        for error in Self.everyCase {
            guard let rebuilt = GenericReply(error).error else { Issue.record("\(error) came back as success"); continue }
            #expect(rebuilt.returnCode == error.returnCode)
            // The code name once: the rebuilt error does not carry the whole original inside it.
            #expect(rebuilt.description.components(separatedBy: error.returnCode.name).count == 2, "\(rebuilt)")
        }
        let named: [ChronoLogError] = [
            .storyAcquired(chronicle: "C1", story: "s1"), .storyNotAcquired(chronicle: "Ü", story: "a b"),
            .storyNotFound(chronicle: "c", story: "s"), .chronicleNotFound("c"), .chronicleExists("c"),
            .queryTimedOut(queryId: 7), .noConnection("gone"), .unknown("x"), .noKeepers,
        ]
        for error in named { #expect(GenericReply(error).error == error) }
        #expect(GenericReply(.storyAcquired(chronicle: "C1", story: "s1")).error?.description
            == #"CL_ERR_ACQUIRED: story "s1" of "C1" is acquired"#)
        #expect(GenericReply(.eventRejected("too big")).error?.description == "CL_ERR_INVALID_ARG: event rejected: too big")
    }
}

