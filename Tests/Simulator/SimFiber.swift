import Foundation

/// A thread on which the simulator runs a grapher's step that may block in a collective (an
/// archive round, the graphers' agreement, the archive's close) until the other graphers enter it:
/// the step then hands control back to the simulator's thread, which steps the others, and is
/// resumed once the collective completed. One baton passes between the two threads through two
/// semaphores, so exactly one of them runs at any time and a seed still replays exactly.
///
/// Steps that cannot block run on the simulator's own thread; a fiber only carries a grapher
/// through its rounds (a few hand-offs per round), so its cost does not grow with the steps.
final class SimFiber: @unchecked Sendable {
    // Touched by one thread at a time: whichever holds the baton (the semaphores order the accesses).
    private let toFiber = DispatchSemaphore(value: 0)
    private let toCaller = DispatchSemaphore(value: 0)
    private var body: (() -> Void)?
    private var started = false
    private var stopping = false
    /// Whether the body waits in ``block()`` for ``resume()``.
    private(set) var isBlocked = false
    private let name: String

    /// A fiber whose thread is named `name` (started at the first ``run(_:)``).
    init(name: String) { self.name = name }

    /// Runs `body` on the fiber's thread while the caller waits; returns when it returned or blocked.
    func run(_ body: @escaping () -> Void) {
        precondition(!isBlocked && self.body == nil, "SimFiber.run while a body is in progress")
        if !started {
            started = true
            let thread = Thread { [self] in loop() }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
        self.body = body
        toFiber.signal()
        toCaller.wait()
    }

    /// On the fiber's thread, inside the body: hands the baton back to the caller of ``run(_:)`` or
    /// ``resume()`` and waits until it is resumed.
    func block() {
        isBlocked = true
        toCaller.signal()
        toFiber.wait()
        isBlocked = false
    }

    /// Resumes a blocked body; returns when it returned or blocked again.
    func resume() {
        precondition(isBlocked, "SimFiber.resume of a body that is not blocked")
        toFiber.signal()
        toCaller.wait()
    }

    /// Ends the thread (its body must have returned) and waits until it did; again, does nothing.
    func stop() {
        precondition(!isBlocked, "SimFiber.stop while its body is blocked")
        guard started, !stopping else { return }
        stopping = true
        toFiber.signal()
        toCaller.wait()
    }

    private func loop() {
        while true {
            toFiber.wait()
            if stopping { break }
            body?()
            body = nil
            toCaller.signal()
        }
        toCaller.signal()
    }
}
