import NIOCore
import Synchronization

/// The hub's deliveries on one event loop: events are written to their connections in the order
/// they were queued, and connections are flushed a slice at a time, so that the loop reads its
/// other sockets (a publisher's next request among them) between slices. A slice is what fits in
/// `turnBudget` of the loop's time, whatever the machine's speed: the loop answers its other
/// sockets within about that long however large the audience.
///
/// Flushing waits until every queued event is written, so an event that reaches a connection
/// still waiting for its flush leaves in the same system call as the one before it: under a burst
/// of publishes, a connection gets several events per write instead of one, which is what a
/// delivery costs most (the `writev`, and the reader's wake-up on the other end). A lone event is
/// written and flushed in the loop's next turn (or at once, below): the coalescing adds no delay,
/// it only takes what piles up while the loop is busy. Under a flood that never lets the writes
/// catch up, flushing starts anyway once the oldest unflushed write is `flushWithin` old, so bytes
/// keep leaving and a connection's buffer never fills with writes it was not allowed to send.
///
/// A small batch handed over on the writer's own loop while it is idle (a publish read on the loop
/// that holds its readers) is written by its caller at once, in a turn of its own (`enqueue` says
/// so; flushed too, unless a write delay says to wait), not in a turn queued behind the rest of
/// the loop's work: that work was the publisher's answer, whose write woke the publisher, which
/// then took the CPU before the reader got its event (one reader at 200 publishes a second: p50
/// lower by about a tenth of a millisecond, BENCHMARKS.md).
///
/// With a `delay` (`write-delay-ms`, Centrifugo's idea), flushing also waits until the oldest
/// unflushed write is that old, so events published within the delay of each other leave in one
/// write even when the loop is idle: fewer writes, each event later by up to the delay.
final class LoopWriter: Sendable {
    /// How long one turn writes and flushes before the loop reads its sockets again. Short turns
    /// also coalesce more: a publisher answered sooner publishes its next event while the
    /// connections not flushed yet can still take it in the same write. Against the 1,024 writes
    /// and 128 flushes a turn had before (about 2 ms here), 10 events published back to back to
    /// 1,000 subscribers left in 0.2 writes per delivery instead of 0.75, at half the server's CPU
    /// per delivery and 1.6–2 times the deliveries/s; the cost is that an event of such a burst
    /// waits longer for its write (the median at 10,000 subscribers: about 0.4 s instead of 0.25).
    static let turnBudget = TimeAmount.microseconds(250)
    /// Writes and flushes between looks at the clock.
    static let writesPerCheck = 64
    static let flushesPerCheck = 8
    static let flushWithin = TimeAmount.milliseconds(5)
    static let pause = TimeAmount.microseconds(20)

    /// An event, its bytes in the subscribers' encoding, and the subscribers (all of this loop).
    typealias Batch = (event: StreamEvent, frame: ByteBuffer, subscribers: [any StreamSubscriber])

    let loop: any EventLoop
    let delay: TimeAmount

    /// Filled by any thread; `scheduled` says a turn is queued on the loop, which empties it.
    private let incoming = Mutex<(batches: [Batch], scheduled: Bool)>(([], false))

    /// The loop's own state.
    private struct Work {
        /// Batches being written, the first from its `next` subscriber on.
        var writing = CircularBuffer<Batch>()
        var next = 0
        /// Written to and not flushed yet, in the order written. A subscriber may be here more
        /// than once; its flush is then a no-op.
        var unflushed = CircularBuffer<any StreamSubscriber>()
        /// When `unflushed` last went from empty to not.
        var unflushedSince = NIODeadline.uptimeNanoseconds(0)

        var isDone: Bool { writing.isEmpty && unflushed.isEmpty }
    }

    private let work: NIOLoopBoundBox<Work>

    init(loop: any EventLoop, delay: TimeAmount = .zero) {
        self.loop = loop
        self.delay = delay
        self.work = .makeBoxSendingValue(Work(), eventLoop: loop)
    }

