import NIOCore
import Synchronization

/// Delivers each event to the readers of its stream on this node: held connections (SSE,
/// WebSocket) and long-poll requests.
///
/// The hot path is built for large audiences: an event is encoded once per transport, the
/// subscribers are grouped by event loop, and each loop's `LoopWriter` writes the shared bytes to
/// all of its connections, several events to a connection per write when they pile up. No task,
/// lock or allocation per subscriber beyond the write.
///
/// The hub hands a stream's events on in seq order, each once. Events reach it from writers that
/// race each other and, with many nodes, over a bus that may reorder or lose them, so it keeps,
/// for every stream that has readers here, the seq it has handed on (`deliver` says when an event
/// leaves a gap behind it; `StreamSequencer` fills the gap from the store). That seq only ever
/// moves down on its own when a new reader's history ends below it (`observe`), which costs a
/// re-read of what readers already skip by their own cursors, never a missed event.
public final class StreamHub: Sendable {
    /// What `deliver` did with an event.
    public enum Delivery: Equatable, Sendable {
        /// Handed to the stream's readers (or the stream has none here).
        case delivered
        /// At or below what the stream's readers were already handed, or before its first reader's
        /// history ended (`observe` says so): not delivered.
        case stale
        /// Ahead of the next seq, which is after `seq`: not delivered. Read the stream after
        /// `seq` from the store and deliver that (accepting gaps, which are replaced states).
        case gap(after: Int64)
    }

    private struct Readers {
        /// Grouped as the hub hands events on: one group per event loop and encoding, so that an
        /// event costs the hub a step per group, not per subscriber.
        var groups: [GroupKey: Group] = [:]
        /// The highest seq handed to these readers; nil until the first reader's history ends.
        var handedOn: Int64?
        /// The highest seq that arrived before then, held back: without a position, the hub
        /// cannot tell whether it comes in order.
        var arrivedEarly: Int64?
    }

    private struct GroupKey: Hashable {
        let loop: ObjectIdentifier
        let encoding: String
    }

    /// Subscribers of one stream on one event loop, with one encoding. `subscribers` is handed to
    /// the loop's writer as it is (a copy only if it changes while the writer still holds it).
    private struct Group {
        let loop: any EventLoop
        let encoding: EventEncoding
        var subscribers: [any StreamSubscriber] = []
        /// Where each subscriber is in `subscribers`.
        var positions: [ObjectIdentifier: Int] = [:]

        mutating func add(_ subscriber: any StreamSubscriber) {
            let id = ObjectIdentifier(subscriber)
            guard positions[id] == nil else { return }
            positions[id] = subscribers.count
            subscribers.append(subscriber)
        }

        mutating func remove(_ subscriber: any StreamSubscriber) {
            guard let position = positions.removeValue(forKey: ObjectIdentifier(subscriber)) else { return }
            let last = subscribers.removeLast()
            if position < subscribers.count {
                subscribers[position] = last
                positions[ObjectIdentifier(last)] = position
            }
        }
    }

    private static func key(_ subscriber: any StreamSubscriber) -> GroupKey {
        GroupKey(loop: ObjectIdentifier(subscriber.eventLoop), encoding: subscriber.encoding.id)
    }

    private struct Registry {
        var byStream: [StreamName: Readers] = [:]
        /// Each subscriber's streams: a handful, so a list (a set would cost every connection more).
        var bySubscriber: [ObjectIdentifier: (subscriber: any StreamSubscriber, streams: [StreamName])] = [:]
    }

    private let registry = Mutex(Registry())
    private let delivering = Mutex(())
    /// One writer per event loop that has subscribers, made on first use.
    private let writers = Mutex([ObjectIdentifier: LoopWriter]())
    public let pollWaiters = PollWaiters()
    public let metrics: FanOutMetrics
    /// Told of every event first, in the order the hub checks them.
    let recent: RecentEvents?
    /// `LoopWriter.delay`.
    let writeDelay: TimeAmount

    public init(metrics: FanOutMetrics = FanOutMetrics(), recent: RecentEvents? = nil, writeDelay: TimeAmount = .zero) {
        self.metrics = metrics
        self.recent = recent
        self.writeDelay = writeDelay
    }

    /// Held connections currently subscribed to at least one stream.
    public var subscriberCount: Int { registry.withLock { $0.bySubscriber.count } }

    public func subscribe(_ subscriber: any StreamSubscriber, to streams: [StreamName]) {
        let id = ObjectIdentifier(subscriber)
        let key = Self.key(subscriber)
        registry.withLock { registry in
            for stream in streams {
                registry.byStream[stream, default: Readers()].groups[
                    key, default: Group(loop: subscriber.eventLoop, encoding: subscriber.encoding)
                ].add(subscriber)
            }
            for stream in streams where registry.bySubscriber[id]?.streams.contains(stream) != true {
                registry.bySubscriber[id, default: (subscriber, [])].streams.append(stream)
            }
        }
    }

    public func unsubscribe(_ subscriber: any StreamSubscriber, from streams: [StreamName]) {
        let id = ObjectIdentifier(subscriber)
        let key = Self.key(subscriber)
        registry.withLock { registry in
            for stream in streams {
                registry.byStream[stream]?.groups[key]?.remove(subscriber)
                if registry.byStream[stream]?.groups[key]?.subscribers.isEmpty == true {
                    registry.byStream[stream]?.groups[key] = nil
                }
                if registry.byStream[stream]?.groups.isEmpty == true { registry.byStream[stream] = nil }
            }
            registry.bySubscriber[id]?.streams.removeAll { streams.contains($0) }
            if registry.bySubscriber[id]?.streams.isEmpty == true { registry.bySubscriber[id] = nil }
        }
    }

