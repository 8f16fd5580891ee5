import ChronoModel

extension SimWorld {
    /// Acknowledges a replay piece that came from a group's player, as the real client does (the
    /// player sends its next pieces on acknowledgements); keepers' direct answers need none.
    func acknowledge(_ piece: ReplayPiece, from source: Int, on channel: SimControlTransport) throws {
        guard groups.contains(where: { $0.player == source }) else { return }
        try channel.post(ControlMessage.replayAck(ReplayAck(queryId: piece.queryId, pieceNumber: piece.pieceNumber)).encode(),
                         to: source, tag: .replay)
    }
}
