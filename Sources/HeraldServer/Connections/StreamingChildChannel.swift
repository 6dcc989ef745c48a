import HummingbirdCore
import Logging
import ServiceLifecycle
import NIOCore
import NIOHTTP1

/// Herald's connections: each starts by reading its request line. `GET /api/events` is served by
/// `EventStreams` and `GET /ws` by `WebSocketHandshake`, on pipelines of their own;
/// everything else goes to Hummingbird (`inner`), which sees the connection exactly as if it had
/// been its own from the start.
///
/// This is what keeps a held stream to a socket, a small handler and a subscriber: no
/// per-connection task, async channel or HTTP handlers stay behind it.
struct StreamingChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    /// A connection whose first request line is still on its way. The channel reads nothing
    /// until setup is over, so the choice is made after: the per-connection task waits for it,
    /// then either runs Hummingbird's handling or ends, leaving the event stream to its handlers.
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        /// Hummingbird's value for the connection, or nil when it is an event stream.
        let decision: EventLoopFuture<Inner.Value?>
    }

    let inner: Inner
    let streams: EventStreams
    /// Whether `GET /ws` is served here too (not when permessage-deflate is on: Hummingbird's
    /// WebSocket layer negotiates it).
    let takesWebSocket: Bool

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let decided = channel.eventLoop.makePromise(of: Inner.Value?.self)
            let sniffer = RequestLineSniffer(takesWebSocket: takesWebSocket) { [inner, streams] kind in
                do {
                    switch kind {
                    case .eventStream:
                        try RequestHeadHandler.install(on: channel) { head, channel in streams.serve(head, on: channel) }
                        decided.succeed(nil)
                    case .webSocket:
                        let handshake = WebSocketHandshake(herald: streams.herald)
                        try RequestHeadHandler.install(on: channel) { head, channel in handshake.serve(head, on: channel) }
                        decided.succeed(nil)
                    case .other:
                        decided.completeWith(inner.setup(channel: channel, logger: logger).map { $0 })
                    }
                } catch {
                    decided.fail(error)
                }
            }
            try channel.pipeline.syncOperations.addHandler(sniffer)
            // A client that leaves before its request line ends the wait (a no-op once decided).
            channel.closeFuture.whenComplete { _ in decided.fail(ChannelError.alreadyClosed) }
            // The bytes read so far go to whichever pipeline was chosen, once it is in place.
            let ready = decided.futureResult.flatMap { value in
                channel.pipeline.syncOperations.removeHandler(sniffer).map { value }
            }
            return Value(channel: channel, decision: ready)
        }
    }

    func handle(value: Value, logger: Logger) async {
        // A connection that has not sent its request line when the server stops (a browser's
        // preconnected socket, say) is closed, or the server would wait on it to drain.
        let decided = await withGracefulShutdownHandler {
            try? await value.decision.get()
        } onGracefulShutdown: {
            value.channel.close(promise: nil)
        }
        // nil: an event stream or WebSocket (served by its handlers), or a connection that ended.
        guard let decided else { return }
        await inner.handle(value: decided, logger: logger)
    }
}

/// Holds a connection's first bytes until its request line is complete, says what kind of
/// request it is, and hands the bytes on when removed.
final class RequestLineSniffer: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Kind {
        case eventStream
        case webSocket
        case other
    }

    /// Longer than any request line Herald serves; past it, the request goes to Hummingbird.
    static let maxLine = 8192
    private static let eventStream = Array("GET /api/events".utf8)
    private static let webSocket = Array("GET /ws".utf8)

    private let takesWebSocket: Bool
    private var buffered: ByteBuffer?
    private var decide: ((Kind) -> Void)?

    init(takesWebSocket: Bool, decide: @escaping (Kind) -> Void) {
        self.takesWebSocket = takesWebSocket
        self.decide = decide
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        guard let decide, let buffered else { return }
        let view = buffered.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > Self.maxLine {
                self.decide = nil
                decide(.other)
            }
            return
        }
        let line = view[view.startIndex..<newline]
        func isRequest(for target: [UInt8]) -> Bool {
            line.starts(with: target)
                && [UInt8(ascii: " "), UInt8(ascii: "?")].contains(line.dropFirst(target.count).first)
        }
        self.decide = nil
        if isRequest(for: Self.eventStream) {
            decide(.eventStream)
        } else if takesWebSocket, isRequest(for: Self.webSocket) {
            decide(.webSocket)
        } else {
            decide(.other)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let buffered, buffered.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(buffered))
            context.fireChannelReadComplete()
        }
        buffered = nil
    }
}
