import ChronoModel
import Foundation

/// The run directory of a serving job (docs/ATTACH.md), written by `jobs/chronolog-service.sh`:
/// `ompi-server.uri` (the name server both jobs use), `service-name` (the name the gateway
/// publishes its port under), `token` and `token.read` (owner-only, 0600: read-write and read-only
/// access).
public struct RunDirectory: Sendable, Equatable {
    /// The directory.
    public let path: String

    /// The portal port ChronoLog's examples use (`ClientPortalServiceConf(..., 5555, ...)`).
    public static let defaultPortalPort = 5555

    /// The run directory at `path` (nothing is read or checked yet).
    public init(path: String) {
        self.path = path
    }

    /// The directory a client attaches to: `explicit` if given, else `attach.runDirectory`, else
    /// `/tmp/chronolog-<uid>/service-<portalPort>`.
    public static func resolve(explicit: String?, config: ChronoConfig, portalPort: Int?) -> RunDirectory {
        if let explicit, !explicit.isEmpty { return RunDirectory(path: explicit) }
        if !config.attach.runDirectory.isEmpty { return RunDirectory(path: config.attach.runDirectory) }
        let port = portalPort.flatMap { $0 > 0 ? $0 : nil } ?? defaultPortalPort
        return RunDirectory(path: "/tmp/chronolog-\(getuid())/service-\(port)")
    }

    /// `ompi-server`'s URI file.
    public var uriFile: String { path + "/ompi-server.uri" }
    /// The read-write token.
    public var tokenFile: String { path + "/token" }
    /// The read-only token.
    public var readTokenFile: String { path + "/token.read" }

    /// The service name the gateway publishes. - Throws: `.noConnection` when the file is missing or empty.
    public func serviceName() throws(ChronoLogError) -> String {
        try Self.firstLine(path + "/service-name", what: "service name")
    }

    /// A token file's token (its first line). - Throws: `.noConnection` when missing or empty.
    public static func token(at file: String) throws(ChronoLogError) -> String {
        try firstLine(file, what: "token")
    }

    private static func firstLine(_ file: String, what: String) throws(ChronoLogError) -> String {
        guard let data = FileManager.default.contents(atPath: file),
              let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first, !line.isEmpty else {
            throw .noConnection("no \(what) in \(file) (is the service running? jobs/chronolog-service.sh)")
        }
        return String(line)
    }

    /// Checks, before `MPI_Init`, that the name server is there: the URI file exists and its TCP
    /// address accepts a connection within `timeoutMs` (a stale URI would hang a singleton's
    /// `MPI_Init`; a missing one aborts it). - Throws: `.noConnection` saying which.
    public func checkNameServer(timeoutMs: Int32 = 300) throws(ChronoLogError) {
        guard let data = FileManager.default.contents(atPath: uriFile) else {
            throw .noConnection("no run directory at \(path) (missing \(uriFile)); start the service with jobs/chronolog-service.sh")
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let address = Self.tcpAddress(in: text) else {
            throw .noConnection("\(uriFile) holds no tcp:// address")
        }
        guard Self.canConnect(host: address.host, port: address.port, timeoutMs: timeoutMs) else {
            throw .noConnection("ompi-server of \(path) does not answer at \(address.host):\(address.port) (a stale run directory?)")
        }
    }

    /// The first IPv4 `tcp://host:port` of an Open MPI URI (`123.0;tcp://10.0.0.1:4567;tcp6://…`).
    static func tcpAddress(in uri: String) -> (host: String, port: UInt16)? {
        for part in uri.split(whereSeparator: { $0 == ";" || $0.isNewline }) where part.hasPrefix("tcp://") {
            let rest = part.dropFirst("tcp://".count)
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else { continue }
            let host = String(rest[..<colon]).split(separator: ",").first.map(String.init) ?? ""
            return (host, port)
        }
        return nil
    }

    /// A TCP connect with a deadline (non-blocking connect, then poll).
    static func canConnect(host: String, port: UInt16, timeoutMs: Int32) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return false }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&pfd, 1, timeoutMs) == 1 else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0
    }
}
