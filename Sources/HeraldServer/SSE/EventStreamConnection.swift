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
        let query = URI(head.uri).queryParameters
        // EventSource cannot set headers: the token may come as ?token= instead.
        let authorization = head.headers.first(name: "authorization") ?? query["token"].map { "Bearer \($0)" }
        let sessionCookie = head.headers.cookie(SessionCookie.name)
        let cursor = Self.requestedCursor(lastEventID: head.headers.first(name: "last-event-id"), query: query)
        let channels = query.getAll("channel").map { String($0) }
        let chunked = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
        let start: @Sendable (Result<Opened, any Error>) -> Void = { opened in
            channel.eventLoop.executeInline {
                switch opened {
                case .success(let opened):
                    channel.write(Self.streamHead(chunked: chunked), promise: nil)
                    opened.subscriber.start(with: opened.replays, from: opened.cursors)
                case .failure(let error):
                    RequestHeadHandler.refuse(channel, with: error)
                }
            }
        }
        // A reader whose token and channels memory knows is opened here, on the loop: no task.
        if let user = herald.authenticator.identifiedWithoutWaiting(authorization: authorization, sessionCookie: sessionCookie)?.user {
            do {
                if let streams = try knownStreams(for: user, channels: channels) {
                    return open(streams, cursor: cursor, on: channel, framing: .raw(chunked: chunked), then: start)
                }
            } catch {
                return RequestHeadHandler.refuse(channel, with: error)
            }
        }
        Task {
            do {
                let (user, credential) = try await herald.authenticator.identify(authorization: authorization, sessionCookie: sessionCookie)
                guard let user else { throw HeraldError.unauthorized() }
                var grant: ConnectionGrant?
                if case .connectionToken(let granted) = credential { grant = granted }
                let streams = try await streams(for: user, grant: grant, channels: channels)
                open(streams, grant: grant, cursor: cursor, on: channel, framing: .raw(chunked: chunked), then: start)
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
