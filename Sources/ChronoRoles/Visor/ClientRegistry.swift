import ChronoModel

/// The visor's registry of connected clients. Pure state, no MPI.
public struct ClientRegistry: Sendable {
    /// One connected client.
    public struct Entry: Sendable, Equatable {
        /// The client's id.
        public let id: ClientID
        /// The world rank it sends from.
        public let rank: Int32
        /// Host name and pid, for diagnostics.
        public let host: String
        public let pid: UInt32
        /// Writer, or writer + reader.
        public let mode: ClientMode
        /// The client's name (its identity for chronicle access).
        public let user: String
    }

    /// Longest client name accepted, in UTF-8 bytes.
    public static let maxUserBytes = 256

    /// Connected clients by id.
    public private(set) var clients: [ClientID: Entry] = [:]
    private var allocator: ClientIDAllocator
    /// Connections accepted since start.
    public private(set) var totalConnects: UInt64 = 0

    /// An empty registry whose first client id is `firstClientId` (see ``ClientIDAllocator``).
    public init(firstClientId: UInt64 = 1) {
        allocator = ClientIDAllocator(startingAt: firstClientId)
    }


    /// The first id of this job (ids below it were handed out by earlier jobs).
    public var firstId: UInt64 { allocator.firstId }

    /// The id the next connection gets.
    public var nextId: UInt64 { allocator.upcoming }

    /// Registers a connection and assigns a job-unique id.
    /// - Throws: `.protocolVersionMismatch` (−13) for another protocol version; `.invalidArgument`
    ///   (−2) for an empty client name, one with a NUL byte or longer than ``maxUserBytes``.
    public mutating func connect(_ request: ConnectRequest, fromRank rank: Int) throws(ChronoLogError) -> ClientID {
        guard request.protocolVersion == ChronoModelVersion.protocolVersion else {
            throw .protocolVersionMismatch(expected: ChronoModelVersion.protocolVersion, got: request.protocolVersion)
        }
        let user = request.user
        guard !user.isEmpty, user.utf8.count <= Self.maxUserBytes, !user.utf8.contains(0) else {
            throw .invalidArgument("client name must be 1 to \(Self.maxUserBytes) bytes without NUL, got \(user.utf8.count) bytes")
        }
        let id = try allocator.next()
        clients[id] = Entry(id: id, rank: Int32(rank), host: request.hostName, pid: request.pid, mode: request.mode, user: user)
        totalConnects += 1
        return id
    }

    /// Checks that `id` is connected and sends from `rank`.
    /// - Throws: `.noConnection` (−8) otherwise.
    public func validate(_ id: ClientID, fromRank rank: Int) throws(ChronoLogError) {
        guard let entry = clients[id], entry.rank == Int32(rank) else {
            throw .noConnection("client \(id) is not connected from rank \(rank)")
        }
    }

    /// The name of a connected client ("" when it is not connected).
    public func user(of id: ClientID) -> String { clients[id]?.user ?? "" }

    /// Removes a client.
    public mutating func disconnect(_ id: ClientID) {
        clients[id] = nil
    }
}
