import NIOCore
import NIOHTTP1
import NIOPosix

/// The WebSocket upgrade of a session held by another node, when the load balancer brought it
/// here: the request is passed on, byte for byte, to that node (whose address it tells over the
/// bus), and from then on the two connections are joined, so the session's own node does the
/// handshake and serves the socket as if the client had reached it directly.
enum WebSocketRelay {
    /// Marks a relayed request: the node it reaches serves it or refuses it, never relays it on
    /// (two nodes that disagree about an address would pass it back and forth).
    static let header = "X-Herald-Relayed"

    /// Joins `client` (whose request head has been read, and whose HTTP handlers `removing` names)
    /// to a new connection to `host:port`, which gets the request first.
    static func relay(
        _ head: HTTPRequestHead, from client: any Channel, removing handlerName: String, to host: String, port: Int
    ) async throws {
        let upstream = try await ClientBootstrap(group: client.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(3))
            .connect(host: host, port: port).get()
        do {
            try await client.eventLoop.submit {
                guard client.isActive else { throw ChannelError.ioOnClosedChannel }
                let clientPipeline = client.pipeline.syncOperations
                clientPipeline.removeHandler(name: handlerName, promise: nil)
                try clientPipeline.addHandler(Joint(partner: upstream))
                try upstream.pipeline.syncOperations.addHandler(Joint(partner: client))
            }.get()
        } catch {
            upstream.close(promise: nil)
            throw error
        }
        var relayed = head
        relayed.headers.replaceOrAdd(name: header, value: "1")
        upstream.writeAndFlush(ByteBuffer(string: serialized(relayed)), promise: nil)
    }

    static func serialized(_ head: HTTPRequestHead) -> String {
        var text = "\(head.method.rawValue) \(head.uri) HTTP/1.1\r\n"
        for (name, value) in head.headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n"
    }

    /// One side of the joint: what it reads goes out the other side; either closing closes both.
    /// It does not pace one side by the other's writability: a client that stops reading while
    /// its session's node keeps sending is held only by the session's heartbeat.
    final class Joint: ChannelDuplexHandler {
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
