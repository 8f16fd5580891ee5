import ChronoModel
import Foundation
import Testing

/// chronolog.h's return-code constants are the one Swift table (`ReturnCode`), name for name.
@Suite("chronolog.h return codes")
struct HeaderCodeTableTests {
    static let header = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/CChronoLog/include/chronolog.h")

    /// Every `#define CL_… (value)` of the header.
    static func constants() throws -> [(name: String, value: Int32)] {
        let text = try String(contentsOf: header, encoding: .utf8)
        return text.matches(of: #/#define\s+(CL_[A-Z_]+)\s+\((-?\d+)\)/#).compactMap { m in
            Int32(m.output.2).map { (String(m.output.1), $0) }
        }
    }

    @Test("every header constant equals the Swift table's code of that name, and no two are equal")
    func headerMatchesTable() throws {
        let constants = try Self.constants()
        let table = Dictionary(uniqueKeysWithValues: ReturnCode.allCases.map { ($0.name, $0.rawValue) })
        #expect(constants.count == ReturnCode.allCases.count, "header: \(constants)")
        for (name, value) in constants {
            #expect(table[name] == value, "\(name) is \(value) in chronolog.h, \(table[name].map(String.init) ?? "absent") in ReturnCode")
        }
        #expect(Set(constants.map(\.value)).count == constants.count, "duplicate values: \(constants)")
        #expect(Set(constants.map(\.name)) == Set(table.keys), "names differ: \(constants.map(\.name)) vs \(table.keys.sorted())")
    }

    @Test("every public function of the header is documented")
    func everyFunctionDocumented() throws {
        let text = try String(contentsOf: Self.header, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var undocumented: [String] = []
        for (i, line) in lines.enumerated() where line.range(of: #"^(int|uint64_t|const char \*) chronolog_\w+\("#, options: .regularExpression) != nil {
            var j = i - 1
            while j >= 0 && lines[j].trimmingCharacters(in: .whitespaces).isEmpty { j -= 1 }
            if j < 0 || !lines[j].trimmingCharacters(in: .whitespaces).hasSuffix("*/") { undocumented.append(line) }
        }
        #expect(undocumented.isEmpty, "\(undocumented)")
    }
}
