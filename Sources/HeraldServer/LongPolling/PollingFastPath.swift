import HTTPTypes
import HeraldCore
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOHTTPTypes

/// Answers `GET /api/notifications` on the connection's event loop, without the router, when
/// memory alone has the answer: a personal access token already looked up, and a stream that
/// `RecentEvents` holds. That is every poll of a client that polls steadily, and it costs half
/// what the router's way does (no task, no hop to a thread of the pool and back, no middleware).
///
/// Guarantees:
/// - The answer is the one the route would give: the same body (`NotificationsAPI.answerFromMemory`,
///   `JSONResponse`), the same headers, the same log line, and the same request metrics.
/// - Anything else goes to the router untouched: another path, another credential, a cursor
///   memory does not cover, a long-poll that must wait, an input error, `Connection: close`.
/// - Responses leave in request order: while a request handed to the router is unanswered, the
///   requests after it go to the router too.
/// - Hummingbird's connection state handler sees every request and response (this handler sits
///   after it), so its idle timeout and graceful shutdown treat answered polls as traffic.
final class PollingFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let path = "/api/notifications"

    /// What every connection's fast path uses.
    struct Shared: Sendable {
        let herald: Herald
        let recent: RecentEvents
        let logger: Logger
        let date = HTTPDate()
        // Hummingbird's MetricsMiddleware counts a request under these names, from the same factory.
        let requests: Counter
        let durations: Metrics.Timer

        init?(herald: Herald, logger: Logger) {
            guard let recent = (herald.store as? CachingStore)?.recent else { return nil }
            self.herald = herald
            self.recent = recent
            self.logger = logger
            let dimensions = [
                ("http.route", PollingFastPath.path), ("http.request.method", "GET"), ("http.response.status_code", "200"),
            ]
            requests = Counter(label: "hb.requests", dimensions: dimensions)
            durations = Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
        }
    }

    private let shared: Shared
    /// Requests handed to the router whose response has not ended yet.
    private var routed = 0
    /// The answer to the request being read, written once its end arrives.
    private var answer: (head: HTTPResponse, body: ByteBuffer)?
    /// The last `Authorization` answered and its user: a client polls with the same one each time,
    /// and a personal access token's user never changes.
    private var known: (authorization: String, user: User)?

    init(_ shared: Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            if routed == 0, let answer = answer(request, allocator: context.channel.allocator) {
                self.answer = answer
                return
            }
            routed += 1
            context.fireChannelRead(data)
        case .body:
            if answer == nil { context.fireChannelRead(data) }
        case .end:
            guard let answer else { return context.fireChannelRead(data) }
            self.answer = nil
            context.write(wrapOutboundOut(.head(answer.head)), promise: nil)
            context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), routed > 0 { routed -= 1 }
        context.write(data, promise: promise)
    }

    /// The response to `request`, if it is a poll that memory answers.
    private func answer(_ request: HTTPRequest, allocator: ByteBufferAllocator) -> (head: HTTPResponse, body: ByteBuffer)? {
        guard request.method == .get, let target = request.path, target.utf8.starts(with: Self.path.utf8),
            request.headerFields[.connection]?.lowercased() != "close",
            let authorization = request.headerFields[.authorization]
        else { return nil }
        let start = ContinuousClock.now
        let uri = URI(target)
        guard uri.path == Self.path, let user = user(authorization) else { return nil }
        let query = uri.queryParameters
        guard let cursor = try? NotificationsAPI.cursor(parsing: query["since"]),
            let wait = try? NotificationsAPI.wait(parsing: query["wait"], max: shared.herald.configuration.maxWait),
            let list = NotificationsAPI.answerFromMemory(in: user.stream, after: cursor, wait: wait, recent: shared.recent)
        else { return nil }

        let body = allocator.buffer(string: JSONResponse.notificationsJSON(list))
        let id = request.headerFields[RequestLogMiddleware<HeraldRequestContext>.header].flatMap(RequestLogMiddleware<HeraldRequestContext>.accepted)
            ?? RequestLogMiddleware<HeraldRequestContext>.padded(RequestID().description)
        var fields = HTTPFields()
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        fields[.contentLength] = String(body.readableBytes)
        fields[RequestLogMiddleware<HeraldRequestContext>.header] = id
        fields[.date] = shared.date.now
        fields[.server] = "Herald"

        shared.requests.increment()
        shared.durations.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        if shared.logger.logLevel <= .debug {
            var logger = shared.logger
            logger[metadataKey: "hb.request.id"] = .string(id)
            logger[metadataKey: "request_id"] = .string(id)
            RequestLogMiddleware<HeraldRequestContext>.log(method: .get, path: uri.path, status: 200, since: start, to: logger)
        }
        return (HTTPResponse(status: .ok, headerFields: fields), body)
    }
}

extension PollingFastPath {
    private func user(_ authorization: String) -> User? {
        if let known, known.authorization == authorization { return known.user }
        guard let user = shared.herald.authenticator.knownUser(authorization: authorization) else { return nil }
        known = (authorization, user)
        return user
    }
}

/// Puts a `PollingFastPath` right after Hummingbird's connection state handler. Hummingbird adds
/// its extra handlers before that one, and the state handler must see the fast path's requests and
/// responses, so this stand-in takes the extra handler's place and, once the pipeline is complete
/// (the first request is read), moves the fast path to where it belongs and leaves.
final class PollingFastPathInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var shared: PollingFastPath.Shared?

    init(_ shared: PollingFastPath.Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let shared else { return context.fireChannelRead(data) }
        self.shared = nil
        let pipeline = context.pipeline.syncOperations
        if let state = try? pipeline.context(handlerType: HTTPConnectionStateHandler.self) {
            try? pipeline.addHandler(PollingFastPath(shared), position: .after(state.handler))
        }
        context.fireChannelRead(data)
        pipeline.removeHandler(context: context, promise: nil)
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
