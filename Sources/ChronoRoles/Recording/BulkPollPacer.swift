/// How often an RMA target (a keeper lending pieces, a player lending replay pieces) polls the
/// bulk plane while peers read its memory. A manual-progress provider moves a peer's read only
/// when the target polls, but `shm` reads by cross-memory attach hold the target's region lock
/// for the whole copy (about 1 ms per 4 MiB here): a target polling in every loop spun on that
/// lock for a fifth of its CPU (keepers) or a sixth (players). At most every ``interval``.
struct BulkPollPacer {
    /// The shortest time between two polls.
    static let interval: Duration = .microseconds(200)
    private var next: ContinuousClock.Instant?

    /// Whether to poll at `now`; if so, the next poll is due an ``interval`` later.
    mutating func isDue(at now: ContinuousClock.Instant) -> Bool {
        if let next, now < next { return false }
        next = now + Self.interval
        return true
    }
}
