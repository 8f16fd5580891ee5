import ChronoModel

/// Where a test program makes the service roles misbehave on purpose: a slow keeper, a slow
/// archive, a slow player, a role that never registers. Injected where a role is made
/// (``ChronoDeployment``'s job sets it on each role); the product's roles get ``NoFaults``, and no
/// configuration key reaches this seam, so users cannot turn a fault on.
///
/// Every method has a default that does nothing; a fake overrides what it needs.
package protocol RoleFaults: Sendable {
    /// How long a keeper holds each batch acknowledgement before it sends it (a slow keeper).
    /// Default: zero (acknowledged as soon as the keeper is under its memory bound).
    func keeperAckDelay() -> Duration

    /// Called by a grapher as it starts writing every archive round (after the graphers met), with
    /// the round's event count; it may block (an archive whose rounds are slow or stuck). Default:
    /// returns at once.
    func archiveRoundStarts(events: Int)

    /// How long a player lets each replay query wait before it serves it (a slow player; queries
    /// time out). Default: zero.
    func playerQueryDelay() -> Duration

    /// Whether a recording process of `role` in recording group `group` registers with the
    /// visor (and sends heartbeats); a silent one leaves its group incomplete. Default: true.
    func registersWithVisor(role: Role, group: Int?) -> Bool

    /// Called by a keeper as it takes a read grant; it may block (a keeper slow to take grants, so
    /// the visor's route answer is late). Default: returns at once.
    func keeperTakesGrant()

    /// Whether a keeper answers "last N" queries readers send it directly; one that does not leaves
    /// them to time out (a keeper busy or gone). Default: true.
    func keeperAnswersDirectQueries() -> Bool

    /// The smallest received batch a keeper keeps in its message, and the smallest chunk a
    /// grapher keeps as it came, rather than copying their bytes into the range
    /// (``StoryPipeline``'s `minSharedBytes`). Not a fault: the simulator's batches and chunks
    /// are small, and it lowers this in half its seeds so that the kept paths run too.
    func keepsReceivedBytesFrom() -> Int

    /// How far behind its clock a keeper's clock watermark stands. Default:
    /// ``StoryPipeline/writerClockMargin``; a simulator mutation sets 0 to show the margin is needed.
    func keeperClockMargin() -> UInt64
}

extension RoleFaults {
    package func keeperAckDelay() -> Duration { .zero }
    package func archiveRoundStarts(events: Int) {}
    package func playerQueryDelay() -> Duration { .zero }
    package func registersWithVisor(role: Role, group: Int?) -> Bool { true }
    package func keeperTakesGrant() {}
    package func keeperAnswersDirectQueries() -> Bool { true }
    package func keepsReceivedBytesFrom() -> Int { StoryPipeline.defaultMinSharedBytes }
    package func keeperClockMargin() -> UInt64 { StoryPipeline.writerClockMargin }
}

/// The product's faults: none.
package struct NoFaults: RoleFaults {
    /// No faults.
    package init() {}
}
