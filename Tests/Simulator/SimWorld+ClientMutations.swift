import ChronoModel

extension SimWorld {
    /// Installs the network rewrites of the mutations that break what the clients are told: a
    /// keeper's direct "last N" answer, the visor's listings, its clock pongs.
    func installClientMutations() {
        switch mutation {
        case .keepersLastDropNewest:
            network.rewrite = { [unowned self] source, destination, tag, bytes in
                guard tag == .replay, keeperRanks.contains(source), !groups.contains(where: { $0.player == destination }),
                      case .replayPiece(var piece)? = try? ControlMessage.decode(bytes), piece.isLast,
                      let chunk = piece.chunk, !chunk.isEmpty else { return bytes }
                piece.chunk = chunk.filter { $0.key != chunk.key(at: chunk.count - 1) }
                return ControlMessage.replayPiece(piece).encode()
            }
        case .listingsDropLastName:
            network.rewrite = { source, _, tag, bytes in
                guard source == 0, tag == .reply, case .nameList(var list)? = try? ControlMessage.decode(bytes),
                      !list.names.isEmpty else { return bytes }
                list.names.removeLast()
                return ControlMessage.nameList(list).encode(requestId: MessageHeader.requestId(of: bytes) ?? 0)
            }
        case .pongsStampedLate:
            network.rewrite = { source, _, tag, bytes in
                guard source == 0, tag == .reply, case .clockPong(var pong)? = try? ControlMessage.decode(bytes) else { return bytes }
                pong.visorTime += 50_000_000
                return ControlMessage.clockPong(pong).encode(requestId: MessageHeader.requestId(of: bytes) ?? 0)
            }
        default:
            break
        }
    }
}
