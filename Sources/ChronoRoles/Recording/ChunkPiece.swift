import ChronoModel
import Fabric

/// The events `positions` of a chunk, as the chunk a player lends in one registered slot:
/// encoded in place into the slot (`RegisteredBuffer.store(_:)`), with no intermediate array.
/// The only place in ChronoRoles where registered memory meets the chunk codec.
struct ChunkPiece: RegisteredMemoryEncodable {
    let chunk: StoryChunk
    let positions: Range<Int>

    var encodedByteCount: Int { chunk.encodedByteCount(of: positions) }

    var count: Int { positions.count }

    func encode(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        try chunk.encode(positions, into: destination)
    }
}
