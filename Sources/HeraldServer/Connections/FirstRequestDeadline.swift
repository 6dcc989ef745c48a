import HTTPHead
import NIOCore

/// Closes a connection that has not sent its first request head (the request line and every
/// header, up to the blank line) within `timeout` of connecting: a client that sends nothing, half
/// a request line or headers that never end would otherwise hold a socket for as long as it likes
/// (slowloris). It watches raw bytes at the front of the pipeline, before either path (lean or
/// Hummingbird) parses anything, and leaves once the head is in; later requests on a kept-alive
/// connection are Hummingbird's idle timeout's to bound.
///
/// The deadline is never cancelled: when it comes it closes the connection only if the head is
/// still incomplete. NIO cancels a timer by searching every timer of the loop, which with one
/// deadline per connection made each connect cost more the more connections were opening.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var headIsIn = false
    private var headEnd = RequestHeadParser.HeadEnd()
    /// Held while this handler is in the pipeline. Strongly: a weak reference to the channel
    /// would give it a side table, and every retain and release of the channel, for as long as
    /// the connection lives (each write among them), would take the runtime's slow path.
    private var channel: (any Channel)?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        _ = try? context.eventLoop.scheduleCallback(in: timeout, handler: HeadDeadline(watcher: self))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        channel = nil
    }

    fileprivate func deadlineCame() {
        if !headIsIn { channel?.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        // A bare line feed is the parser's to refuse (or Hummingbird's); here it only means the
        // head has not ended.
        for byte in bytes.readableBytesView where headEnd.advance(byte) == .end {
            headIsIn = true
            break
        }
        context.fireChannelRead(data)
        if headIsIn { context.pipeline.syncOperations.removeHandler(self, promise: nil) }
    }

    /// A client that half-closes before its head is complete can send no request: the
    /// connection is over (and no longer counts against its address's limit).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// What the loop calls back when a connection's time for its first head is up. Weak, so that a
/// connection that ended early, or read its head, is not kept until its deadline: the watcher
/// leaves the pipeline then, and lets go of the channel.
private struct HeadDeadline: NIOScheduledCallbackHandler, @unchecked Sendable {
    /// Touched only on the connection's event loop, which runs the callback.
    weak var watcher: FirstRequestDeadline?

    func handleScheduledCallback(eventLoop: some EventLoop) {
        watcher?.deadlineCame()
    }
}
