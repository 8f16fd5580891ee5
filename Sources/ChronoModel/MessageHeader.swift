/// The 16-byte header in front of every control message.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic: the bytes `C L O G` |
/// | 4 | 2 | protocol version (``ChronoModelVersion/protocolVersion``) |
/// | 6 | 2 | message type (``MessageType``) |
/// | 8 | 4 | body length in bytes (≤ ``WireLimits/maxBodyBytes``) |
/// | 12 | 4 | request id: set by a client on a request to the visor, echoed by the visor (and an attach gateway refusing for it) in the answer; 0 on everything else |
///
/// Little-endian. The body follows immediately; a message is exactly `16 + bodyLength` bytes.
/// (A body can never reach 4 GiB: an MPI message counts its bytes in an `Int32`.)
public struct MessageHeader: Sendable, Hashable {
    /// The magic number `CLOG`.
    public static let magic: UInt32 = 0x474F_4C43
    /// Encoded size: 16 bytes.
    public static let byteCount = 16

    /// The protocol version of the sender.
    public var version: UInt16
    /// The message type.
    public var type: MessageType
    /// The body length in bytes (written as 4 bytes).
    public var bodyLength: UInt64
    /// The request this message asks or answers (0: none). A client's session drops an answer
    /// whose id is not the one of its outstanding request (a late answer to one that timed out).
    public var requestId: UInt32

    /// A header of the current protocol version.
    public init(type: MessageType, bodyLength: UInt64, requestId: UInt32 = 0,
                version: UInt16 = ChronoModelVersion.protocolVersion) {
        self.type = type
        self.bodyLength = bodyLength
        self.requestId = requestId
        self.version = version
    }

    /// Offset of the body length in an encoded header.
    static let bodyLengthOffset = 8
    /// Offset of the request id in an encoded header.
    static let requestIdOffset = 12

    /// Appends the 16 header bytes to `bytes`.
    public func write(to bytes: inout [UInt8]) {
        RawBytes.appendLE(Self.magic, to: &bytes)
        RawBytes.appendLE(version, to: &bytes)
        RawBytes.appendLE(type.rawValue, to: &bytes)
        RawBytes.appendLE(UInt32(clamping: bodyLength), to: &bytes)
        RawBytes.appendLE(requestId, to: &bytes)
    }

    /// The request id of an encoded message (bytes 12..<16), without checking anything else;
    /// nil when `bytes` is shorter than a header. Relays route answers with it.
    public static func requestId(of bytes: [UInt8]) -> UInt32? {
        guard bytes.count >= byteCount else { return nil }
        return (0..<4).reduce(UInt32(0)) { v, i in v | UInt32(bytes[requestIdOffset + i]) << (8 * UInt32(i)) }
    }

    /// Decodes and checks a header from the first 16 bytes of `bytes` (more may follow: the body).
    /// Use it to learn a message's type and size before receiving or decoding its body.
    /// - Throws: ``ChronoLogError/malformedMessage(_:)`` (truncated, bad magic, unknown type, body over
    ///   the limit) or ``ChronoLogError/protocolVersionMismatch(expected:got:)``.
    public static func decode<C: Collection>(_ bytes: C, limits: WireLimits = .default) throws(ChronoLogError) -> MessageHeader
    where C.Element == UInt8 {
        let result: Result<MessageHeader, ChronoLogError> = RawBytes.withBytes(bytes.prefix(byteCount)) { raw in
            Result { () throws(ChronoLogError) -> MessageHeader in
                var reader = WireReader(raw, limits: limits)
                return try read(from: &reader)
            }
        }
        return try result.get()
    }

    /// Reads and checks a header.
    static func read(from r: inout WireReader) throws(ChronoLogError) -> MessageHeader {
        try r.require(byteCount)
        let magic = try r.u32()
        guard magic == Self.magic else { throw .malformedMessage(.badMagic(expected: Self.magic, got: magic)) }
        let version = try r.u16()
        guard version == ChronoModelVersion.protocolVersion else {
            throw .protocolVersionMismatch(expected: ChronoModelVersion.protocolVersion, got: version)
        }
        let rawType = try r.u16()
        guard let type = MessageType(rawValue: rawType) else { throw .malformedMessage(.unknownMessageType(rawType)) }
        let length = UInt64(try r.u32())
        guard length <= r.limits.maxBodyBytes else {
            throw .malformedMessage(.limitExceeded(field: "header.bodyLength", value: length, limit: r.limits.maxBodyBytes))
        }
        return MessageHeader(type: type, bodyLength: length, requestId: try r.u32(), version: version)
    }
}
