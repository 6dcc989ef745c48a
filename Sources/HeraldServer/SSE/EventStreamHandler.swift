import Foundation
import HeraldCore
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1

/// Serves a `GET /api/events` connection without Hummingbird's per-connection machinery: once the
/// request is read and the stream opened, the connection is this handler, the subscriber and the
/// socket, and nothing else. No task waits on it; the hub writes to it on its event loop.
///
/// Each event leaves as the exact bytes the hub encoded once for every subscriber: already framed
/// as an HTTP/1.1 chunk (an HTTP/1.0 client gets a body that runs until the close instead).
final class EventStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let streams: EventStreams
    private let decoder: any RemovableChannelHandler
    private var head: HTTPRequestHead?
    private var started = false

    init(streams: EventStreams, decoder: any RemovableChannelHandler) {
        self.streams = streams
        self.decoder = decoder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Once the stream runs, whatever the client sends is ignored.
        guard !started else { return }
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            started = true
            guard let head else { return context.close(promise: nil) }
            context.pipeline.syncOperations.removeHandler(decoder, promise: nil)
            open(head, channel: context.channel)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client closed its side (connections may half-close here): it is gone.
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func open(_ head: HTTPRequestHead, channel: any NIOCore.Channel) {
        let streams = self.streams
        Task {
            do {
                let (user, _) = try await Authenticator(store: streams.herald.store).identify(
                    authorization: head.headers.first(name: "authorization"),
                    sessionCookie: Self.cookie(SessionCookie.name, in: head.headers))
                guard let user else { throw HeraldError.unauthorized() }
                let uri = URI(head.uri)
                let query = uri.queryParameters
                let fromQuery: String? = (query["since"] ?? query["last_event_id"]).map { String($0) }
                let cursor: String? = head.headers.first(name: "last-event-id") ?? fromQuery
                let chunked = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
                let opened = try await streams.open(
                    for: user, channels: query.getAll("channel").map { String($0) }, cursor: cursor, on: channel,
                    framing: .raw(chunked: chunked))
                channel.eventLoop.execute {
                    channel.writeAndFlush(Self.streamHead(chunked: chunked), promise: nil)
                    opened.subscriber.start(with: opened.replays, from: opened.cursors)
                }
            } catch {
                let failure = (error as? HeraldError) ?? .internal
                channel.writeAndFlush(Self.errorResponse(failure)).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    static func streamHead(chunked: Bool) -> ByteBuffer {
        let retry = ByteBuffer(string: "retry: \(EventStreams.retryMilliseconds)\n\n")
        var head = ByteBuffer(
            string: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                + "X-Accel-Buffering: no\r\nServer: Herald\r\n"
                + (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n"))
        head.writeImmutableBuffer(chunked ? SSEFrame.chunk(retry) : retry)
        return head
    }

    static func errorResponse(_ error: HeraldError) -> ByteBuffer {
        let body = JSONResponse.errorBody(error)
        return ByteBuffer(
            string: "HTTP/1.1 \(error.status.code) \(error.status.reasonPhrase)\r\n"
                + "Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\nServer: Herald\r\n\r\n" + body)
    }

    /// One cookie's value from the `Cookie` headers.
    static func cookie(_ name: String, in headers: HTTPHeaders) -> String? {
        for header in headers[canonicalForm: "cookie"] {
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