    /// Removes the subscriber from every stream it reads; for when its connection ends.
    public func unsubscribeAll(_ subscriber: any StreamSubscriber) {
        let streams = registry.withLock { $0.bySubscriber[ObjectIdentifier(subscriber)]?.streams } ?? []
        unsubscribe(subscriber, from: streams)
    }

    /// A reader of `stream` starts after `seq` (its history ends there): events after it must
    /// reach it, so the stream's position comes down to `seq` if it is past it. True when events
    /// past `seq` arrived before the stream had a position and were held back: fill the stream
    /// after `seq` from the store (`StreamSequencer.fill`).
    @discardableResult
    public func observe(_ stream: StreamName, at seq: Int64) -> Bool {
        registry.withLock { registry in
            guard let readers = registry.byStream[stream] else { return false }
            guard let handedOn = readers.handedOn else {
                registry.byStream[stream]!.handedOn = seq
                registry.byStream[stream]!.arrivedEarly = nil
                return (readers.arrivedEarly ?? 0) > seq
            }
            if seq < handedOn { registry.byStream[stream]!.handedOn = seq }
            return false
        }
    }

    /// The seq handed on so far for `stream`, if it is read here.
    public func position(of stream: StreamName) -> Int64? {
        registry.withLock { $0.byStream[stream]?.handedOn }
    }

    /// Every stream read here, with the seq handed on so far: where to catch up from after the
    /// bus lost messages.
    public func positions() -> [(stream: StreamName, seq: Int64)] {
        registry.withLock { registry in
            registry.byStream.compactMap { stream, readers in readers.handedOn.map { (stream, $0) } }
        }
    }

    /// Hands the event to its stream's readers if it is the next one; with `acceptingGap`, if
    /// it is merely newer (what the store holds, where replaced states leave holes).
    @discardableResult
    public func deliver(_ event: StreamEvent, acceptingGap: Bool = false) -> Delivery {
        // Held from the seq check until the event is queued on every loop, so two events racing
        // in are queued in the order they were checked in.
        let (delivery, writeNow) = delivering.withLock { _ in
            recent?.record(event)
            return queue(event, acceptingGap: acceptingGap)
        }
        // Outside the lock: a write reaches the subscribers' code, and other loops' deliveries
        // need not wait for it.
        writeNow?.writeNow()
        // After `recent` has it: a woken long-poll reads it from there.
        pollWaiters.deliver(event.notification.seq, on: event.stream)
        return delivery
    }

    /// Queues the event on its readers' loops; also the writer the caller is to write it with now
    /// (its own loop's, the only one that can be).
    private func queue(_ event: StreamEvent, acceptingGap: Bool) -> (Delivery, writeNow: LoopWriter?) {
        let seq = event.notification.seq
        var delivery = Delivery.delivered
        let groups = registry.withLock { registry -> Dictionary<GroupKey, Group>.Values? in
            guard let readers = registry.byStream[event.stream] else { return nil }
            guard let handedOn = readers.handedOn else {
                registry.byStream[event.stream]!.arrivedEarly = max(readers.arrivedEarly ?? 0, seq)
                delivery = .stale
                return nil
            }
            if seq <= handedOn {
                delivery = .stale
                return nil
            }
            if seq > handedOn + 1, !acceptingGap {
                delivery = .gap(after: handedOn)
                return nil
            }
            registry.byStream[event.stream]!.handedOn = seq
            return readers.groups.values
        }
        guard let groups else { return (delivery, nil) }
        var frames: [String: ByteBuffer] = [:]
        var writeNow: LoopWriter?
        for group in groups {
            let encoding = group.encoding
            let frame = frames[encoding.id] ?? encoding.encode(event)
            frames[encoding.id] = frame
            let id = ObjectIdentifier(group.loop)
            let writer = writers.withLock { writers in
                if let writer = writers[id] { return writer }
                let made = LoopWriter(loop: group.loop, delay: writeDelay)
                writers[id] = made
                return made
            }
            if writer.enqueue((event, frame, group.subscribers)) { writeNow = writer }
            metrics.delivered(group.subscribers.count, bytes: frame.readableBytes, transport: encoding.transport)
        }
        return (delivery, writeNow)
    }

    /// Calls every subscriber's `heartbeat` on its event loop; `HeartbeatService` does this on a timer.
    public func heartbeat() {
        forEachSubscriber { $0.heartbeat() }
    }

    /// Ends every held connection, for a graceful shutdown.
    public func shutdownAll() {
        forEachSubscriber { $0.shutdown() }
    }

    private func forEachSubscriber(_ body: @escaping @Sendable (any StreamSubscriber) -> Void) {
        let subscribers = registry.withLock { $0.bySubscriber.values.map(\.subscriber) }
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, subscribers: [any StreamSubscriber])] = [:]
        for subscriber in subscribers {
            byLoop[ObjectIdentifier(subscriber.eventLoop), default: (subscriber.eventLoop, [])].subscribers.append(subscriber)
        }
        for (loop, batch) in byLoop.values {
            loop.execute { for subscriber in batch { body(subscriber) } }
        }
    }
}
