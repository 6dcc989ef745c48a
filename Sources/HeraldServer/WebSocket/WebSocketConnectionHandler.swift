import HeraldCore
import NIOCore
import NIOWebSocket

/// A WebSocket connection Herald serves itself: assembles messages from frames, hands commands to
/// the session one at a time, answers pings and closes. No task lives for the connection: a
/// command's task exists only while the command runs, each after the one before.
final class WebSocketConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let session: WebSocketSession
    private let limit: Int
    private var message: ByteBuffer?
    private var messageIsText = true
    private var lastCommand: Task<Void, Never>?

    init(herald: Herald, channel: any NIOCore.Channel, user: User?) {
        session = WebSocketSession(herald: herald, channel: channel, user: user, pings: true)
        limit = herald.configuration.maxRequestBody
        let session = self.session
        channel.closeFuture.whenComplete { _ in session.close() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            messageIsText = frame.opcode == .text
            message = frame.unmaskedData
        case .continuation:
            guard message != nil else { return close(context, code: .protocolError) }
            var more = frame.unmaskedData
            message!.writeBuffer(&more)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            return
        case .pong:
            session.pongReceived()
            return
        case .connectionClose:
            return close(context, code: .normalClosure)
        default:
            return close(context, code: .protocolError)
        }
        if let message, message.readableBytes > limit {
            self.message = nil
            session.refuse(.tooLarge(limit: limit))
            return close(context, code: .messageTooLarge)
        }
        guard frame.fin, let complete = message else { return }
        message = nil
        guard messageIsText else {
            return session.refuse(.badRequest("Commands are JSON text frames.", code: "binary_frame"))
        }
        let text = String(buffer: complete)
        let session = self.session
        let previous = lastCommand
        lastCommand = Task {
            await previous?.value
            await session.handle(text)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    private func close(_ context: ChannelHandlerContext, code: WebSocketErrorCode) {
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }
}
