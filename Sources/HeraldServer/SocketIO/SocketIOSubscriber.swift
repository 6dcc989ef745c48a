import EngineIO
import HeraldCore
import NIOCore

/// One `/notifications` socket as the hub sees it: the user's stream and the channels it joined.
/// Each stream, when added, is replayed from its cursor while its live events are held back, so
/// the seam between history and live has neither a gap nor a duplicate.
///
/// State is touched only on the Engine.IO session's event loop (the hub delivers there; every
/// other entry point hops there).
final class SocketIOSubscriber: StreamSubscriber, @unchecked Sendable {
    let session: EngineSession
    var encoding: EventEncoding { SocketIOFrames.event }
    /// The user's stream first, then channels in the order joined: the order of the offset.
    private var streams: [StreamName]
    private var gate = StreamGate()
    private let announced = StreamGate.Announced()
    private var unflushed = false
    private var closing = false

    var eventLoop: any EventLoop { session.eventLoop }

    private let metrics: HeraldMetrics

    init(session: EngineSession, user: StreamName, metrics: HeraldMetrics) {
        self.session = session
        self.metrics = metrics
        self.streams = [user]
    }

    func deliver(_ event: StreamEvent, frame: ByteBuffer) {
        if closing { return }
        switch gate.arrive(event, frame: frame, announced: announced) {
        case .write: write(event, frame: frame)
        case .overflow: overflow()
        case .held, .skip: break
        }
    }

    func flush() {
        guard unflushed else { return }
        unflushed = false
        session.flush()
    }

    /// Engine.IO pings on its own timer.
    func heartbeat() {}

    /// The server is stopping: the session ends, and the client reconnects and recovers elsewhere.
    func shutdown() {
        eventLoop.execute { [self] in
            closing = true
            session.close()
        }
    }

    /// Holds the streams' live events back until `start`; call before subscribing them in the hub.
    func prepare(_ streams: [StreamName]) {
        for stream in streams { announced.add(stream) }
        eventLoop.execute { [self] in
            for stream in streams { gate.hold(stream, announced: announced) }
        }
    }

    /// Writes each stream's history after its cursor, then what arrived meanwhile, and goes live.
    /// `requested` holds the cursors the client gave, to tell it of what the retention dropped.
    func start(_ replays: [(StreamName, StreamReplay)], from start: StreamCursors, requested: StreamCursors) {
        eventLoop.execute { [self] in
            // Every stream starts at its cursor before any is replayed, so that each replayed
            // event's offset names all of them (a client may resume from any one).
            var held: [StreamName: [(StreamEvent, ByteBuffer)]] = [:]
            for (stream, replay) in replays {
                if !streams.contains(stream) { streams.append(stream) }
                held[stream] = gate.open(stream, at: max(start.seq(of: stream) ?? 0, replay.evictedThrough))
            }
            for (stream, replay) in replays {
                if let asked = requested.seq(of: stream), asked < replay.evictedThrough {
                    enqueue(SocketIOFrames.reset(stream, cursor: asked, missedThrough: replay.evictedThrough))
                    metrics.resetSent("socketio")
                }
                for notification in replay.notifications {
                    let event = StreamEvent(stream: stream, notification: notification)
                    // A state the client has seen is re-sent so it is surely current; its offset
                    // is the cursor as it stands, so it moves nothing back.
                    if gate.isNew(event) {
                        write(event, frame: encoding.encode(event), replaying: true)
                    } else {
                        enqueue(encoding.encode(event))
                    }
                }
                for (event, frame) in held[stream] ?? [] where gate.isNew(event) { write(event, frame: frame, replaying: true) }
            }
            flush()
        }
    }

    func stop(_ stream: StreamName) {
        eventLoop.execute { [self] in
            gate.close(stream)
            streams.removeAll { $0 == stream }
        }
    }

    /// A replay (history, and what arrived during it) is queued whole, however far past the
    /// write watermark: it is bounded by the retention, and a client cut off in the middle of it
    /// would come back for the same replay forever. Live events respect the watermark.
    private func write(_ event: StreamEvent, frame: ByteBuffer, replaying: Bool = false) {
        guard !closing else { return }
        guard replaying || session.isWritable else { return overflow() }
        gate.advance(event)
        enqueue(frame)
    }

    /// Queues a message whose prefix is `prefix`, completed with the offset as it stands.
    private func enqueue(_ prefix: ByteBuffer) {
        SocketIOFrames.write(prefix, offset: gate.cursors, of: streams, to: session)
        unflushed = true
    }

    /// A reader that cannot keep up is cut off; it reconnects and resumes from its offset.
    private func overflow() {
        metrics.cutOff("socketio")
        closing = true
        session.close()
    }
}
