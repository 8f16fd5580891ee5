/// Which recording of a story a keeper's "finished" report belongs to, at the grapher.
///
/// A story can be released and acquired again at any time; each acquire after the last release is
/// a new *recording*, named by the ticket of the visor's start notice. A keeper that finished a
/// recording says so with watermark `UInt64.max` and that ticket (``WatermarkSet/Entry/recording``).
/// The keeper's report and the visor's notices travel apart, so the grapher may see them in either
/// order:
/// - the report of recording *t* after the start of *t′ > t*: it is **stale** and must not
///   unregister the keeper from *t′* (the keeper records again, and its next chunks would find the
///   story forgotten: lost events);
/// - the report of *t* before the start of *t* (an empty recording, stopped at once): it is
///   **ahead**, and the start of *t* then does not register the keeper.
///
/// Pure state; the grapher owns one.
public struct RecordingEpochs: Sendable {
    /// What a "finished" report means for the grapher's current recording of the story.
    public enum Verdict: Sendable, Equatable {
        /// Of the current recording (or from a sender without recordings, ticket 0): apply it.
        case current
        /// Of an earlier recording: ignore it.
        case stale
        /// Of a recording the grapher has not started yet: remembered for its start.
        case ahead
    }

    private struct Key: Hashable {
        let keeper: UInt64
        let story: StoryID
    }

    /// Reports of recordings not started yet, by keeper and story.
    private var ahead: [Key: Set<UInt64>] = [:]

    /// Creates the empty state.
    public init() {}

    /// Reports remembered for recordings not started yet.
    public var aheadCount: Int { ahead.values.reduce(0) { $0 + $1.count } }

    /// Classifies keeper `keeper`'s "finished" report of `recording` for `story`, whose current
    /// recording at the grapher is `current` (`nil` when the grapher does not record it).
    public mutating func finished(keeper: UInt64, story: StoryID, recording: UInt64, current: UInt64?) -> Verdict {
        if recording == 0 { return current == nil ? .stale : .current }
        guard let current, recording <= current else {
            ahead[Key(keeper: keeper, story: story), default: []].insert(recording)
            return .ahead
        }
        return recording == current ? .current : .stale
    }

    /// The start of recording `ticket` of `story`: whether keeper `keeper` must be registered as a
    /// contributor (not when it already reported that recording finished).
    public mutating func registers(keeper: UInt64, story: StoryID, ticket: UInt64) -> Bool {
        let key = Key(keeper: keeper, story: story)
        guard let reported = ahead[key] else { return true }
        // Reports of this recording and of earlier ones are settled by this start.
        let remaining = reported.filter { $0 > ticket }
        ahead[key] = remaining.isEmpty ? nil : remaining
        return ticket == 0 || !reported.contains(ticket)
    }
}
