import HeraldCore
import NIOCore
import Synchronization

/// The per-stream bookkeeping of a subscriber whose streams come and go (`/ws`, Socket.IO): each
/// stream's cursor, and its live events held back while its history is written. What makes the
/// seam between history and live have neither a gap nor a duplicate, for both.
///
/// A value type, kept by its subscriber and touched only on the subscriber's event loop, but for
/// its `Announced` streams.
struct StreamGate {
    /// The streams a subscriber is about to hold, announced from any thread before it subscribes
    /// them in the hub. The hub may hand the loop a stream's events before the stream's `hold`
    /// gets there (a turn of the loop's writer queued earlier, or a publish on the loop written
    /// at once): those events are held, not skipped as a stream the subscriber does not read
    /// would be, nor written by the cursor of the stream's subscription before. Kept apart from
    /// the gate, which only the loop touches.
    final class Announced: Sendable {
        private let streams = Mutex<Set<StreamName>>([])
        /// How many streams are announced, read without the lock: every event asks, and nearly
        /// every time none is.
        private let count = Atomic(0)

        func add(_ stream: StreamName) {
            streams.withLock { streams in
                if streams.insert(stream).inserted { count.add(1, ordering: .releasing) }
            }
        }

        fileprivate func remove(_ stream: StreamName) {
            streams.withLock { streams in
                if streams.remove(stream) != nil { count.subtract(1, ordering: .releasing) }
                // An empty set keeps its storage; a connection past its subscriptions need not.
                if streams.isEmpty { streams = [] }
            }
        }

        fileprivate func contains(_ stream: StreamName) -> Bool {
            guard count.load(ordering: .acquiring) > 0 else { return false }
            return streams.withLock { $0.contains(stream) }
        }
    }

    enum Arrival {
        /// Past the stream's cursor: write it (then `advance`).
        case write
        /// The stream is replaying: kept for `open`.
        case held
        /// Already seen, or for a stream not (or no longer) read.
        case skip
        /// Too many held back: the reader is cut off, and resumes by cursor.
        case overflow
    }

    private(set) var cursors = StreamCursors()
    private var pending: [StreamName: [(StreamEvent, ByteBuffer)]] = [:]
    /// Announced streams whose events came before their `hold`, and are held already.
    private var heldEarly: Set<StreamName> = []

    /// Holds `stream`'s live events back until `open`. Announce it (`Announced.add`) before
    /// subscribing it in the hub, and hold it after, on the loop.
    mutating func hold(_ stream: StreamName, announced: Announced) {
        announced.remove(stream)
        cursors.remove(stream)
        if heldEarly.remove(stream) == nil { pending[stream] = [] }
    }

    mutating func arrive(_ event: StreamEvent, frame: ByteBuffer, announced: Announced) -> Arrival {
        // Announced, its hold not here yet: the new subscription's holding starts with this event.
        // What a subscription of it before still held is that one's, which the new replay covers.
        if announced.contains(event.stream), heldEarly.insert(event.stream).inserted {
            pending[event.stream] = []
        }
        if pending[event.stream] != nil {
            if pending[event.stream]!.count >= SSESubscriber.maxPendingEvents { return .overflow }
            pending[event.stream]!.append((event, frame))
            return .held
        }
        return isNew(event) ? .write : .skip
    }

    /// Whether the event is past its stream's cursor.
    func isNew(_ event: StreamEvent) -> Bool {
        guard let cursor = cursors.seq(of: event.stream) else { return false }
        return event.notification.seq > cursor
    }

    mutating func advance(_ event: StreamEvent) {
        cursors.set(event.notification.seq, for: event.stream)
    }

    /// Starts `stream` at `cursor` and hands back what arrived while it replayed, to write next.
    mutating func open(_ stream: StreamName, at cursor: Int64) -> [(StreamEvent, ByteBuffer)] {
        cursors.set(cursor, for: stream)
        let held = pending.removeValue(forKey: stream) ?? []
        // An empty dictionary keeps its storage; a connection past its replays need not.
        if pending.isEmpty { pending = [:] }
        return held
    }

    mutating func close(_ stream: StreamName) {
        pending[stream] = nil
        heldEarly.remove(stream)
        cursors.remove(stream)
    }
}
