import Synchronization

/// What the store holds of the streams read lately, in memory: their current states, their newest
/// events and their cursors, so that a reader connecting or polling with a cursor among them is
/// answered without the database.
///
/// Guarantees:
/// - An answer is what the store would have answered at some moment since the reader asked: the
///   same notifications in the same seq order and the same `lastSeq`. Its `evictedThrough` may be
///   lower than the store's only below the oldest event held, where it tells a reader nothing:
///   every cursor it answers is missing events exactly when the store says so. It answers only
///   cursors at or after the oldest event it holds (`nil` otherwise: ask the store).
/// - It learns of writes from the fan-out (`record`, in seq order), which on a single node hears
///   of every write before the writer's caller is answered; so a reader that asks after a
///   publish was acknowledged sees it. A stream whose next seq does not follow (writers raced to
///   the bus) is forgotten and read from the store again.
/// - A stream starts being held from a whole snapshot of the store (`beginPriming`, then
///   `finishPriming` with the ticket it was given); a write recorded while the snapshot was read,
///   and missing from it, stops the snapshot from being held.
/// - The retention is applied the way the store applies it, at each event's write, so what ages
///   or is pushed out of the store leaves here too.
///
/// Bounded: at most `eventsPerStream` events per stream (older ones are the store's to answer);
/// a stream whose states and events come to more than `bytesPerStream` is not held; and past
/// `streams` streams, or `bytes` in all, the streams primed longest ago are forgotten.
public final class RecentEvents: Sendable {
    private struct Held {
        /// Seq order: every state, and the events after `coveredFrom`.
        var entries: [StreamNotification]
        var lastSeq: Int64
        var evictedThrough: Int64
        /// Everything the store holds after this seq is in `entries`.
        var coveredFrom: Int64
        var bytes: Int
    }

    private enum Slot {
        /// A snapshot is being read from the store; the highest seq recorded meanwhile.
        case priming(recorded: Int64)
        case held(Held)
    }

    /// A priming's ticket: the slot it may fill, and nothing that took that slot's place later.
    public struct Ticket: Sendable {
        let stream: StreamName
        let id: UInt64
    }

    private struct Streams {
        var slots: [StreamName: (id: UInt64, slot: Slot)] = [:]
        /// Oldest priming first. An entry whose slot was forgotten, or taken by a later priming
        /// (another id), is skipped: it goes when the oldest are forgotten.
        var order: [(stream: StreamName, id: UInt64)] = []
        var nextID: UInt64 = 0
        var bytes = 0
    }

    let retention: Retention
    let eventsPerStream: Int
    let streamCapacity: Int
    let bytesPerStream: Int
    let byteCapacity: Int
    private let streams = Mutex(Streams())

    public init(
        retention: Retention, eventsPerStream: Int = 64, streams: Int = 4096, bytesPerStream: Int = 256 << 10,
        bytes: Int = 64 << 20
    ) {
        self.retention = retention
        self.eventsPerStream = max(eventsPerStream, 1)
        self.streamCapacity = max(streams, 2)
        self.bytesPerStream = bytesPerStream
        self.byteCapacity = bytes
    }

    /// Streams held (primed and current), and what their notifications take; for tests.
    public var held: (streams: Int, bytes: Int) {
        streams.withLock { streams in
            (streams.slots.values.filter { if case .held = $0.slot { true } else { false } }.count, streams.bytes)
        }
    }

    // MARK: Reading

    /// What `HeraldStore.replay(stream, after: seq)` answers, if held.
    public func replay(_ stream: StreamName, after seq: Int64) -> StreamReplay? {
        withHeld(stream, answering: seq) { held in
            StreamReplay(notifications: held.entries, evictedThrough: held.evictedThrough, lastSeq: held.lastSeq).after(seq)
        }
    }

    /// What `HeraldStore.notifications(in:after: .seq(seq), limit:)` answers, if held.
    public func notifications(in stream: StreamName, after seq: Int64, limit: Int) -> [StreamNotification]? {
        withHeld(stream, answering: seq) { StreamReplay.page(of: $0.entries, after: seq, limit: limit) }
    }

    /// The stream's `lastSeq`, if held.
    public func lastSeq(of stream: StreamName) -> Int64? {
        streams.withLock { streams in
            guard case .held(let held) = streams.slots[stream]?.slot else { return nil }
            return held.lastSeq
        }
    }

    private func withHeld<T>(_ stream: StreamName, answering seq: Int64, _ answer: (Held) -> T) -> T? {
        streams.withLock { streams in
            guard case .held(let held) = streams.slots[stream]?.slot, seq >= held.coveredFrom else { return nil }
            return answer(held)
        }
    }

    // MARK: Filling

    /// A ticket if the caller is to read the whole stream from the store and hand it to
    /// `finishPriming`: the stream is neither held nor being read by another caller.
    public func beginPriming(_ stream: StreamName) -> Ticket? {
        streams.withLock { streams in
            guard streams.slots[stream] == nil else { return nil }
            streams.nextID += 1
            let ticket = Ticket(stream: stream, id: streams.nextID)
            streams.slots[stream] = (ticket.id, .priming(recorded: 0))
            streams.order.append((stream, ticket.id))
            if streams.order.count > streamCapacity { forgetOldestHalf(&streams) }
            return ticket
        }
    }

