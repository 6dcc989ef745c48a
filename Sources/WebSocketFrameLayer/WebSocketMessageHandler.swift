import NIOCore
import NIOWebSocket

/// A complete WebSocket message, reassembled from its frames.
public enum WebSocketMessage: Sendable, Equatable {
    case text(ByteBuffer)
    case binary(ByteBuffer)
}

/// What sits above the frame layer: Herald's `/ws` protocol, or an Engine.IO transport.
/// Every call arrives on the connection's event loop.
public protocol WebSocketMessageReceiver: AnyObject, Sendable {
    /// The frame layer is in place: the connection can be written to.
    func opened(_ connection: WebSocketConnection)
    func received(_ message: WebSocketMessage, on connection: WebSocketConnection)
    func receivedPong()
    /// The socket's send buffer crossed its watermark: writing more now only piles up.
    func writabilityChanged(_ isWritable: Bool)
    /// The frame layer is about to send its close frame (the peer closed, or broke the protocol):
    /// whatever the receiver holds back for its next flush must be written now or never.
    func closing()
    /// The peer sent a message over the limit; the connection is closing with 1009 after this.
    func refusedOversizedMessage(limit: Int, on connection: WebSocketConnection)
    /// The connection is gone, whoever closed it.
    func closed()
}

extension WebSocketMessageReceiver {
    public func receivedPong() {}
    public func writabilityChanged(_ isWritable: Bool) {}
    public func closing() {}
    public func refusedOversizedMessage(limit: Int, on connection: WebSocketConnection) {}
}

/// The one WebSocket frame layer of every WebSocket Herald serves itself: assembles messages from
/// frames up to a size limit, answers pings, and closes on a close frame or a protocol error.
/// Nothing in it knows what the messages mean.
public final class WebSocketMessageHandler: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundOut = WebSocketFrame

    private let receiver: any WebSocketMessageReceiver
    private let limit: Int
    private var message: ByteBuffer?
    private var messageIsText = true
    private var connection: WebSocketConnection?

    public init(receiver: any WebSocketMessageReceiver, maxMessageSize: Int) {
        self.receiver = receiver
        self.limit = maxMessageSize
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let connection = WebSocketConnection(channel: context.channel)
        self.connection = connection
        let receiver = self.receiver
        context.channel.closeFuture.whenComplete { _ in receiver.closed() }
        receiver.opened(connection)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        receiver.writabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            guard message == nil else { return close(connection, code: .protocolError) }
            messageIsText = frame.opcode == .text
            message = frame.unmaskedData
        case .continuation:
            guard message != nil else { return close(connection, code: .protocolError) }
            var more = frame.unmaskedData
            message!.writeBuffer(&more)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            return
        case .pong:
            receiver.receivedPong()
            return
        case .connectionClose:
            return close(connection, code: .normalClosure)
        default:
            return close(connection, code: .protocolError)
        }
        if let message, message.readableBytes > limit {
            self.message = nil
            receiver.refusedOversizedMessage(limit: limit, on: connection)
            return close(connection, code: .messageTooLarge)
        }
        guard frame.fin, let complete = message else { return }
        message = nil
        // RFC 6455 section 8.1: a text message that is not UTF-8 fails the connection (1007).
        if messageIsText, String(validating: complete.readableBytesView, as: UTF8.self) == nil {
            return close(connection, code: .dataInconsistentWithMessage)
        }
        receiver.received(messageIsText ? .text(complete) : .binary(complete), on: connection)
    }

    private func close(_ connection: WebSocketConnection, code: WebSocketErrorCode) {
        receiver.closing()
        connection.close(code: code)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
