import NIOCore

/// Matches replies to the commands that asked for them, in order, which is what lets callers
/// pipeline: every command is written at once and its promise waits in line. A reply with no
/// command waiting is a pub/sub push and goes to `onPush`.
final class RESPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RESPRequest
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()
    private let onPush: (@Sendable (RESPValue) -> Void)?

    init(onPush: (@Sendable (RESPValue) -> Void)? = nil) {
        self.onPush = onPush
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let reply = request.reply { waiting.append(reply) }
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if let reply = waiting.popFirst() {
            reply.succeed(value)
        } else if let onPush {
            onPush(value)
        } else {
            // A reply nobody asked for: the stream is out of step and cannot be trusted.
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        while let reply = waiting.popFirst() { reply.fail(error) }
    }
}

/// An encoded command and, unless it is sent on a subscribed connection, where its reply goes.
struct RESPRequest: Sendable {
    var bytes: ByteBuffer
    var reply: EventLoopPromise<RESPValue>?
}
