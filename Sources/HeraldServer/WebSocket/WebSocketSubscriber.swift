import HeraldCore
import NIOCore
import NIOWebSocket
import WebSocketFrameLayer

/// One `/ws` connection as the hub sees it. Streams are added and removed while it is open; each
/// new stream is replayed from its cursor while its live events are held back, as for SSE.
///
/// Mutable state is touched only on the connection's event loop; every entry point hops there.
/// Frames the session writes (acks, errors) go through the same loop, so they keep their order
/// relative to events.
final class WebSocketSubscriber: StreamSubscriber, @unchecked Sendable {
    let channel: any NIOCore.Channel
    /// On Herald's own frame layer, events arrive framed (once for every reader) and are queued
    /// as they are; under hummingbird-websocket (permessage-deflate) they go through its handlers.
    var encoding: EventEncoding { pings ? WebSocketFrames.framedEvent : WebSocketFrames.event }
    private var framed: FramedWriter?
    private var gate = StreamGate()
    private let announced = StreamGate.Announced()
    private var unflushed = false
    /// Set once a close frame is queued: nothing more is written.
    private var closing = false

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Whether this subscriber keeps the connection alive itself: on connections Herald serves
    /// outside hummingbird-websocket (which pings on its own), each heartbeat sends a ping and a
    /// peer that did not answer the previous one is dropped.
    private let pings: Bool
    private var awaitingPong = false

    private let metrics: HeraldMetrics

    init(channel: any NIOCore.Channel, pings: Bool, metrics: HeraldMetrics) {
        self.channel = channel
        self.metrics = metrics
        self.pings = pings
        self.framed = pings ? FramedWriter(channel: channel) : nil
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
        if framed != nil { framed!.flush() } else { channel.flush() }
    }

    func heartbeat() {
        guard pings, !closing else { return }
        if awaitingPong { return close(code: .goingAway, reason: "no answer to ping") }
        awaitingPong = true
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer()), promise: nil)
    }

    func pongReceived() {
        eventLoop.execute { [self] in awaitingPong = false }
    }

    /// Marks `stream` as replaying; call before subscribing it in the hub.
    func prepare(_ stream: StreamName) {
        announced.add(stream)
        eventLoop.execute { [self] in gate.hold(stream, announced: announced) }
    }

    /// Acknowledges the subscription, writes the history after `start`, then what arrived
    /// meanwhile. `requested` is the client's own cursor, if it gave one.
    func start(_ stream: StreamName, from start: Int64, requested: Int64?, replay: StreamReplay, ack: ByteBuffer) {
        eventLoop.execute { [self] in
            enqueue(message: ack)
            if let requested, requested < replay.evictedThrough {
                enqueue(message: WebSocketFrames.reset(stream, cursor: requested, missedThrough: replay.evictedThrough))
                metrics.resetSent("ws")
            }
            let held = gate.open(stream, at: max(start, replay.evictedThrough))
            for notification in replay.notifications {
                let event = StreamEvent(stream: stream, notification: notification)
                if gate.isNew(event) {
                    write(event, frame: encoding.encode(event), replaying: true)
                } else {
                    enqueue(message: WebSocketFrames.encode(event, resent: true))
                }
            }
            for (event, frame) in held where gate.isNew(event) { write(event, frame: frame, replaying: true) }
            flush()
        }
    }

    func stop(_ stream: StreamName) {
        eventLoop.execute { [self] in gate.close(stream) }
    }

    /// A frame of the session's own (ack, error, pong), in order with the events.
    func send(_ buffer: ByteBuffer) {
        eventLoop.execute { [self] in
            enqueue(message: buffer)
            flush()
        }
    }

    /// A replay (history, and what arrived during it) is queued whole, however far past the
    /// write watermark: it is bounded by the retention, and a client cut off in the middle of it
    /// would come back for the same replay forever. Live events respect the watermark.
    private func write(_ event: StreamEvent, frame: ByteBuffer, replaying: Bool = false) {
        guard !closing else { return }
        guard replaying || channel.isWritable else { return overflow() }
        gate.advance(event)
        enqueue(encoded: frame)
    }

    /// Queues a text message of the session's own (an ack, an error, a reset, a resent event).
    private func enqueue(message: ByteBuffer) {
        enqueue(encoded: framed != nil ? WebSocketFraming.text(message) : message)
    }

    /// Queues a message as `encoding` makes them (a whole frame on Herald's own frame layer, the
    /// payload otherwise); it leaves at the next `flush`.
    private func enqueue(encoded: ByteBuffer) {
        if framed != nil {
            framed!.write(encoded)
        } else {
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: encoded), promise: nil)
        }
        unflushed = true
    }

    /// The server is stopping: tell the client to go elsewhere (1001), then close.
    func shutdown() {
        eventLoop.execute { [self] in close(code: .goingAway, reason: "server shutting down: resume elsewhere") }
    }

    /// A reader that cannot keep up is told why and cut off; it resumes by cursor.
    private func overflow() {
        if !closing { metrics.cutOff("ws") }
        close(code: .unknown(1013), reason: "too slow: resume from your cursor")
    }

    /// Queues a close frame behind what is already buffered, so a reader that catches up learns
    /// why, and closes the connection once it is written, or after a grace period regardless.
    private func close(code: WebSocketErrorCode, reason: String) {
        guard !closing else { return }
        closing = true
        var data = channel.allocator.buffer(capacity: 64)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        let channel = self.channel
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
            .whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
    }
}