    /// Holds `snapshot`, the store's `replay(stream, after: 0)` read after `beginPriming`, unless
    /// a write it misses was recorded meanwhile; nil drops the attempt (the read failed).
    public func finishPriming(_ ticket: Ticket, with snapshot: StreamReplay?) {
        streams.withLock { streams in
            guard let entry = streams.slots[ticket.stream], entry.id == ticket.id,
                case .priming(let recorded) = entry.slot
            else { return }
            guard let snapshot, recorded <= snapshot.lastSeq else { return forget(ticket.stream, in: &streams) }
            var held = Held(
                entries: snapshot.notifications, lastSeq: snapshot.lastSeq, evictedThrough: snapshot.evictedThrough,
                coveredFrom: 0, bytes: 0)
            trim(&held)
            install(held, for: ticket.stream, id: ticket.id, in: &streams)
        }
    }

    /// A write, as the fan-out hears of it: called for every event, in the order each stream's
    /// events are handed on.
    public func record(_ event: StreamEvent) {
        streams.withLock { streams in
            // Taken out of the table while it changes, so its entries are not copied on append.
            guard let (id, slot) = streams.slots.removeValue(forKey: event.stream) else { return }
            let seq = event.notification.seq
            switch consume slot {
            case .priming(let recorded):
                streams.slots[event.stream] = (id, .priming(recorded: max(recorded, seq)))
            case .held(var held):
                guard seq > held.lastSeq else {
                    streams.slots[event.stream] = (id, .held(held))
                    return
                }
                streams.bytes -= held.bytes
                // A seq that does not follow leaves the stream forgotten: it is read from the store again.
                guard seq == held.lastSeq + 1 else { return }
                apply(event.notification, to: &held)
                install(held, for: event.stream, id: id, in: &streams)
            }
        }
    }

    /// The store's write (`SQLiteStore.write`), on what is held.
    private func apply(_ notification: StreamNotification, to held: inout Held) {
        held.lastSeq = notification.seq
        if notification.mode == .replace { held.entries.removeAll { $0.name == notification.name } }
        held.entries.append(notification)
        if notification.mode == .append, let cutoff = retentionCutoff(in: held.entries, at: notification.timestamp) {
            held.entries.removeAll { $0.mode == .append && $0.seq <= cutoff }
            held.evictedThrough = max(held.evictedThrough, cutoff)
        }
        trim(&held)
    }

    /// The newest event the retention removes once an event written at `now` is in `entries`:
    /// the last one too old, or the last one past the count. Nil when none goes.
    private func retentionCutoff(in entries: [StreamNotification], at now: Double) -> Int64? {
        let events = entries.count { $0.mode == .append }
        let excess = events - retention.maxCount
        var cutoff: Int64?
        var index = 0
        for entry in entries where entry.mode == .append {
            index += 1
            if index <= excess || entry.timestamp < now - retention.maxAge { cutoff = entry.seq }
        }
        return cutoff
    }

    /// Keeps the newest `eventsPerStream` events, within the stream's bytes; the store answers
    /// for the older ones. Counts what is left.
    private func trim(_ held: inout Held) {
        var bytes = held.entries.reduce(0) { $0 + Self.size(of: $1) }
        var excess = held.entries.count(where: { $0.mode == .append }) - eventsPerStream
        guard excess > 0 || bytes > bytesPerStream else {
            held.bytes = bytes
            return
        }
        var coveredFrom = held.coveredFrom
        held.entries.removeAll { entry in
            guard excess > 0 || bytes > bytesPerStream, entry.mode == .append else { return false }
            excess -= 1
            bytes -= Self.size(of: entry)
            coveredFrom = max(coveredFrom, entry.seq)
            return true
        }
        held.coveredFrom = coveredFrom
        held.bytes = bytes
    }

    /// Holds `held`, unless its states alone are over the stream's bytes; then, if all streams
    /// are over their bytes, forgets the oldest half.
    private func install(_ held: Held, for stream: StreamName, id: UInt64, in streams: inout Streams) {
        guard held.bytes <= bytesPerStream else { return forget(stream, in: &streams) }
        streams.slots[stream] = (id, .held(held))
        streams.bytes += held.bytes
        if streams.bytes > byteCapacity { forgetOldestHalf(&streams) }
    }

    private func forget(_ stream: StreamName, in streams: inout Streams) {
        if case .held(let held) = streams.slots.removeValue(forKey: stream)?.slot { streams.bytes -= held.bytes }
    }

    private func forgetOldestHalf(_ streams: inout Streams) {
        let forgotten = streams.order.prefix(streams.order.count / 2)
        for (stream, id) in forgotten where streams.slots[stream]?.id == id { forget(stream, in: &streams) }
        streams.order.removeFirst(forgotten.count)
    }

    /// What a notification costs held: its text and the struct around it.
    private static func size(of notification: StreamNotification) -> Int {
        notification.json.utf8.count + notification.name.utf8.count + 96
    }
}
