import Foundation

/// A unit of storage of one iteration: a story of ChronoLog-Swift, a file of POSIX and MPI-IO, a
/// group of HDF5. With `-F` each writer has its own (`owner` set); otherwise all writers share it.
struct IORUnit: Hashable, Sendable {
    /// The writer that owns it, or `nil` for a unit shared by every writer.
    var owner: Int?
    /// Its story number, 0 ..< `-s`.
    var story: Int
}

/// One writer's events in a unit, as a reader finds them: a contiguous range of event slots.
struct IORSegment: Sendable {
    /// The writer.
    var writer: Int
    /// The first event slot (events from the start of the unit).
    var firstEvent: Int
    /// Events the writer stored there.
    var events: Int
}

/// Where each writer's events go in one iteration and who reads them back, derived from the
/// parameters alone so that every rank computes the same names and offsets.
///
/// Writer `w` logs its `i`-th event to story `i mod s`. With `-F` each story (file) is the
/// writer's own; shared, writer `w` owns the slots `w × segmentEvents …` of every shared story
/// (IOR's segmented layout; ChronoLog-Swift's own shared stories need no slots). Readers: with
/// `-F` rank `r` reads all the stories of writer `r` (`r + 1` with `-C`); shared, rank `r` reads
/// every story `k` with `k ≡ r` (`r + 1` with `-C`) modulo the writers, whole.
struct IORLayout: Sendable {
    let parameters: IORParameters
    /// This writer's rank among the writers.
    let rank: Int
    /// Writers (client ranks).
    let writers: Int
    /// A name unique to the run, so stories and files of earlier runs are never read.
    let runId: String
    /// The iteration, from 1.
    let iteration: Int

    private var stories: Int { parameters.storiesPerWriter }

    /// The story of a writer's `i`-th event.
    @inline(__always)
    func story(ofEvent i: Int) -> Int { i % stories }

    /// Events one writer puts into story `k` (before any stonewall).
    func eventsPerStory(_ k: Int) -> Int {
        parameters.eventsPerWriter / stories + (k < parameters.eventsPerWriter % stories ? 1 : 0)
    }

    /// Slots of one writer's segment in a shared unit: the most events a writer puts in a story.
    var segmentEvents: Int { (parameters.eventsPerWriter + stories - 1) / stories }

    /// The units this rank writes, by story number.
    var writtenUnits: [IORUnit] {
        (0..<stories).map { IORUnit(owner: parameters.storyPerRank ? rank : nil, story: $0) }
    }

    /// The first slot of this rank's events in unit `unit`.
    func firstSlot(in unit: IORUnit) -> Int { unit.owner == nil ? rank * segmentEvents : 0 }

    /// Slots a unit holds (its size, in events): one writer's share with `-F`, every writer's segment shared.
    func slots(of unit: IORUnit) -> Int {
        unit.owner == nil ? writers * segmentEvents : eventsPerStory(unit.story)
    }

    /// The units this rank reads, each with the segments to read, from what every writer stored.
    /// - Parameter written: `written[w][k]`, the events writer `w` stored in its story `k`.
    func readUnits(written: [[Int]]) -> [(unit: IORUnit, segments: [IORSegment])] {
        let shift = parameters.readOtherRank ? 1 : 0
        if parameters.storyPerRank {
            let source = (rank + shift) % writers
            return (0..<stories).map { k in
                (IORUnit(owner: source, story: k), [IORSegment(writer: source, firstEvent: 0, events: written[source][k])])
            }
        }
        return (0..<stories).filter { ($0 + writers - shift) % writers == rank }.map { k in
            (IORUnit(owner: nil, story: k), (0..<writers).map { w in
                IORSegment(writer: w, firstEvent: w * segmentEvents, events: written[w][k])
            })
        }
    }

    // MARK: Names

    /// The chronicle of the run (one for all iterations).
    var chronicle: String { "ior-\(runId)" }

    /// The ChronoLog-Swift story of a unit.
    func storyName(_ unit: IORUnit) -> String {
        "\(unit.owner.map { "w\($0)" } ?? "shared").s\(unit.story).i\(iteration)"
    }

    /// The POSIX or MPI-IO file of a unit.
    func filePath(_ api: IORAPI, _ unit: IORUnit) -> String {
        "\(parameters.directory)/ior-\(runId).\(api.rawValue.lowercased()).i\(iteration).\(storyName(unit))"
    }

    /// The HDF5 file holding the units of `owner` (`nil`: the shared file), one group per story.
    func hdf5Path(owner: Int?) -> String {
        "\(parameters.directory)/ior-\(runId).hdf5.i\(iteration).\(owner.map { "w\($0)" } ?? "shared").h5"
    }

    /// The HDF5 group of a unit's story.
    func hdf5Group(_ unit: IORUnit) -> String { "story-\(unit.story)" }
}
