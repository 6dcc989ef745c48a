import NIOCore

/// Closes a streaming connection as soon as the client closes its side. Herald's server allows
/// half-closed connections (for HTTP pipelining), so without this a departed SSE client would
/// linger until the next heartbeat failed to write.
final class InboundCloseHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
