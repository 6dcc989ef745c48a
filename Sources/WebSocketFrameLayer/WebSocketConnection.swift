import NIOCore
import NIOWebSocket

/// The sending side of a WebSocket served by `WebSocketMessageHandler`. Safe from any thread:
/// NIO hops to the channel's event loop; calls made on it keep their order.
public struct WebSocketConnection: Sendable {
    public let channel: any Channel

    public init(channel: any Channel) {
        self.channel = channel
    }

    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Queues a message; it leaves at the next `flush`. The promise completes once it is written.
    public func write(_ message: consuming WebSocketMessage, promise: EventLoopPromise<Void>? = nil) {
        switch message {
        case .text(let data): channel.write(WebSocketFrame(fin: true, opcode: .text, data: data), promise: promise)
        case .binary(let data): channel.write(WebSocketFrame(fin: true, opcode: .binary, data: data), promise: promise)
        }
    }

    public func flush() {
        channel.flush()
    }

    public func send(_ message: WebSocketMessage) {
        write(message)
        flush()
    }

    public func ping() {
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer()), promise: nil)
    }

    /// Queues a close frame behind whatever is already buffered, so a peer that reads on learns
    /// why, and closes the connection once it is written, or after `grace` regardless.
    public func close(code: WebSocketErrorCode, reason: String = "", grace: TimeAmount = .seconds(10)) {
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        let channel = self.channel
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
            .whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
    }
}
