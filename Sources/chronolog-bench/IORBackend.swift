import ChronoClient
import Foundation
import MPI

/// What every API's phases share on a writer rank: the writers' communicator, the parameters,
/// the benchmark's start and the events' bytes; and, for CHRONOLOG, the connected client.
final class IORContext {
    let peers: Communicator
    let parameters: IORParameters
    let origin: ContinuousClock.Instant
    let source: IOREventSource
    let client: ChronoLogClient

    init(peers: Communicator, parameters: IORParameters, origin: ContinuousClock.Instant, client: ChronoLogClient) {
        self.peers = peers
        self.parameters = parameters
        self.origin = origin
        self.client = client
        source = IOREventSource(eventBytes: parameters.eventBytes, rank: peers.rank)
    }
}

/// The phases of one API on a writer rank. Every call is made by every writer (some calls are
/// collective over the writers for MPI-IO and HDF5); the recorder times the open, I/O and close steps.
protocol IORBackend {
    /// The API.
    var api: IORAPI { get }
    /// Writes this rank's events; with `-e` the close step ends once they are durable; without,
    /// the caller's untimed tail makes them durable (CPU is still counted). Adds time-to-durable samples.
    /// - Returns: events stored per story.
    func write(_ layout: IORLayout, _ recorder: inout IORPhaseRecorder) throws -> [Int]
    /// Reads the given units back and checks the number of events.
    func read(_ layout: IORLayout, _ units: [(unit: IORUnit, segments: [IORSegment])], _ recorder: inout IORPhaseRecorder) throws
    /// Removes the iteration's files (CHRONOLOG: nothing; its archive stays).
    func removeFiles(_ layout: IORLayout)
    /// The files this rank wrote that the read phase reads (CHRONOLOG: the archive's, every rank),
    /// whose pages `--read-cache cold` drops before the read phase.
    func cachedFiles(_ layout: IORLayout) -> [String]
}
