import HeraldCore
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1

/// Serves a `GET /api/events` connection without Hummingbird's per-connection machinery: once the
/// request is read and the stream opened, the connection is its handlers, the subscriber and the
/// socket, and nothing else. No task waits on it; the hub writes to it on its event loop.
///
/// Each event leaves as the exact bytes the hub encoded once for every subscriber: already framed
/// as an HTTP/1.1 chunk (an HTTP/1.0 client gets a body that runs until the close instead).
extension EventStreams {
    func serve(_ head: HTTPRequestHead, on channel: any NIOCore.Channel) {
        Task {
            do {
                let query = URI(head.uri).queryParameters
                // EventSource cannot set headers: the token may come as ?token= instead.
                let authorization = head.headers.first(name: "authorization") ?? query["token"].map { "Bearer \($0)" }
                let (user, credential) = try await herald.authenticator.identify(
                    authorization: authorization, sessionCookie: head.headers.cookie(SessionCookie.name))
                guard let user else { throw HeraldError.unauthorized() }
                var grant: ConnectionGrant?
                if case .connectionToken(let granted) = credential { grant = granted }
                let cursor = Self.requestedCursor(lastEventID: head.headers.first(name: "last-event-id"), query: query)
                let chunked = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
                let opened = try await open(
                    for: user, grant: grant, channels: query.getAll("channel").map { String($0) }, cursor: cursor,
                    on: channel, framing: .raw(chunked: chunked))
                channel.eventLoop.execute {
                    channel.writeAndFlush(Self.streamHead(chunked: chunked), promise: nil)
                    opened.subscriber.start(with: opened.replays, from: opened.cursors)
                }
            } catch {
                RequestHeadHandler.refuse(channel, with: error)
            }
        }
    }

    static func streamHead(chunked: Bool) -> ByteBuffer {
        let retry = ByteBuffer(string: "retry: \(retryMilliseconds)\n\n")
        var head = ByteBuffer(
            string: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                + "X-Accel-Buffering: no\r\nServer: \(Herald.serverName)\r\n"
                + (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n"))
        head.writeImmutableBuffer(chunked ? SSEFrame.chunk(retry) : retry)
        return head
    }
}
