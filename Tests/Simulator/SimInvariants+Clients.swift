import ChronoModel

extension SimWorld {
    /// Every "last N" answer equals the model's last N complete events of its story when it was
    /// answered, whether the keepers answered it directly, the player, or both (the part below the
    /// keepers'): at most N events, in strictly increasing event order, each logged in the story as
    /// it is, in the query's range, and (the story still recorded) before the answer's
    /// `completeBefore` (nothing newer than its complete point); and nothing missing: every event
    /// logged before the query was asked, in its range and complete, is in the answer when it is
    /// later than the answer's first event, or when the answer holds fewer than N (unless a full
    /// disk destroyed events, or the keeper rejected some). A story the curator destroyed may be
    /// refused (−3); a query may time out (its timeouts are short: 20 or 200 ms).
    func checkLastN() -> [String] {
        var out: [String] = []
        let r = lastReader!
        for (n, a) in r.answers.enumerated() {
            let name = "last: query \(n + 1) (last \(a.count) of \(a.story) in \(a.range), via \(a.path.rawValue))"
            // After a restart an answer is partial (−18) where a killed writer's tail is in doubt;
            // its events are checked as a complete answer's.
            guard a.rc == .success || restart.earlier != nil && a.rc == .partialResult else {
                let destroyed = a.rc == .notExist && curator.destroyAsked.contains(Self.chronicle + "/" + a.story)
                // The player gives up past the query's timeout (20 or 200 ms: a stalled keeper or
                // grapher, a slow player); the answer then holds nothing to check.
                let timedOut = a.rc == .queryTimedOut
                if !destroyed && !timedOut { out.append("\(name) answered \(a.rc)") }
                continue
            }
            let writers = clients.filter { $0.storyName == a.story }
            var logged: [EventKey: Event] = [:]
            // After a restart the story holds the killed job's archived events too.
            for c in allWriters where c.storyName == a.story { for e in c.logged { logged[e.key] = e } }
            let keys = a.events.map(\.key)
            if a.events.count > a.count { out.append("\(name) answered \(a.events.count) events") }
            if zip(keys, keys.dropFirst()).contains(where: { $0 >= $1 }) { out.append("\(name) answered out of order or with a duplicate") }
            if let e = a.events.first(where: { !a.range.contains($0.time) || logged[$0.key] != $0 }) {
                out.append("\(name) answered \(e.key), not logged so in its range")
            }
            if a.recording, let e = a.events.first(where: { $0.time >= a.completeBefore }) {
                out.append("\(name) answered \(e.key), newer than its completeBefore \(a.completeBefore)")
            }
            guard archive.eventsInFailedRounds == 0, writers.allSatisfy({ $0.rejected == 0 }) else { continue }
            let answered = Set(keys)
            let missing = writers.flatMap { c in c.logged.prefix(a.loggedBefore[c.clientId.rawValue] ?? 0) }.filter { e in
                a.range.contains(e.time) && (!a.recording || e.time < a.completeBefore) && !answered.contains(e.key)
                    && (a.events.count < a.count || keys.first.map { e.key > $0 } ?? true)
            }
            if let first = missing.min(by: { $0.key < $1.key }) {
                out.append("\(name) misses \(missing.count) complete event(s) logged before it was asked (first \(first.key)), "
                           + "answered \(a.events.count) before \(a.completeBefore)\(a.recording ? "" : " (not recorded)")")
            }
        }
        return out
    }

    /// The curator's destroys and listings: every refusal with ChronoLog's code (−4 for what is
    /// held, −3 for what is gone, checked as each came), a destroyed story's replay refused with −3,
    /// and each listing equal to the model of what existed while it was asked and answered (checked
    /// as each came: ``SimCurator``); at the end the destroyed story is marked destroyed in the
    /// catalog with its writers' events hidden, the curator's chronicle is gone from it (or marked),
    /// and the writers' chronicle, whose destroy was refused, is there unmarked.
    func checkDestroyed() -> [String] {
        var out = curator.violations
        if !curator.finished { out.append("destroy: the curator did not finish its script") }
        guard let catalog = catalogStore.stored else { return out }
        // After a restart the killed job's curator may have left its chronicle part way through its script.
        if restart.earlier == nil, let d = catalog.chronicles[SimCurator.chronicle], !d.destroyed {
            out.append("destroy: the catalog holds the destroyed chronicle \(SimCurator.chronicle), not marked")
        }
        if catalog.chronicles[Self.chronicle]?.destroyed ?? false {
            out.append("destroy: the catalog marks \(Self.chronicle) destroyed, whose destroy was refused")
        }
        for story in curator.destroyed where story.hasPrefix(Self.chronicle + "/") {
            let name = String(story.dropFirst(Self.chronicle.count + 1))
            guard let entry = catalog.story(chronicle: Self.chronicle, story: name) else { continue }
            if !entry.destroyed || !entry.writers.isEmpty {
                out.append("destroy: the catalog holds the destroyed \(story) as live (\(entry.writers.count) writers)")
            }
        }
        return out
    }

    /// Every client measured its clock's offset to the visor's at connect (a connect sample and
    /// four pings) within the estimate's error bound: |estimate − (visor clock − client clock)| ≤
    /// half the best round trip. The visor answered four pings per client rank.
    func checkClockOffsets() -> [String] {
        var out: [String] = []
        var links = clients.map { ($0.visor, -$0.clock.skew) }
        links += [(reader.visor, 0), (follower.visor, 0), (lastReader.visor, 0), (curator.visor, 0)]
        for (link, truth) in links where link.state == .closed {
            guard let measured = link.clockOffset else {
                out.append("clock: rank \(link.rank) measured no clock offset")
                continue
            }
            if (measured.offset - truth).magnitude > measured.errorBound {
                out.append("clock: rank \(link.rank) measured an offset of \(measured.offset) ns ± \(measured.errorBound), "
                           + "its clock is \(truth) ns off the visor's")
            }
        }
        let pings = visor.counters[.clockPings] ?? 0
        let expected = UInt64(links.filter { $0.0.state == .closed }.count) * UInt64(SimVisorLink.pings)
        if pings != expected { out.append("clock: the visor answered \(pings) clock pings, expected \(expected)") }
        return out
    }

    /// Replay answers refused with −3 because the curator asked to destroy their story.
    var refusedAsDestroyed: Int {
        let destroyedStory = { (story: String) in self.curator.destroyAsked.contains(Self.chronicle + "/" + story) }
        return reader.answers.values.filter { $0.rc == .notExist && destroyedStory($0.story) }.count
            + lastReader.answers.filter { $0.rc == .notExist && destroyedStory($0.story) }.count
            + curator.refusals.filter { $0 == .notExist }.count
    }
}
