import Foundation

/// A write phase's loop over a writer's events, the same for every API: calls the API's body for
/// event 0, 1, … in order, times every n-th call (`--sample-every`), samples the timeline and
/// checks the stonewall every 64 events.
enum IOREventLoop {
    /// - Parameters:
    ///   - localStonewall: whether this loop stops by itself once `-D` seconds have passed; an API
    ///     whose writes are collective decides in `body` instead (all ranks alike).
    ///   - body: stores event `i`; returns `false` to stop after it.
    /// - Returns: the events stored.
    static func run(_ p: IORParameters, _ recorder: inout IORPhaseRecorder, localStonewall: Bool,
                    _ body: (Int) throws -> Bool) throws -> Int {
        let every = p.sampleEvery, wall = Double(p.stonewallSeconds)
        var i = 0, untilSample = 0
        while i < p.eventsPerWriter {
            if untilSample == 0 {
                untilSample = every - 1
                let t0 = DispatchTime.now().uptimeNanoseconds
                let more = try body(i)
                recorder.recordLatency(nanoseconds: DispatchTime.now().uptimeNanoseconds &- t0)
                i += 1
                guard more else { break }
            } else {
                untilSample -= 1
                i += 1
                guard try body(i - 1) else { break }
            }
            if i & 63 == 0 {
                recorder.progress(events: i)
                if localStonewall, wall > 0, i < p.eventsPerWriter, recorder.secondsWriting >= wall {
                    recorder.stonewall()
                    break
                }
            }
        }
        recorder.progress(events: i)
        return i
    }
}
