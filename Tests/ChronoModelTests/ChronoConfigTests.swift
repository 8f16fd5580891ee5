import Foundation
import Testing
@testable import ChronoModel

@Suite struct ChronoConfigTests {
    @Test func defaults() throws {
        let c = ChronoConfig()
        try c.validate()
        #expect(c.deployment.keepersPerNode == 1 && c.deployment.graphersPerNode == 1 && c.deployment.playersPerNode == 1)
        #expect(c.deployment.virtualNodes == 0)
        #expect(c.fabric.provider == "shm")
        #expect(c.story.maxEventBytes == 65536)
        #expect(c.story.latePolicy == .revise)
        #expect(try ChronoConfig.load() == c)
        #expect(try ChronoConfig.parse(json: "{}") == c)
    }

    struct Valid: Sendable, CustomStringConvertible {
        let json: String
        let check: @Sendable (ChronoConfig) -> Bool
        var description: String { json }
    }

    static let valid: [Valid] = [
        Valid(json: #"{"deployment": {"keepersPerNode": 3}}"#) { $0.deployment.keepersPerNode == 3 },
        Valid(json: #"{"fabric": {"provider": "tcp;ofi_rxm"}, "log": {"level": "debug"}}"#) {
            $0.fabric.provider == "tcp;ofi_rxm" && $0.log.level == "debug"
        },
        Valid(json: #"{"story": {"latePolicy": "reject", "chunkDurationMs": 250}}"#) {
            $0.story.latePolicy == .reject && $0.chunkDurationNanoseconds == 250_000_000
        },
        Valid(json: #"{"client": {"batchEvents": 1, "batchBytes": 64, "lingerMicroseconds": 0}}"#) {
            $0.client.batchEvents == 1 && $0.client.lingerMicroseconds == 0 && $0.client.batchBytes == 64
        },
        Valid(json: #"{"archive": {"directory": "/tmp/a b"}, "timeouts": {"replayQueryMs": 5}}"#) {
            $0.archive.directory == "/tmp/a b" && $0.timeouts.replayQueryMs == 5
        },
    ]

    @Test(arguments: valid)
    func validConfigs(_ v: Valid) throws {
        #expect(v.check(try ChronoConfig.parse(json: v.json)))
    }

    static let invalid: [(json: String, key: String)] = [
        (#"{"deployment": {"keepersPerNod": 3}}"#, "deployment.keepersPerNod"),
        (#"{"nope": 1}"#, "nope"),
        (#"{"deployment": {"keepersPerNode": "3"}}"#, "deployment.keepersPerNode"),
        (#"{"deployment": {"keepersPerNode": 1.5}}"#, "deployment.keepersPerNode"),
        (#"{"deployment": {"keepersPerNode": true}}"#, "deployment.keepersPerNode"),
        (#"{"deployment": 3}"#, "deployment"),
        (#"{"deployment": {"keepersPerNode": 0}}"#, "deployment.keepersPerNode"),
        (#"{"story": {"chunkDurationMs": -1}}"#, "story.chunkDurationMs"),
        (#"{"story": {"latePolicy": "drop"}}"#, "story.latePolicy"),
        (#"{"story": {"maxEventBytes": 99999999}}"#, "story.maxEventBytes"),
        (#"{"fabric": {"provider": "verbs"}}"#, "fabric.provider"),
        (#"{"log": {"level": "loud"}}"#, "log.level"),
        (#"{"archive": {"directory": ""}}"#, "archive.directory"),
        (#"{"fabric": {"provider": null}}"#, "fabric.provider"),
        (#"[1, 2]"#, "<root>"),
        (#"{"client": {"batchEvents": 1,}"#, "<json>"),
    ]

    @Test(arguments: invalid)
    func invalidConfigsNameTheKey(_ c: (json: String, key: String)) {
        do {
            let config = try ChronoConfig.parse(json: c.json)
            Issue.record("accepted \(c.json): \(config)")
        } catch {
            guard case let .invalidConfiguration(e) = error else { Issue.record("wrong error \(error)"); return }
            #expect(e.key == c.key)
            #expect(error.description.contains(c.key))
            #expect(error.returnCode == .invalidArgument)
        }
    }

    @Test func environmentAndOverridesApplyInOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chronomodel-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("c.json")
        try Data(#"{"client": {"batchEvents": 10, "batchBytes": 999}, "log": {"level": "error"}}"#.utf8).write(to: file)

        let env = ["CHRONOLOG_CONFIG": file.path, "CHRONOLOG_CLIENT_BATCH_EVENTS": "20", "CHRONOLOG_FABRIC_PROVIDER": "tcp",
                   "CHRONOLOG_X_TEST_ONLY": "ignored", "PATH": "/bin"]
        let c = try ChronoConfig.load(environment: env, overrides: ["client.batchEvents": "30", "story.latePolicy": "reject"])
        #expect(c.client.batchEvents == 30)  // override > env > file
        #expect(c.client.batchBytes == 999)  // file
        #expect(c.fabric.provider == "tcp")  // env
        #expect(c.log.level == "error")
        #expect(c.story.latePolicy == .reject)
        #expect(try ChronoConfig.load(environment: env).client.batchEvents == 20)
    }

    @Test func badOverridesNameTheKey() {
        let cases: [([String: String], [String: String], String)] = [
            (["CHRONOLOG_CLIENT_BATCH_EVENT": "1"], [:], "CHRONOLOG_CLIENT_BATCH_EVENT"),
            (["CHRONOLOG_CLIENT_BATCH_EVENTS": "many"], [:], "CHRONOLOG_CLIENT_BATCH_EVENTS (client.batchEvents)"),
            ([:], ["client.batchEvent": "1"], "client.batchEvent"),
            ([:], ["client": "1"], "client"),
            ([:], ["deployment.keepersPerNode": "x"], "deployment.keepersPerNode"),
            ([:], ["deployment.keepersPerNode": "-2"], "deployment.keepersPerNode"),
            (["CHRONOLOG_CONFIG": "/nonexistent/chronolog.json"], [:], "/nonexistent/chronolog.json"),
        ]
        for (env, overrides, key) in cases {
            #expect(throws: ChronoLogError.self) { _ = try ChronoConfig.load(environment: env, overrides: overrides) }
            do {
                _ = try ChronoConfig.load(environment: env, overrides: overrides)
            } catch {
                if case let .invalidConfiguration(e) = error { #expect(e.key == key) } else { Issue.record("\(error)") }
            }
        }
    }

    @Test func effectiveDescriptionRoundTrips() throws {
        var c = ChronoConfig()
        c.client.batchEvents = 77
        c.fabric.provider = "tcp;ofi_rxm"
        let text = c.effectiveDescription()
        #expect(text.contains("\"batchEvents\" : 77"))
        #expect(text.contains("tcp;ofi_rxm"))
        #expect(try ChronoConfig.parse(json: text) == c)
        #expect(try c.applying(overrides: ["client.batchEvents": "5"]).client.batchEvents == 5)
    }

    @Test func keysAndEnvironmentNames() throws {
        let keys = ChronoConfig.allKeys
        for required in ["deployment.keepersPerNode", "deployment.graphersPerNode", "deployment.playersPerNode",
                         "deployment.virtualNodes", "story.chunkDurationMs", "story.maxEventBytes", "client.batchEvents",
                         "client.batchBytes", "client.lingerMicroseconds", "keeper.memoryLimitBytes", "grapher.memoryLimitBytes",
                         "fabric.provider", "archive.directory", "log.level", "timeouts.connectMs", "timeouts.acquireMs",
                         "timeouts.replayQueryMs", "timeouts.shutdownDrainMs", "heartbeat.intervalMs"] {
            #expect(keys.contains(required))
        }
        #expect(ChronoConfig.environmentVariableName(forKey: "client.batchEvents") == "CHRONOLOG_CLIENT_BATCH_EVENTS")
        #expect(Set(keys.map(ChronoConfig.environmentVariableName(forKey:))).count == keys.count)
        #expect(try ChronoConfig.parseOverride("a.b=c=d") == ("a.b", "c=d"))
        #expect(throws: ChronoLogError.self) { _ = try ChronoConfig.parseOverride("=x") }
        #expect(throws: ChronoLogError.self) { _ = try ChronoConfig.parseOverride("novalue") }
    }

    // MARK: - Bounds

    /// The memory the bound tests pretend the machine has.
    static let memory = 8 << 30

    /// A configuration with one integer key set, not validated (the test validates it itself).
    static func config(_ key: String, _ value: Int) throws -> ChronoConfig {
        let tree = ChronoConfig.setting(key, to: .integer(Int64(value)), in: ChronoConfig.defaultTree)
        return try JSONDecoder().decode(ChronoConfig.self, from: try JSONEncoder().encode(tree))
    }

    @Test func everyIntegerSettingHasABound() {
        let integerKeys = ChronoConfig.allKeys.filter {
            if case .integer? = ChronoConfig.leaf($0, in: ChronoConfig.defaultTree) { return true }
            return false
        }
        let bounded = ChronoConfig().numericBounds(physicalMemoryBytes: Self.memory).map(\.key)
        #expect(Set(integerKeys) == Set(bounded), "keys without a bound: \(Set(integerKeys).subtracting(bounded))")
        #expect(bounded.count == Set(bounded).count)
    }

    static let bounds = ChronoConfig().numericBounds(physicalMemoryBytes: memory)

    @Test(arguments: bounds)
    func eachBoundIsCheckedAtBothEnds(_ bound: ChronoConfig.NumericBound) throws {
        #expect(bound.range.contains(bound.value), "the default of \(bound.key) is out of its range")
        #expect(bound.range.upperBound < Int.max / 2, "\(bound.key) has no real upper bound")
        for inside in [bound.range.lowerBound, bound.range.upperBound] {
            #expect(throws: Never.self) { try Self.config(bound.key, inside).validate(physicalMemoryBytes: Self.memory) }
        }
        for (outside, needle) in [(bound.range.upperBound + 1, "≤ \(bound.range.upperBound)"),
                                  (bound.range.lowerBound - 1, "≥ \(bound.range.lowerBound)")] {
            let c = try Self.config(bound.key, outside)
            do throws(ChronoLogError) {
                try c.validate(physicalMemoryBytes: Self.memory)
                Issue.record("\(bound.key)=\(outside) accepted")
            } catch {
                guard case let .invalidConfiguration(e) = error else { Issue.record("wrong error \(error)"); continue }
                #expect(e.key == bound.key)
                #expect(error.description.contains(needle) && error.description.contains("got \(outside)"), "\(error)")
            }
        }
    }

    /// The settings of issue 12 that were accepted and broke the job: each is refused at load time
    /// with a message naming the key and the bound, or (the drain and chunk length) accepted.
    @Test func hugeValuesAreRefusedNamingTheBound() throws {
        let cases: [(String, String, String)] = [
            ("keeper.memoryLimitBytes", "1099511627776", "physical memory"),
            ("grapher.memoryLimitBytes", "1099511627776", "physical memory"),
            ("story.chunkDurationMs", "86400001", "one day"),
            ("timeouts.shutdownDrainMs", "3600001", "one hour"),
            ("client.batchEvents", "9223372036854775807", "≤ 1048576"),
            ("deployment.graphersPerNode", "2", "exactly one grapher"),
        ]
        for (key, value, needle) in cases {
            do {
                _ = try ChronoConfig.load(overrides: [key: value])
                Issue.record("\(key)=\(value) accepted")
            } catch {
                #expect(error.description.contains(key) && error.description.contains(needle), "\(error)")
            }
        }
        #expect(try ChronoConfig.load(overrides: ["story.chunkDurationMs": "86400000", "timeouts.shutdownDrainMs": "0"])
            .story.chunkDurationMs == 86_400_000)
    }

    @Test func theKeeperPoolDoesNotGrowWithTheMemoryBound() throws {
        var c = ChronoConfig()
        #expect(c.keeperTransferSlots == 16 && c.transferSlotBytes == 4 << 20)  // 128 MiB / 2 / 4 MiB
        c.keeper.memoryLimitBytes = 1 << 40
        #expect(c.keeperTransferSlots * c.transferSlotBytes <= ChronoConfig.maxKeeperPoolBytes)
        c.keeper.memoryLimitBytes = 1 << 20
        #expect(c.keeperTransferSlots == 4)
        c.keeper.transferSlotBytes = 256 << 20
        c.keeper.memoryLimitBytes = 1 << 40
        #expect(c.keeperTransferSlots == 4)
        c.story.maxEventBytes = 16 << 20
        c.keeper.transferSlotBytes = 64 << 10
        #expect(c.transferSlotBytes > 16 << 20)
    }

    @Test func scriptVariablesAreNotConfigurationButTyposAre() throws {
        let env = ["CHRONOLOG_RANKS": "8", "CHRONOLOG_BIN": "/x/chronolog-job", "CHRONOLOG_SRUN_MPI": "pmi2",
                   "CHRONOLOG_BENCH_BIN": "/x/chronolog-bench", "CHRONOLOG_CLIENT_BATCH_EVENTS": "12"]
        #expect(try ChronoConfig.load(environment: env).client.batchEvents == 12)
        for typo in ["CHRONOLOG_RANK", "CHRONOLOG_BINARY", "CHRONOLOG_BENCH", "CHRONOLOG_CLIENT_BATCH_EVENT", "CHRONOLOG_SRUN"] {
            do {
                _ = try ChronoConfig.load(environment: env.merging([typo: "1"]) { $1 })
                Issue.record("\(typo) accepted")
            } catch {
                if case let .invalidConfiguration(e) = error { #expect(e.key == typo && e.problem == .unknownKey) } else { Issue.record("\(error)") }
            }
        }
    }

    /// Test knobs are injected fakes (`RoleFaults`, `ClientTestSeams`), never configuration: a user who
    /// sets one (in a file, as a variable or with `--set`) gets the error of any unknown key.
    @Test(arguments: ["keeper.ackDelayMicroseconds", "grapher.archiveDelayMs", "player.testQueryDelayMs", "silentRoles",
                      "client.testClockSkewMs", "client.testClockDriftMs", "fabric.testRegisteredReads"])
    func testKnobsAreNotConfigurationKeys(key: String) throws {
        #expect(!ChronoConfig.allKeys.contains(key))
        #expect(!ChronoConfig().effectiveDescription().contains(key.split(separator: ".").last!))
        let parts = key.split(separator: ".")
        let json = parts.count == 2 ? "{\"\(parts[0])\": {\"\(parts[1])\": 1}}" : "{\"\(key)\": 1}"
        expectUnknownKey(key) { try ChronoConfig.parse(json: json) }
        expectUnknownKey(key) { try ChronoConfig.load(overrides: [key: "1"]) }
        expectUnknownKey(key) { try ChronoConfig.load(environment: [ChronoConfig.environmentVariableName(forKey: key): "1"]) }
    }

    private func expectUnknownKey(_ key: String, _ load: () throws -> ChronoConfig) {
        do {
            _ = try load()
            Issue.record("\(key) accepted")
        } catch let error as ChronoLogError {
            guard case let .invalidConfiguration(e) = error else { Issue.record("\(error)"); return }
            #expect(e.problem == .unknownKey, "\(error)")
            #expect(error.description.contains("unknown configuration key"), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }
}
