import NIOCore

/// Closes a connection that has not sent its first request head (the request line and every
/// header, up to the blank line) within `timeout` of connecting: a client that sends nothing, half
/// a request line or headers that never end would otherwise hold a socket for as long as it likes
/// (slowloris). It watches raw bytes at the front of the pipeline, before either path (lean or
/// Hummingbird) parses anything, and leaves once the head is in; later requests on a kept-alive
/// connection are Hummingbird's idle timeout's to bound.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// How much of "\r\n\r\n" the bytes read so far end with.
    private var matched = 0
    private static let end: [UInt8] = Array("\r\n\r\n".utf8)

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        for byte in bytes.readableBytesView {
            if byte == Self.end[matched] {
                matched += 1
            } else {
                // "\r\n\r" then "\r": the last "\r" may open the ending.
                matched = byte == Self.end[0] ? 1 : 0
            }
            if matched == Self.end.count { break }
        }
        context.fireChannelRead(data)
        if matched == Self.end.count {
            deadline?.cancel()
            deadline = nil
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
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
