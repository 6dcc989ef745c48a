import NIOCore
import Synchronization

/// Delivers each event to the readers of its stream on this node: held connections (SSE,
/// WebSocket) and long-poll requests.
///
/// The hot path is built for large audiences: an event is encoded once per transport, the
/// subscribers are grouped by event loop, and each loop gets one task that writes the shared
/// bytes to all of its connections. No task, lock or allocation per subscriber beyond the write.
public final class StreamHub: Sendable {
    private struct Registry {
        var byStream: [StreamName: [ObjectIdentifier: any StreamSubscriber]] = [:]
        var bySubscriber: [ObjectIdentifier: (subscriber: any StreamSubscriber, streams: Set<StreamName>)] = [:]
    }

    /// Deliveries waiting for their event loop, per loop. A loop has at most one drain task
    /// scheduled; deliveries that arrive meanwhile join the batch it will write.
    private struct LoopBacklog {
        var batches: [(StreamEvent, [(any StreamSubscriber, ByteBuffer)])] = []
        var scheduled = false
    }

    private let registry = Mutex(Registry())
    private let backlogs = Mutex([ObjectIdentifier: LoopBacklog]())
    public let pollWaiters = PollWaiters()

    public init() {}

    /// Held connections currently subscribed to at least one stream.
    public var subscriberCount: Int { registry.withLock { $0.bySubscriber.count } }

    public func subscribe(_ subscriber: any StreamSubscriber, to streams: [StreamName]) {
        let id = ObjectIdentifier(subscriber)
        registry.withLock { registry in
            for stream in streams { registry.byStream[stream, default: [:]][id] = subscriber }
            registry.bySubscriber[id, default: (subscriber, [])].streams.formUnion(streams)
        }
    }

    public func unsubscribe(_ subscriber: any StreamSubscriber, from streams: [StreamName]) {
        let id = ObjectIdentifier(subscriber)
        registry.withLock { registry in
            for stream in streams {
                registry.byStream[stream]?[id] = nil
                if registry.byStream[stream]?.isEmpty == true { registry.byStream[stream] = nil }
            }
            registry.bySubscriber[id]?.streams.subtract(streams)
            if registry.bySubscriber[id]?.streams.isEmpty == true { registry.bySubscriber[id] = nil }
        }
    }

    /// Removes the subscriber from every stream it reads; for when its connection ends.
    public func unsubscribeAll(_ subscriber: any StreamSubscriber) {
        let streams = registry.withLock { $0.bySubscriber[ObjectIdentifier(subscriber)]?.streams } ?? []
        unsubscribe(subscriber, from: Array(streams))
    }

    public func deliver(_ event: StreamEvent) {
        pollWaiters.deliver(event.notification.seq, on: event.stream)
        guard let subscribers = registry.withLock({ $0.byStream[event.stream].map { Array($0.values) } }) else {
            return
        }
        var frames: [EventEncoding: ByteBuffer] = [:]
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, subscribers: [(any StreamSubscriber, ByteBuffer)])] = [:]
        for subscriber in subscribers {
            let encoding = subscriber.encoding
            let frame: ByteBuffer
            if let encoded = frames[encoding] {
                frame = encoded
            } else {
                frame = encoding.encode(event)
                frames[encoding] = frame
            }
            let loop = subscriber.eventLoop
            byLoop[ObjectIdentifier(loop), default: (loop, [])].subscribers.append((subscriber, frame))
        }
        for (id, entry) in byLoop {
            let schedule = backlogs.withLock { backlogs -> Bool in
                backlogs[id, default: LoopBacklog()].batches.append((event, entry.subscribers))
                if backlogs[id]!.scheduled { return false }
                backlogs[id]!.scheduled = true
                return true
            }
            if schedule { entry.loop.execute { self.drain(id) } }
        }
    }

    /// Writes every delivery queued for one loop, then flushes each connection once.
    private func drain(_ loop: ObjectIdentifier) {
        let batches = backlogs.withLock { backlogs in
            let batches = backlogs[loop]?.batches ?? []
            backlogs[loop] = LoopBacklog()
            return batches
        }
        var touched: [ObjectIdentifier: any StreamSubscriber] = [:]
        for (event, subscribers) in batches {
            for (subscriber, frame) in subscribers {
                subscriber.deliver(event, frame: frame)
                if batches.count > 1 { touched[ObjectIdentifier(subscriber)] = subscriber }
            }
        }
        if batches.count > 1 {
            for subscriber in touched.values { subscriber.flush() }
        } else if let (_, subscribers) = batches.first {
            for (subscriber, _) in subscribers { subscriber.flush() }
        }
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
