import NIOCore
import NIOHTTP1
import NIOPosix

/// The WebSocket upgrade of a session held by another node, when the load balancer brought it
/// here: the request is passed on, byte for byte, to that node (whose address it tells over the
/// bus), and from then on the two connections are joined, so the session's own node does the
/// handshake and serves the socket as if the client had reached it directly.
enum WebSocketRelay {
    /// Joins `client` (whose request head has been read, and whose HTTP handlers `removing` names)
    /// to a new connection to `host:port`, which gets the request first.
    static func relay(
        _ head: HTTPRequestHead, from client: any Channel, removing handlerName: String, to host: String, port: Int
    ) async throws {
        let upstream = try await ClientBootstrap(group: client.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(3))
            .connect(host: host, port: port).get()
        try await client.eventLoop.submit {
            let clientPipeline = client.pipeline.syncOperations
            clientPipeline.removeHandler(name: handlerName, promise: nil)
            try clientPipeline.addHandler(Joint(partner: upstream))
            try upstream.pipeline.syncOperations.addHandler(Joint(partner: client))
        }.get()
        upstream.writeAndFlush(ByteBuffer(string: serialized(head)), promise: nil)
    }

    static func serialized(_ head: HTTPRequestHead) -> String {
        var text = "\(head.method.rawValue) \(head.uri) HTTP/1.1\r\n"
        for (name, value) in head.headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n"
    }

    /// One side of the joint: what it reads goes out the other side; either closing closes both.
    /// Both sides are loopback or LAN sockets between the client and its session's node, whose
    /// own limits (the session's outbound queue, maxPayload) bound what crosses.
    final class Joint: ChannelDuplexHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer

        let partner: any Channel

        init(partner: any Channel) {
            self.partner = partner
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            partner.write(bytes, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            partner.flush()
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
