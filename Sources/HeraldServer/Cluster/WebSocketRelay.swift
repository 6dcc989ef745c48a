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
                let (clientSide, upstreamSide) = Joint.pair()
                try clientPipeline.addHandler(clientSide)
                try upstream.pipeline.syncOperations.addHandler(upstreamSide)
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

    /// One side of the joint: what it reads goes out the other side, and it stops reading while
    /// the other side cannot write (a client that stops reading holds back its session's node,
    /// not this node's memory); either side closing closes both. Both channels share one event
    /// loop, so each side calls the other directly.
    final class Joint: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private var partner: Joint?
        private var context: ChannelHandlerContext?
        private var pendingRead = false

        /// Two joined sides, one for each channel.
        static func pair() -> (Joint, Joint) {
            let (first, second) = (Joint(), Joint())
            first.partner = second
            second.partner = first
            return (first, second)
        }

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            self.context = nil
            partner = nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner?.context?.write(data, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            partner?.context?.flush()
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            // This side can take writes again: let the other read (a read it held back goes now).
            if context.channel.isWritable { partner?.resumeReading() }
            context.fireChannelWritabilityChanged()
        }

        func read(context: ChannelHandlerContext) {
            if let partner, let other = partner.context, !other.channel.isWritable {
                pendingRead = true
                return
            }
            context.read()
        }

        private func resumeReading() {
            guard pendingRead, let context else { return }
            pendingRead = false
            context.read()
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner?.context?.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
