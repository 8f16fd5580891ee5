import ChronoModel

/// Who may write and who may read a chronicle, from the attributes given at its creation:
///
/// | attribute | values | default |
/// |---|---|---|
/// | `owner` | a client name (``ChronoModel/ConnectRequest/user``) | the creating client's name |
/// | `access.write` | `owner` or `all` | `all` |
/// | `access.read` | `owner` or `all` | `all` |
///
/// Writing is acquiring a story (creating it if needed) and destroying a story or the chronicle;
/// reading is replaying a story. With `all` (ChronoLog's behaviour: it checks nothing) every client
/// may; with `owner` only clients connected under the owner's name. Listing names is not checked.
/// Pure value, no MPI.
public struct ChronicleAccess: Sendable, Equatable {
    /// Who may perform an operation.
    public enum Scope: String, Sendable, CaseIterable {
        /// Only clients connected under the chronicle's `owner` name.
        case owner
        /// Every client.
        case all
    }

    /// What a request does to a chronicle.
    public enum Operation: String, Sendable {
        /// Acquire a story (log events), destroy a story or the chronicle.
        case write
        /// Replay a story.
        case read
    }

    /// The attribute naming the owner.
    public static let ownerKey = "owner"
    /// The attribute saying who may write.
    public static let writeKey = "access.write"
    /// The attribute saying who may read.
    public static let readKey = "access.read"

    /// The owner's client name.
    public let owner: String
    /// Who may write.
    public let write: Scope
    /// Who may read.
    public let read: Scope

    /// Reads the access attributes of a chronicle.
    /// - Throws: `.invalidArgument` (−2) for an empty `owner` or an `access.*` value other than
    ///   `owner` or `all`.
    public init(attributes: [String: String]) throws(ChronoLogError) {
        owner = attributes[Self.ownerKey] ?? ""
        write = try Self.scope(attributes, Self.writeKey)
        read = try Self.scope(attributes, Self.readKey)
        if attributes[Self.ownerKey]?.isEmpty == true {
            throw .invalidArgument("attribute \(Self.ownerKey) must name a client, not be empty")
        }
    }

    private static func scope(_ attributes: [String: String], _ key: String) throws(ChronoLogError) -> Scope {
        guard let value = attributes[key] else { return .all }
        guard let scope = Scope(rawValue: value) else {
            throw .invalidArgument("attribute \(key) is \(value.debugDescription); expected \"owner\" or \"all\"")
        }
        return scope
    }

    /// Whether the client named `user` may perform `operation`.
    public func allows(_ operation: Operation, user: String) -> Bool {
        (operation == .write ? write : read) == .all || user == owner
    }

    /// Checks that `user` may perform `operation` on the chronicle named `chronicle`.
    /// - Throws: `.notAuthorized` (−9) naming the user, the operation and the rule.
    public func authorize(_ operation: Operation, user: String, chronicle: String) throws(ChronoLogError) {
        guard !allows(operation, user: user) else { return }
        let key = operation == .write ? Self.writeKey : Self.readKey
        throw .notAuthorized("client \(user.debugDescription) may not \(operation.rawValue) chronicle \(chronicle.debugDescription) "
                             + "(\(key)=owner, owner \(owner.debugDescription))")
    }
}
