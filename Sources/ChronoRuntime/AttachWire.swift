import ChronoModel
import Foundation

/// The wire of attached clients (docs/ATTACH.md): how a message between an attached process and
/// its gateway says where it goes or where it came from, and the attach protocol's own messages.
///
/// Client → gateway: a message for job rank `r` on control tag `k` carries MPI tag
/// `r * tagStride + k`; tags below ``tagStride`` that are not control tags are the protocol's own
/// (``GatewayTag``). Gateway → client: the control tag unchanged, the job rank that sent the
/// message appended as 4 bytes (little-endian).
public enum AttachWire {
    /// Tags per destination rank in a relayed message's MPI tag.
    public static let tagStride = 32

    /// Messages of the attach protocol itself.
    public enum GatewayTag: Int, Sendable {
        /// Client → gateway: the goodbye of a client leaving cleanly (no body); gateway → client:
        /// the service stopped (every later call of the client fails at once with −8).
        case goodbye = 29
        /// Client → gateway: keep-alive with the events the client has logged so far (8 bytes).
        case keepAlive = 30
        /// Client → gateway: hello with the token; gateway → client: the answer (``HelloAnswer``).
        case hello = 31
    }

    /// The MPI tag of a message for `destination` on `tag`.
    public static func relayTag(destination: Int, tag: ControlTag) -> Int { destination * tagStride + tag.rawValue }

    /// The destination and control tag of a relayed message's MPI tag, or nil for the protocol's own.
    public static func route(ofTag raw: Int) -> (destination: Int, tag: ControlTag)? {
        guard raw >= 0, let tag = ControlTag(rawValue: raw % tagStride) else { return nil }
        return (raw / tagStride, tag)
    }

    /// Appends the sending job rank to a message going to an attached client.
    public static func appendSource(_ source: Int, to bytes: inout [UInt8]) {
        let v = UInt32(truncatingIfNeeded: source)
        bytes.append(contentsOf: [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)])
    }

    /// Removes the sending job rank from a relayed message; nil when the message is too short.
    public static func stripSource(_ bytes: inout [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        let n = bytes.count
        let v = UInt32(bytes[n - 4]) | UInt32(bytes[n - 3]) << 8 | UInt32(bytes[n - 2]) << 16 | UInt32(bytes[n - 1]) << 24
        bytes.removeLast(4)
        return Int(v)
    }

    /// The gateway's answer to a hello: a return code and, on success, the job's role map with
    /// the gateway's rank (an attached client is a client of that rank to the service) and whether
    /// the token was the read-only one.
    public struct HelloAnswer: Sendable, Equatable {
        /// 0, or −9 for a wrong or missing token, −8 when the service is shutting down.
        public var rc: ReturnCode
        /// The gateway's rank in the job.
        public var gatewayRank: Int
        /// Whether the client may only read (replay, list).
        public var readOnly: Bool
        /// The job's role map.
        public var assignments: [RoleAssignment]

        /// An answer; `assignments` empty for a refusal.
        public init(rc: ReturnCode, gatewayRank: Int = 0, readOnly: Bool = false, assignments: [RoleAssignment] = []) {
            self.rc = rc
            self.gatewayRank = gatewayRank
            self.readOnly = readOnly
            self.assignments = assignments
        }

        private struct Wire: Codable {
            var rc: Int32, gatewayRank: Int, readOnly: Bool
            var ranks: [Int], roles: [String], nodes: [Int], groups: [Int], hosts: [String]
        }

        /// The bytes of the answer (JSON: sent once per attach).
        public func encode() -> [UInt8] {
            let wire = Wire(rc: rc.rawValue, gatewayRank: gatewayRank, readOnly: readOnly,
                            ranks: assignments.map(\.worldRank), roles: assignments.map(\.role.rawValue),
                            nodes: assignments.map(\.node), groups: assignments.map { $0.group ?? -1 }, hosts: assignments.map(\.host))
            return Array((try? JSONEncoder().encode(wire)) ?? Data())
        }

        /// Decodes an answer. - Throws: `.noConnection` naming what is wrong with it.
        public static func decode(_ bytes: [UInt8]) throws(ChronoLogError) -> HelloAnswer {
            guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(bytes)) else {
                throw .noConnection("the gateway's hello answer does not decode")
            }
            let n = wire.ranks.count
            guard wire.roles.count == n, wire.nodes.count == n, wire.groups.count == n, wire.hosts.count == n else {
                throw .noConnection("the gateway's hello answer has lists of different lengths")
            }
            var answer = HelloAnswer(rc: ReturnCode(rawValue: wire.rc) ?? .unknown, gatewayRank: wire.gatewayRank, readOnly: wire.readOnly)
            for i in 0..<n {
                guard let role = Role(rawValue: wire.roles[i]) else { throw .noConnection("the gateway's answer names role \(wire.roles[i])") }
                answer.assignments.append(RoleAssignment(worldRank: wire.ranks[i], role: role, node: wire.nodes[i],
                                                         group: wire.groups[i] < 0 ? nil : wire.groups[i], host: wire.hosts[i]))
            }
            return answer
        }
    }
}
