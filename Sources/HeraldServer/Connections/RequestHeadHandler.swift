import Foundation
import HTTPHead
import HTTPTypes
import NIOCore
import NIOHTTP1

/// The first handler of every connection: holds its first bytes until the request line is in and
/// picks the lean route it is for. With no route, it hands the connection to Hummingbird
/// (`toHummingbird`) and, once removed, passes the bytes on. With one, it reads the rest of the
/// head itself (`RequestHeadParser`), hands it to the route's `serve`, and from then on ignores
/// whatever else the client sends; a client that closes its side is closed. A head that is not
/// HTTP/1.x is answered with Herald's JSON error (400, 431 or 505) and the connection closed.
///
/// One handler for all of it: adding NIO's HTTP decoder (and its parser) to every connection and
/// taking it out again cost more than the rest of reading the request.
final class RequestHeadHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The name this handler has in the pipeline, for removing it by name once a WebSocket upgrades.
    static let name = "herald.request-head"
    /// Longer than any request line Herald serves; past it, the request goes to Hummingbird.
    static let maxLine = 8192

    private enum State {
        /// Waiting for the request line.
        case line
        /// Reading the head of a request for `route`.
        case head(LeanRoute)
        /// Given to Hummingbird: what arrives until this handler is removed is passed on then.
        case handingOn
        /// Served, refused or closed: what comes next is not this handler's to read.
        case done
    }

    private let routes: [LeanRoute]
    private let pending: PendingConnections
    private let toHummingbird: (RequestHeadHandler) -> Void
    private var state = State.line
    private var buffered: ByteBuffer?
    private var headEnd = RequestHeadParser.EndScanner()
    /// How far the request line's end has been looked for: each byte is looked at once.
    private var lineSearched = 0

    init(routes: [LeanRoute], pending: PendingConnections, toHummingbird: @escaping (RequestHeadHandler) -> Void) {
        self.routes = routes
        self.pending = pending
        self.toHummingbird = toHummingbird
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if case .done = state { return }
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        guard let view = buffered?.readableBytesView else { return }
        if case .line = state {
            guard let newline = view.dropFirst(lineSearched).firstIndex(of: UInt8(ascii: "\n")) else {
                lineSearched = view.count
                if view.count > Self.maxLine { handOn(context: context) }
                return
            }
            let line = view[view.startIndex..<newline]
            guard let route = routes.first(where: { $0.matches(ArraySlice(line)) }) else { return handOn(context: context) }
            state = .head(route)
        }
        guard case .head(let route) = state else { return }
        do {
            guard let length = try headEnd.scan(view) else { return }
            let head = try RequestHeadParser.parse(view[view.startIndex..<(view.startIndex + length)])
            finish()
            // A head that completes after the server began to stop is not served.
            guard pending.remove(context.channel) else { return context.close(promise: nil) }
            route.serve(head, context.channel)
        } catch {
            finish()
            pending.remove(context.channel)
            Self.refuse(context.channel, with: error)
        }
    }

    private func finish() {
        state = .done
        buffered = nil
    }

    /// Hummingbird's from now on: it gets the bytes read so far when this handler is removed.
    private func handOn(context: ChannelHandlerContext) {
        guard pending.remove(context.channel) else {
            finish()
            return context.close(promise: nil)
        }
        state = .handingOn
        toHummingbird(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        switch state {
        case .handingOn:
            if let buffered, buffered.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(buffered))
                context.fireChannelReadComplete()
            }
        case .line, .head:
            // The connection closed before its request was decided (its pipeline is torn down).
            pending.remove(context.channel)
        case .done:
            break
        }
        buffered = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, case .done = state { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The answer to a head the parser refused.
    static func refuse(_ channel: any Channel, with failure: RequestHeadParser.Failure) {
        switch failure {
        case .malformed(let reason):
            refuse(channel, with: HeraldError.badRequest(reason, code: "malformed_request"))
        case .tooLarge:
            refuse(channel, with: HeraldError(
                status: .init(code: 431), code: "request_head_too_large",
                message: "The request head is longer than \(RequestHeadParser.maxBytes) bytes or has more than \(RequestHeadParser.maxFields) fields."))
        case .unsupportedVersion:
            refuse(channel, with: HeraldError(
                status: .init(code: 505), code: "http_version_not_supported", message: "Only HTTP/1.0 and HTTP/1.1 are spoken here."))
        }
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
