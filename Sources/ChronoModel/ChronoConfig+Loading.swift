import Foundation

extension ChronoConfig {
    /// The environment variable naming the configuration file.
    public static let fileEnvironmentVariable = "CHRONOLOG_CONFIG"
    /// Environment variables with this prefix are left to tools and tests, never read as configuration.
    public static let freeEnvironmentPrefix = "CHRONOLOG_X_"
    /// Variables of the project's launch scripts, never read as configuration: `CHRONOLOG_RANKS`
    /// (`scripts/run-job.sh`: `mpirun -n`), `CHRONOLOG_BIN` (`scripts/run-job.sh` and the `jobs/`
    /// scripts: the `chronolog-job` binary to run), `CHRONOLOG_BENCH_BIN` (`benchmarks/` and `jobs/` scripts:
    /// the `chronolog-bench` binary) and `CHRONOLOG_SRUN_MPI` (the `jobs/*.sbatch` scripts: `srun --mpi`).
    /// mpirun and srun pass them on to every rank, so the ranks must accept them.
    public static let scriptEnvironmentVariables: Set<String> = ["CHRONOLOG_RANKS", "CHRONOLOG_BIN", "CHRONOLOG_BENCH_BIN", "CHRONOLOG_SRUN_MPI"]

    /// Loads the effective configuration: defaults, then the JSON file (`file`, or the file named by
    /// `CHRONOLOG_CONFIG` when `file` is nil), then `CHRONOLOG_*` variables of `environment`, then
    /// `overrides` (dotted key → value, e.g. from `--set client.batchEvents=4096`). Later sources win.
    ///
    /// An unknown key (in the file, as `CHRONOLOG_<KEY>`, or in `overrides`), a value of the wrong type
    /// or an out-of-range value is an error naming the key. `CHRONOLOG_CONFIG`, `CHRONOLOG_X_*` and
    /// the ``scriptEnvironmentVariables`` are not configuration keys and are skipped.
    /// - Throws: ``ChronoLogError/invalidConfiguration(_:)``.
    public static func load(file: String? = nil, environment: [String: String] = [:],
                            overrides: [String: String] = [:]) throws(ChronoLogError) -> ChronoConfig {
        var tree = defaultTree
        if let path = file ?? environment[fileEnvironmentVariable] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .invalidConfiguration(ConfigError(key: path, problem: .unreadable("cannot read the file")))
            }
            tree = try overlay(parseTree(Array(data), source: path), onto: tree, path: "")
        }
        tree = try applyEnvironment(environment, to: tree)
        tree = try applyOverrides(overrides, to: tree)
        return try decodeTree(tree)
    }

    /// Parses a JSON configuration text over the defaults (no environment, no overrides).
    /// - Throws: ``ChronoLogError/invalidConfiguration(_:)`` naming the first bad key.
    public static func parse(json: String) throws(ChronoLogError) -> ChronoConfig {
        try decodeTree(overlay(parseTree(Array(json.utf8), source: "<json>"), onto: defaultTree, path: ""))
    }

    /// This configuration with dotted-key overrides applied (values parsed according to each key's type).
    /// - Throws: ``ChronoLogError/invalidConfiguration(_:)`` for an unknown key or a bad value.
    public func applying(overrides: [String: String]) throws(ChronoLogError) -> ChronoConfig {
        try Self.decodeTree(Self.applyOverrides(overrides, to: Self.tree(of: self)))
    }

    /// Splits a command-line argument `key=value` (as given to `--set`).
    /// - Throws: ``ChronoLogError/invalidConfiguration(_:)`` when there is no `=` or the key is empty.
    public static func parseOverride(_ argument: String) throws(ChronoLogError) -> (key: String, value: String) {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else {
            throw .invalidConfiguration(ConfigError(key: argument, problem: .invalidValue("expected key=value")))
        }
        return (String(argument[..<eq]), String(argument[argument.index(after: eq)...]))
    }

    /// The effective configuration as pretty-printed JSON with sorted keys.
    public func effectiveDescription() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Every configuration key (dotted path), sorted.
    public static var allKeys: [String] {
        var keys: [String] = []
        func walk(_ v: JSONValue, _ path: String) {
            if case let .object(o) = v {
                for (k, child) in o { walk(child, path.isEmpty ? k : path + "." + k) }
            } else {
                keys.append(path)
            }
        }
        walk(defaultTree, "")
        return keys.sorted()
    }

    /// The environment variable for a key: `CHRONOLOG_` + the path in upper snake case
    /// (`client.batchEvents` → `CHRONOLOG_CLIENT_BATCH_EVENTS`).
    public static func environmentVariableName(forKey key: String) -> String {
        var out = "CHRONOLOG_"
        for ch in key {
            if ch == "." {
                out.append("_")
            } else if ch.isUppercase {
                out.append("_")
                out.append(contentsOf: ch.uppercased())
            } else {
                out.append(contentsOf: ch.uppercased())
            }
        }
        return out
    }

    // MARK: - Tree helpers

    static let defaultTree: JSONValue = tree(of: ChronoConfig())

    static func tree(of config: ChronoConfig) -> JSONValue {
        guard let data = try? JSONEncoder().encode(config),
              let value = try? JSONDecoder().decode(JSONValue.self, from: data) else { return .object([:]) }
        return value
    }

    static func parseTree(_ bytes: [UInt8], source: String) throws(ChronoLogError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw .invalidConfiguration(ConfigError(key: source, problem: .unreadable("not valid JSON")))
        }
    }

    /// Lays `user` over `base`, requiring every key of `user` to exist in `base` with a compatible type.
    static func overlay(_ user: JSONValue, onto base: JSONValue, path: String) throws(ChronoLogError) -> JSONValue {
        switch (base, user) {
        case let (.object(b), .object(u)):
            var merged = b
            for key in u.keys.sorted() {
                let child = path.isEmpty ? key : path + "." + key
                guard let bv = b[key], let uv = u[key] else {
                    throw .invalidConfiguration(ConfigError(key: child, problem: .unknownKey))
                }
                merged[key] = try overlay(uv, onto: bv, path: child)
            }
            return .object(merged)
        case (.object, _):
            throw .invalidConfiguration(ConfigError(key: path.isEmpty ? "<root>" : path, problem: .typeMismatch(expected: "an object")))
        case (.integer, .integer), (.number, .integer), (.number, .number), (.string, .string), (.bool, .bool):
            return user
        default:
            throw .invalidConfiguration(ConfigError(key: path, problem: .typeMismatch(expected: base.typeName)))
        }
    }

    /// The default leaf at `key`, or nil if `key` is not a leaf of the tree.
    static func leaf(_ key: String, in tree: JSONValue) -> JSONValue? {
        var node = tree
        for part in key.split(separator: ".", omittingEmptySubsequences: false) {
            guard case let .object(o) = node, let next = o[String(part)] else { return nil }
            node = next
        }
        if case .object = node { return nil }
        return node
    }

    static func setting(_ key: String, to value: JSONValue, in tree: JSONValue) -> JSONValue {
        func set(_ node: JSONValue, _ parts: ArraySlice<Substring>) -> JSONValue {
            guard let first = parts.first, case var .object(o) = node else { return value }
            o[String(first)] = set(o[String(first)] ?? .null, parts.dropFirst())
            return .object(o)
        }
        return set(tree, key.split(separator: ".", omittingEmptySubsequences: false)[...])
    }

    /// Parses the text `value` as the type of the leaf `like`.
    static func typedValue(_ value: String, like: JSONValue, key: String) throws(ChronoLogError) -> JSONValue {
        let text = value.trimmingCharacters(in: .whitespaces)
        switch like {
        case .integer:
            if let i = Int64(text) { return .integer(i) }
        case .number:
            if let d = Double(text), d.isFinite { return .number(d) }
        case .bool:
            switch text.lowercased() {
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: break
            }
        case .string:
            return .string(value)
        default:
            break
        }
        throw .invalidConfiguration(ConfigError(key: key, problem: .typeMismatch(expected: like.typeName)))
    }

    static func applyOverrides(_ overrides: [String: String], to tree: JSONValue) throws(ChronoLogError) -> JSONValue {
        var tree = tree
        for key in overrides.keys.sorted() {
            guard let like = leaf(key, in: defaultTree), let text = overrides[key] else {
                throw .invalidConfiguration(ConfigError(key: key, problem: .unknownKey))
            }
            tree = setting(key, to: try typedValue(text, like: like, key: key), in: tree)
        }
        return tree
    }

    static func applyEnvironment(_ environment: [String: String], to tree: JSONValue) throws(ChronoLogError) -> JSONValue {
        var byVariable: [String: String] = [:]
        for key in allKeys { byVariable[environmentVariableName(forKey: key)] = key }
        var tree = tree
        for variable in environment.keys.sorted() where variable.hasPrefix("CHRONOLOG_") {
            if variable == fileEnvironmentVariable || variable.hasPrefix(freeEnvironmentPrefix)
                || scriptEnvironmentVariables.contains(variable) { continue }
            guard let key = byVariable[variable], let like = leaf(key, in: defaultTree), let text = environment[variable] else {
                throw .invalidConfiguration(ConfigError(key: variable, problem: .unknownKey))
            }
            do {
                tree = setting(key, to: try typedValue(text, like: like, key: key), in: tree)
            } catch {
                if case let .invalidConfiguration(e) = error {
                    throw .invalidConfiguration(ConfigError(key: "\(variable) (\(key))", problem: e.problem))
                }
                throw error
            }
        }
        return tree
    }

    static func decodeTree(_ tree: JSONValue) throws(ChronoLogError) -> ChronoConfig {
        let config: ChronoConfig
        do {
            let data = try JSONEncoder().encode(tree)
            config = try JSONDecoder().decode(ChronoConfig.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw .invalidConfiguration(ConfigError(key: dotted(context.codingPath), problem: .invalidValue(context.debugDescription)))
        } catch let DecodingError.typeMismatch(_, context) {
            throw .invalidConfiguration(ConfigError(key: dotted(context.codingPath), problem: .invalidValue(context.debugDescription)))
        } catch {
            throw .invalidConfiguration(ConfigError(key: "<root>", problem: .invalidValue(String(describing: error))))
        }
        try config.validate()
        return config
    }

    private static func dotted(_ path: [any CodingKey]) -> String {
        path.map(\.stringValue).joined(separator: ".")
    }
}
