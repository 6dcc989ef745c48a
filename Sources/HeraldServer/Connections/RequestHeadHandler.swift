import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Reads the one request of a connection Herald serves itself (an event stream or a WebSocket
/// upgrade), hands its head to `serve`, and then stops parsing HTTP: the decoder is removed and
/// whatever else the client sends is ignored. A client that closes its side is closed.
final class RequestHeadHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart

    /// The name this handler has in the pipeline, for removing it by name once a WebSocket upgrades.
    static let name = "herald.request-head"

    private let decoder: any RemovableChannelHandler
    private let serve: (HTTPRequestHead, any Channel) -> Void
    private var head: HTTPRequestHead?
    private var served = false

    /// Adds an HTTP request decoder and the reader to the channel's pipeline.
    static func install(on channel: any Channel, serve: @escaping (HTTPRequestHead, any Channel) -> Void) throws {
        let decoder = ByteToMessageHandler(HTTPRequestDecoder())
        try channel.pipeline.syncOperations.addHandler(decoder)
        try channel.pipeline.syncOperations.addHandler(RequestHeadHandler(decoder: decoder, serve: serve), name: name)
    }

    private init(decoder: any RemovableChannelHandler, serve: @escaping (HTTPRequestHead, any Channel) -> Void) {
        self.decoder = decoder
        self.serve = serve
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !served else { return }
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            served = true
            guard let head else { return context.close(promise: nil) }
            context.pipeline.syncOperations.removeHandler(decoder, promise: nil)
            serve(head, context.channel)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Answers a request this handler served with Herald's JSON error, then closes the connection.
    static func refuse(_ channel: any Channel, with error: any Error) {
        let failure = (error as? HeraldError) ?? .internal
        refuse(channel, status: Int(failure.status.code), json: JSONResponse.errorBody(failure), retryAfter: failure.retryAfter)
    }

    /// Answers with `status` and a JSON body, then closes the connection.
    static func refuse(_ channel: any Channel, status: Int, json body: String, retryAfter: Int? = nil) {
        let status = HTTPResponseStatus(statusCode: status)
        let response = ByteBuffer(
            string: "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
                + "Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
                + (retryAfter.map { "Retry-After: \($0)\r\n" } ?? "")
                + "Connection: close\r\nServer: \(Herald.serverName)\r\n\r\n" + body)
        channel.writeAndFlush(response).whenComplete { _ in channel.close(promise: nil) }
    }
}

extension HTTPHeaders {
    /// One cookie's value from the `Cookie` headers.
    func cookie(_ name: String) -> String? {
        Cookies.value(named: name, in: self[canonicalForm: "cookie"].map(String.init))
    }
}

/// Reads `Cookie` header values outside Hummingbird's request type.
enum Cookies {
    static func value(named name: String, in headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return String(parts[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }
}
