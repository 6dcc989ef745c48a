import NIOCore
import Synchronization

/// The hub's deliveries on one event loop: events are written to their connections in the order
/// they were queued, and connections are flushed a slice at a time, so that the loop reads its
/// other sockets (a publisher's next request among them) between slices.
///
/// Flushing waits until every queued event is written, so an event that reaches a connection
/// still waiting for its flush leaves in the same system call as the one before it: under a burst
/// of publishes, a connection gets several events per write instead of one, which is what a
/// delivery costs most (the `writev`, and the reader's wake-up on the other end). A lone event is
/// written and flushed in the loop's next turn, as before: the coalescing adds no delay, it only
/// takes what piles up while the loop is busy. Under a flood that never lets the writes catch up,
/// flushing starts anyway once the oldest unflushed write is `flushWithin` old, so bytes keep
/// leaving and a connection's buffer never fills with writes it was not allowed to send.
///
/// With a `delay` (`write-delay-ms`, Centrifugo's idea), flushing also waits until the oldest
/// unflushed write is that old, so events published within the delay of each other leave in one
/// write even when the loop is idle: fewer writes, each event later by up to the delay.
final class LoopWriter: Sendable {
    /// Writes and flushes done in one turn of the loop before it reads its sockets again. A flush
    /// (one `writev`) costs several writes (appends to the channel's outbound queue).
    static let writesPerTurn = 1024
    static let flushesPerTurn = 128
    static let flushWithin = TimeAmount.milliseconds(5)
    static let pause = TimeAmount.microseconds(20)

    typealias Batch = (event: StreamEvent, subscribers: [(any StreamSubscriber, ByteBuffer)])

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
    func enqueue(_ batch: Batch) {
        let schedule = incoming.withLock { incoming in
            incoming.batches.append(batch)
            defer { incoming.scheduled = true }
            return !incoming.scheduled
        }
        if schedule { loop.execute { self.turn() } }
    }

    /// One slice of work, then the loop's sockets, then the next slice.
    private func turn() {
        let arrived = incoming.withLock { incoming in
            defer { incoming.batches.removeAll(keepingCapacity: true) }
            return incoming.batches
        }
        var waitUntil: NIODeadline?
        let more = work.withValue { work -> Bool in
            work.writing.append(contentsOf: arrived)
            write(&work)
            let age = loop.now - work.unflushedSince
            if work.writing.isEmpty, !work.unflushed.isEmpty, age < delay {
                waitUntil = work.unflushedSince + delay
            } else if work.writing.isEmpty || age >= Self.flushWithin {
                for _ in 0..<min(Self.flushesPerTurn, work.unflushed.count) { work.unflushed.removeFirst().flush() }
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

    /// NIO runs the tasks that tasks queue before it looks at its sockets again, so the next turn
    /// is scheduled just ahead: the loop finds nothing due, polls its sockets (without waiting if
    /// any is ready), then runs it.
    private func nextTurn() {
        loop.scheduleTask(in: Self.pause) { self.turn() }
    }

    private func nextTurn(at deadline: NIODeadline) {
        loop.scheduleTask(deadline: deadline) { self.turn() }
    }

    private func write(_ work: inout Work) {
        var budget = Self.writesPerTurn
        while budget > 0, let batch = work.writing.first {
            let end = min(batch.subscribers.count, work.next + budget)
            for (subscriber, frame) in batch.subscribers[work.next..<end] {
                subscriber.deliver(batch.event, frame: frame)
                if work.unflushed.isEmpty { work.unflushedSince = loop.now }
                work.unflushed.append(subscriber)
            }
            budget -= end - work.next
            if end == batch.subscribers.count {
                work.writing.removeFirst()
                work.next = 0
            } else {
                work.next = end
            }
        }
    }
}
