import Testing
@testable import ChronoModel

@Suite struct NameRulesTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let violation: NameViolation?
        var description: String { name.debugDescription.prefix(40) + "" }
    }

    static let cases: [Case] = [
        Case(name: "", violation: .empty),
        Case(name: "a", violation: nil),
        Case(name: "my-chronicle_1.v2", violation: nil),
        Case(name: "a/b", violation: .forbiddenCharacter("/")),
        Case(name: "/", violation: .forbiddenCharacter("/")),
        Case(name: "../etc", violation: .forbiddenCharacter("/")),
        Case(name: "..", violation: .dotName),
        Case(name: ".", violation: .dotName),
        Case(name: "a..b", violation: nil),
        Case(name: "...", violation: nil),
        Case(name: ".hidden", violation: nil),
        Case(name: "a\\b", violation: .forbiddenCharacter("\\")),
        Case(name: "a\u{0}b", violation: .forbiddenCharacter("\u{0}")),
        Case(name: "line\nbreak", violation: .forbiddenCharacter("\n")),
        Case(name: "tab\there", violation: .forbiddenCharacter("\t")),
        Case(name: "del\u{7F}", violation: .forbiddenCharacter("\u{7F}")),
        Case(name: "c1\u{85}", violation: .forbiddenCharacter("\u{85}")),
        Case(name: "sep\u{2028}x", violation: .forbiddenCharacter("\u{2028}")),
        Case(name: " lead", violation: .surroundingWhitespace),
        Case(name: "trail ", violation: .surroundingWhitespace),
        Case(name: "inner space", violation: nil),
        Case(name: "🙂", violation: nil),
        Case(name: "👨‍👩‍👧 family", violation: nil),
        Case(name: "日本語の物語", violation: nil),
        Case(name: String(repeating: "x", count: 255), violation: nil),
        Case(name: String(repeating: "x", count: 256), violation: .tooLong(utf8Bytes: 256)),
        Case(name: String(repeating: "🙂", count: 63), violation: nil),  // 252 bytes
        Case(name: String(repeating: "🙂", count: 64), violation: .tooLong(utf8Bytes: 256)),
        Case(name: String(repeating: "y", count: 10_240), violation: .tooLong(utf8Bytes: 10_240)),
    ]

    @Test(arguments: cases)
    func table(_ c: Case) throws {
        #expect(NameRules.violation(in: c.name) == c.violation)
        if let violation = c.violation {
            #expect(throws: ChronoLogError.invalidName(kind: .chronicle, name: String(c.name.prefix(64)), violation: violation)) {
                _ = try ChronicleName(c.name)
            }
            #expect(throws: ChronoLogError.self) { _ = try StoryName(c.name) }
        } else {
            #expect(try ChronicleName(c.name).value == c.name)
            #expect(try StoryName(c.name).value == c.name)
        }
    }

    @Test func invalidNameIsInvalidArgumentCode() {
        do {
            _ = try StoryName("a/b")
            Issue.record("accepted a/b")
        } catch {
            #expect(error.returnCode == .invalidArgument)
        }
    }

    @Test func namesCompareByBytesNotByCanonicalEquivalence() throws {
        let composed = try ChronicleName("caf\u{E9}")
        let decomposed = try ChronicleName("cafe\u{301}")
        #expect("caf\u{E9}" == "cafe\u{301}")  // Swift's String equality…
        #expect(composed != decomposed)  // …is not ours: the bytes (and so the ids) differ.
        #expect(composed.id != decomposed.id)
        #expect(Set([composed, decomposed]).count == 2)
    }

    @Test(arguments: ["a", "..x", "🙂", "x y", String(repeating: "z", count: 255), "-._~%", "A_b-9"])
    func pathComponentsStayInsideTheArchive(_ raw: String) throws {
        let chronicle = try ChronicleName(raw)
        let story = try StoryName(raw)
        for component in [chronicle.pathComponent, story.pathComponent(in: chronicle)] {
            #expect(!component.contains("/"))
            #expect(!component.contains("\\"))
            #expect(!component.hasPrefix("."))
            #expect(component.utf8.count <= 65)
            #expect(component.utf8.allSatisfy { $0 < 0x80 })
        }
        #expect(chronicle.pathComponent.hasSuffix("-" + StableHash.hex(chronicle.id.rawValue)))
    }
}