    /// Queues `event` for these subscribers (all of this loop), behind what is already queued.
    /// True when the caller is to write it now (`writeNow`), once it holds no lock: the writer was
    /// idle, the caller is on its loop, and the batch is no longer than a check's worth of writes.
    /// That turn also takes what is queued meanwhile, so it delays the caller by a turn's budget at
    /// most. Otherwise a turn queued on the loop writes it.
    func enqueue(_ batch: Batch) -> Bool {
        let now = loop.inEventLoop && batch.subscribers.count <= Self.writesPerCheck
        let schedule = incoming.withLock { incoming in
            incoming.batches.append(batch)
            defer { incoming.scheduled = true }
            return !incoming.scheduled
        }
        guard schedule else { return false }
        if now { return true }
        loop.execute { self.turn() }
        return false
    }

    /// The turn `enqueue` left to its caller, on the loop.
    func writeNow() {
        turn()
    }

    /// One slice of work, then the loop's sockets, then the next slice.
    private func turn() {
        var waitUntil: NIODeadline?
        let more = work.withValue { work -> Bool in
            let start = loop.now
            let end = start + Self.turnBudget
            // Writes that are due to leave share the turn with the writes still to make, or a
            // large audience's later events would keep the first from leaving at all.
            let overdue = !work.unflushed.isEmpty && start - work.unflushedSince >= Self.flushWithin
            let writesEnd = overdue ? start + .nanoseconds(Self.turnBudget.nanoseconds / 2) : end
            // Events that arrive while the turn writes are written in it too, before any flush:
            // they leave in the same writes as the ones before them.
            var arrived = takeArrived()
            repeat {
                work.writing.append(contentsOf: arrived)
                write(&work, until: writesEnd)
                guard work.writing.isEmpty, loop.now < writesEnd else { break }
                arrived = takeArrived()
            } while !arrived.isEmpty
            let age = loop.now - work.unflushedSince
            if work.writing.isEmpty, !work.unflushed.isEmpty, age < delay {
                waitUntil = work.unflushedSince + delay
            } else if work.writing.isEmpty || age >= Self.flushWithin {
                flush(&work, until: end)
            }
            return !work.isDone
        }
        if let waitUntil { return nextTurn(at: waitUntil) }
        if more { return nextTurn() }
        let again = incoming.withLock { incoming in
            if incoming.batches.isEmpty { incoming.scheduled = false }
            return incoming.scheduled
        }
        if again { nextTurn() }
    }

    /// The batches queued since the last take. Swapped out rather than copied and emptied: the
    /// copy would share its storage with the queue, so emptying the queue allocated on every take,
    /// the many that find nothing included.
    private func takeArrived() -> [Batch] {
        incoming.withLock { incoming in
            var taken: [Batch] = []
            swap(&taken, &incoming.batches)
            return taken
        }
    }

    /// NIO runs the tasks that tasks queue before it looks at its sockets again, so the next turn
    /// is scheduled just ahead: the loop finds nothing due, polls its sockets (without waiting if
    /// any is ready), then runs it.
    private func nextTurn() {
        loop.scheduleTask(in: Self.pause) { self.turn() }
    }

    private func nextTurn(at deadline: NIODeadline) {
        loop.scheduleTask(deadline: deadline) { self.turn() }
    }

    /// Writes queued events, a check's worth at a time, until `deadline` or none is left.
    private func write(_ work: inout Work, until deadline: NIODeadline) {
        while let batch = work.writing.first {
            let end = min(batch.subscribers.count, work.next + Self.writesPerCheck)
            for subscriber in batch.subscribers[work.next..<end] {
                subscriber.deliver(batch.event, frame: batch.frame)
                if work.unflushed.isEmpty { work.unflushedSince = loop.now }
                work.unflushed.append(subscriber)
            }
            if end == batch.subscribers.count {
                work.writing.removeFirst()
                work.next = 0
            } else {
                work.next = end
            }
            if loop.now >= deadline { return }
        }
    }

    /// Flushes written connections, oldest first, until `deadline` (at least one check's worth,
    /// so flushing moves on even when writing took the whole turn) or none is left.
    private func flush(_ work: inout Work, until deadline: NIODeadline) {
        repeat {
            for _ in 0..<min(Self.flushesPerCheck, work.unflushed.count) { work.unflushed.removeFirst().flush() }
        } while !work.unflushed.isEmpty && loop.now < deadline
    }
}
