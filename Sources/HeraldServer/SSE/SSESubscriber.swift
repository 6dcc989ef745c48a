import HeraldCore
import NIOCore
import NIOHTTPTypes
import WebSocketFrameLayer

/// One `GET /api/events` connection, fed by the hub.
///
/// All mutable state is touched only on the connection's event loop (the hub delivers there, and
/// every other entry point hops there first), which is what makes the unchecked Sendable sound.
///
/// It is subscribed before the history is read, and holds live events back until the history has
/// been written; then it writes each event whose seq is past its cursor for that stream, so the
/// seam between history and live has neither a gap nor a duplicate.
final class SSESubscriber: StreamSubscriber, @unchecked Sendable {
    /// Live events held back while the history is read, at most this many; past it the client is
    /// disconnected and resumes by cursor.
    static let maxPendingEvents = 1024

    /// How bytes reach the client.
    enum Framing: Sendable {
        /// As body parts through Hummingbird's HTTP handlers: a stream requested on a connection
        /// that had served other requests before (browsers reuse them).
        case responseBody
        /// Straight to the socket, on a connection Herald serves itself (`EventStreams.serve`):
        /// each event is the bytes the hub encoded once, already an HTTP/1.1 chunk when `chunked`.
        case raw(chunked: Bool)
    }

    let channel: any NIOCore.Channel
    let framing: Framing
    let streams: [StreamName]
    let encoding: EventEncoding
    private var cursors = StreamCursors()
    private var pending: [(StreamEvent, ByteBuffer)]? = []
    /// On a raw connection, what is written until the next flush, in one buffer.
    private var outbox = PendingBytes()
    private var unflushed = false
    private let ended: EventLoopPromise<Void>

    var eventLoop: any EventLoop { channel.eventLoop }
    /// Completes when the connection is over: the client left, fell behind, or the server stops.
    var finished: EventLoopFuture<Void> { ended.futureResult }

    private let metrics: HeraldMetrics

    init(channel: any NIOCore.Channel, streams: [StreamName], framing: Framing, metrics: HeraldMetrics) {
        self.metrics = metrics
        self.channel = channel
        self.framing = framing
        self.streams = streams
        let chunked = if case .raw(chunked: true) = framing { true } else { false }
        self.encoding = SSEFrame.encoding(singleStream: streams.count == 1, chunked: chunked)
        self.ended = channel.eventLoop.makePromise()
        channel.closeFuture.whenComplete { [ended] _ in ended.succeed() }
    }

    func deliver(_ event: StreamEvent, frame: ByteBuffer) {
        guard pending != nil else { return write(event, frame: frame) }
        if pending!.count >= Self.maxPendingEvents { return disconnect() }
        pending!.append((event, frame))
    }

    func flush() {
        guard unflushed else { return }
        unflushed = false
        if let bytes = outbox.take() { channel.write(bytes, promise: nil) }
        channel.flush()
    }

    func heartbeat() {
        guard pending == nil, channel.isActive else { return }
        guard channel.isWritable else { return disconnect() }
        send(SSEFrame.heartbeat, framed: false)
        flush()
    }

    /// Writes the history, then the live events that arrived meanwhile, and goes live.
    /// `replays` pairs each stream with what the store holds after `cursors`, where each stream starts.
    func start(with replays: [(StreamName, StreamReplay)], from cursors: StreamCursors) {
        eventLoop.execute { [self] in
            self.cursors = cursors
            for (stream, replay) in replays {
                let cursor = cursors.seq(of: stream) ?? 0
                if cursor < replay.evictedThrough {
                    writeReset(stream: stream, cursor: cursor, evictedThrough: replay.evictedThrough)
                }
                for notification in replay.notifications {
                    let event = StreamEvent(stream: stream, notification: notification)
                    if notification.seq > (cursors.seq(of: stream) ?? 0) {
                        write(event, frame: encoding.encode(event), replaying: true)
                    } else {
                        // A state the client has seen before, re-sent so it is surely current;
                        // without an id, so the client's cursor does not move back.
                        send(SSEFrame.frame(id: nil, name: notification.name, data: notification.json), framed: false)
                    }
                }
            }
            let held = pending ?? []
            pending = nil
            for (event, frame) in held { write(event, frame: frame, replaying: true) }
            flush()
        }
    }

    /// Ends the stream so the client reconnects (to this node once it is back, or another).
    func shutdown() {
        eventLoop.execute { [self] in
            flush()
            switch framing {
            case .responseBody:
                break  // the response's body ends when `finished` completes
            case .raw(let chunked):
                if chunked { channel.write(SSEFrame.lastChunk, promise: nil) }
                channel.flush()
                channel.close(promise: nil)
            }
            ended.succeed()
        }
    }

    /// A replay (history, and what arrived during it) is queued whole, however far past the
    /// write watermark: it is bounded by the retention, and a client cut off in the middle of it
    /// would come back for the same replay forever. Live events respect the watermark.
    private func write(_ event: StreamEvent, frame: ByteBuffer, replaying: Bool = false) {
        let seq = event.notification.seq
        guard seq > (cursors.seq(of: event.stream) ?? 0) else { return }
        // The outbound buffer is the connection's queue, bounded by the channel's write watermark.
        guard replaying || channel.isWritable else { return disconnect() }
        cursors.set(seq, for: event.stream)
        if streams.count > 1 { sendID() }
        send(frame, framed: true)
    }

    /// A multi-stream reader's composite id, ahead of the event it ends with: on a raw
    /// connection written straight into the outbox, with no string or buffer of its own.
    private func sendID() {
        guard case .raw(let chunked) = framing else { return send(SSEFrame.id(cursors.formatted(for: streams)), framed: false) }
        outbox.append(maxLength: SSEFrame.maxIDLength(cursors, for: streams), allocator: channel.allocator) { bytes in
            SSEFrame.writeID(cursors, for: streams, chunked: chunked, into: bytes)
        }
    }

    private func writeReset(stream: StreamName, cursor: Int64, evictedThrough: Int64) {
        // The client missed events the retention dropped: say so in-band, and carry on from what is kept.
        let data = #"{"stream":"\#(stream)","cursor":\#(cursor),"missed_through":\#(evictedThrough)}"#
        cursors.set(evictedThrough, for: stream)
        let id = streams.count > 1 ? cursors.formatted(for: streams) : String(evictedThrough)
        send(SSEFrame.frame(id: id, name: "herald.reset", data: data), framed: false)
        metrics.resetSent("sse")
    }

    /// Queues bytes on the connection; they leave at the next `flush`. `framed` bytes come from the
    /// hub's encoding, already a chunk where the connection needs one; the others are framed here.
    private func send(_ buffer: ByteBuffer, framed: Bool) {
        switch framing {
        case .responseBody:
            channel.write(HTTPResponsePart.body(buffer), promise: nil)
        case .raw(let chunked):
            outbox.append(chunked && !framed ? SSEFrame.chunk(buffer) : buffer, allocator: channel.allocator)
            if let large = outbox.takeIfLarge() { channel.write(large, promise: nil) }
        }
        unflushed = true
    }

    /// A client that cannot keep up is cut off rather than buffered without bound.
    private func disconnect() {
        if channel.isActive { metrics.cutOff("sse") }
        channel.close(promise: nil)
        ended.succeed()
    }
}
