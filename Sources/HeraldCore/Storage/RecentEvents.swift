import Synchronization

/// What the store holds of the streams read lately, in memory: their current states, their newest
/// events and their cursors, so that a reader connecting or polling with a cursor among them is
/// answered without the database.
///
/// Guarantees:
/// - An answer is what the store would have answered at some moment since the reader asked: the
///   same notifications in the same seq order, the same `lastSeq`, the same `evictedThrough` for
///   every cursor it answers. It answers only cursors at or after the oldest event it holds
///   (`nil` otherwise: ask the store).
/// - It learns of writes from the fan-out (`record`, in seq order), which on a single node hears
///   of every write before the writer's caller is answered; so a reader that asks after a
///   publish was acknowledged sees it. A stream whose next seq does not follow (writers raced to
///   the bus) is forgotten and read from the store again.
/// - A stream starts being held from a whole snapshot of the store (`beginPriming`, then
///   `finishPriming`); a write recorded while the snapshot was read, and missing from it, stops the
///   snapshot from being held.
/// - The retention is applied the way the store applies it, at each event's write, so what ages
///   or is pushed out of the store leaves here too.
///
/// Bounded: at most `eventsPerStream` events per stream (older ones are the store's to answer) and
/// `streams` streams (past it, the oldest half held is forgotten).
public final class RecentEvents: Sendable {
    private struct Held {
        /// Seq order: every state, and the events after `coveredFrom`.
        var entries: [StreamNotification]
        var lastSeq: Int64
        var evictedThrough: Int64
        /// Everything the store holds after this seq is in `entries`.
        var coveredFrom: Int64
    }

    private enum Slot {
        /// A snapshot is being read from the store; the highest seq recorded meanwhile.
        case priming(recorded: Int64)
        case held(Held)
    }

    private struct Streams {
        var slots: [StreamName: Slot] = [:]
        var order: [StreamName] = []
    }

    let retention: Retention
    let eventsPerStream: Int
    let streamCapacity: Int
    private let streams = Mutex(Streams())

    public init(retention: Retention, eventsPerStream: Int = 64, streams: Int = 4096) {
        self.retention = retention
        self.eventsPerStream = max(eventsPerStream, 1)
        self.streamCapacity = max(streams, 2)
    }

    /// Streams held (primed and current), for tests.
    public var heldStreams: Int {
        streams.withLock { $0.slots.values.filter { if case .held = $0 { true } else { false } }.count }
    }

    // MARK: Reading

    /// What `HeraldStore.replay(stream, after: seq)` answers, if held.
    public func replay(_ stream: StreamName, after seq: Int64) -> StreamReplay? {
        held(stream, answering: seq) { held in
            StreamReplay(
                notifications: held.entries.filter { $0.seq > seq || $0.mode == .replace },
                evictedThrough: held.evictedThrough, lastSeq: held.lastSeq)
        }
    }

    /// What `HeraldStore.notifications(in:after: .seq(seq), limit:)` answers, with the stream's
    /// `lastSeq`, if held.
    public func notifications(in stream: StreamName, after seq: Int64, limit: Int)
        -> (notifications: [StreamNotification], lastSeq: Int64)?
    {
        held(stream, answering: seq) { held in
            (Array(held.entries.lazy.filter { $0.seq > seq }.prefix(limit)), held.lastSeq)
        }
    }

    /// The stream's `lastSeq`, if held.
    public func lastSeq(of stream: StreamName) -> Int64? {
        streams.withLock { streams in
            guard case .held(let held) = streams.slots[stream] else { return nil }
            return held.lastSeq
        }
    }

    private func held<T>(_ stream: StreamName, answering seq: Int64, _ answer: (Held) -> T) -> T? {
        streams.withLock { streams in
            guard case .held(let held) = streams.slots[stream], seq >= held.coveredFrom else { return nil }
            return answer(held)
        }
    }

    // MARK: Filling

    /// True if the caller is to read the whole stream from the store and hand it to
    /// `finishPriming`: the stream is neither held nor being read by another caller.
    public func beginPriming(_ stream: StreamName) -> Bool {
        streams.withLock { streams in
            guard streams.slots[stream] == nil else { return false }
            streams.slots[stream] = .priming(recorded: 0)
            streams.order.append(stream)
            if streams.order.count > streamCapacity {
                let forgotten = streams.order.prefix(streams.order.count / 2)
                for stream in forgotten { streams.slots[stream] = nil }
                streams.order.removeFirst(forgotten.count)
            }
            return true
        }
    }

    /// Holds `snapshot`, the store's `replay(stream, after: 0)` read after `beginPriming`, unless
    /// a write it misses was recorded meanwhile; nil drops the attempt (the read failed).
    public func finishPriming(_ stream: StreamName, with snapshot: StreamReplay?) {
        streams.withLock { streams in
            guard case .priming(let recorded) = streams.slots[stream] else { return }
            guard let snapshot, recorded <= snapshot.lastSeq else {
                streams.slots[stream] = nil
                streams.order.removeAll { $0 == stream }
                return
            }
            var held = Held(
                entries: snapshot.notifications, lastSeq: snapshot.lastSeq, evictedThrough: snapshot.evictedThrough,
                coveredFrom: 0)
            trim(&held)
            streams.slots[stream] = .held(held)
        }
    }

    /// A write, as the fan-out hears of it: called for every event, in the order each stream's
    /// events are handed on.
    public func record(_ event: StreamEvent) {
        streams.withLock { streams in
            switch streams.slots[event.stream] {
            case nil:
                return
            case .priming(let recorded):
                streams.slots[event.stream] = .priming(recorded: max(recorded, event.notification.seq))
            case .held(var held):
                let seq = event.notification.seq
                if seq <= held.lastSeq { return }
                guard seq == held.lastSeq + 1 else {
                    streams.slots[event.stream] = nil
                    streams.order.removeAll { $0 == event.stream }
                    return
                }
                streams.slots[event.stream] = nil  // keeps `held` uniquely referenced while it changes
                apply(event.notification, to: &held)
                streams.slots[event.stream] = .held(held)
            }
        }
    }

    /// The store's write (`SQLiteStore.write`), on what is held.
    private func apply(_ notification: StreamNotification, to held: inout Held) {
        held.lastSeq = notification.seq
        if notification.mode == .replace { held.entries.removeAll { $0.name == notification.name } }
        held.entries.append(notification)
        if notification.mode == .append {
            let events = held.entries.filter { $0.mode == .append }
            let aged = events.last { $0.timestamp < notification.timestamp - retention.maxAge }?.seq
            let pushedOut = events.count > retention.maxCount ? events[events.count - retention.maxCount - 1].seq : nil
            if let cutoff = [aged, pushedOut].compactMap({ $0 }).max() {
                held.entries.removeAll { $0.mode == .append && $0.seq <= cutoff }
                held.evictedThrough = max(held.evictedThrough, cutoff)
            }
        }
        trim(&held)
    }

    /// Keeps the newest `eventsPerStream` events; the store answers for the older ones.
    private func trim(_ held: inout Held) {
        var excess = held.entries.count(where: { $0.mode == .append }) - eventsPerStream
        guard excess > 0 else { return }
        var coveredFrom = held.coveredFrom
        held.entries.removeAll { entry in
            guard excess > 0, entry.mode == .append else { return false }
            excess -= 1
            coveredFrom = max(coveredFrom, entry.seq)
            return true
        }
        held.coveredFrom = coveredFrom
    }
}
