import CoreMetrics
import HTTPTypes
import HeraldCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// Answers `GET /api/notifications` on the connection's event loop, without the router, when
/// memory alone has the answer: a personal access token already looked up, and a stream that
/// `RecentEvents` holds. That is every poll of a client that polls steadily, and it costs about
/// half what the router's way does (no task, no hop to a thread of the pool and back, no middleware).
///
/// Guarantees:
/// - The answer is the one the route would give: the same body (`NotificationsAPI.answerFromMemory`,
///   `JSONResponse`), the same headers, the same log line and request counter.
/// - Anything else goes to the router untouched: another path, another credential, a cursor
///   memory does not cover, a long-poll that must wait, an input error, a request that declares a
///   body, expects a `100 Continue`, asks to upgrade or to close the connection.
/// - Responses leave in request order: while a request handed to the router is unanswered, the
///   requests after it go to the router too.
/// - A client that does not read its answers is not answered faster than it reads: once the
///   connection stops being writable, its requests go to the router, whose reading waits for its
///   writing.
/// - Hummingbird's connection state handler sees every request and response (this handler sits
///   after it), so its idle timeout and graceful shutdown treat answered polls as traffic.
///
/// Middleware added to the router does not run for the polls answered here: a rule it adds for
/// this path (a limit, say) must be added here too, or must make this path hand such polls on.
final class PollingFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    private typealias RequestLog = RequestLogMiddleware<HeraldRequestContext>

    /// What every connection's fast path uses.
    struct Shared: Sendable {
        /// The token cache and the streams held, asked directly: this is the path that must not wait.
        let cache: CachingStore
        let recent: RecentEvents
        let maxWait: Double
        let logger: Logger
        let date = HTTPDate()
        // Hummingbird's MetricsMiddleware counts a request under these names, in the process's
        // metrics system; made here, they bind to the one bootstrapped before the server is built.
        let requests: CoreMetrics.Counter
        let durations: CoreMetrics.Timer
        /// Polls answered here, in the node's own registry: what this path saves is visible.
        let answered: CoreMetrics.Counter

        init?(herald: Herald, logger: Logger) {
            guard let cache = herald.store as? CachingStore, let recent = cache.recent else { return nil }
            self.cache = cache
            self.recent = recent
            maxWait = herald.configuration.maxWait
            self.logger = logger
            let dimensions = [
                ("http.route", NotificationsAPI.path), ("http.request.method", "GET"), ("http.response.status_code", "200"),
            ]
            requests = CoreMetrics.Counter(label: "hb.requests", dimensions: dimensions)
            durations = CoreMetrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
            answered = CoreMetrics.Counter(label: "herald_polls_answered_from_memory_total", factory: herald.metrics.factory)
        }
    }

    private struct Answer {
        let head: HTTPResponse
        let body: ByteBuffer
        let requestID: String
        let start: ContinuousClock.Instant
    }

    private let shared: Shared
    /// Requests handed to the router whose response has not ended yet. A response's `.end` comes
    /// from the router's thread and can trail the bytes a client reads it by: a poll sent in that
    /// moment goes to the router too, which costs it time, not order.
    private var routed = 0
    /// The answer to the request being read, written once its end arrives.
    private var pending: Answer?
    /// The last `Authorization` header answered and its token's digest: a client polls with the
    /// same one each time, and this skips the SHA-256. The user is still the cache's to give.
    private var lastDigest: (authorization: String, digest: String)?

    init(_ shared: Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            if routed == 0, context.channel.isWritable, context.channel.isActive,
                let answer = memoryAnswer(to: request, allocator: context.channel.allocator)
            {
                pending = answer
                return
            }
            routed += 1
            context.fireChannelRead(data)
        case .body:
            if pending == nil { context.fireChannelRead(data) }
        case .end:
            guard let answer = pending else { return context.fireChannelRead(data) }
            pending = nil
            context.write(wrapOutboundOut(.head(answer.head)), promise: nil)
            context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            record(answer)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // Only Hummingbird writes through here, and each of its responses ends once; a
            // response to no routed request (a parse error's 400) finds nothing to count down.
            routed = max(routed - 1, 0)
        }
        context.write(data, promise: promise)
    }

    /// The response to `request`, if it is a poll that memory answers.
    private func memoryAnswer(to request: HTTPRequest, allocator: ByteBufferAllocator) -> Answer? {
        let fields = request.headerFields
        guard request.method == .get, let target = request.path, target.utf8.starts(with: NotificationsAPI.path.utf8),
            let authorization = fields[.authorization], fields[.connection]?.lowercased() != "close",
            fields[.upgrade] == nil, fields[.expect] == nil, fields[.transferEncoding] == nil,
            fields[.contentLength].map({ $0 == "0" }) ?? true
        else { return nil }
        let start = ContinuousClock.now
        let uri = URI(target)
        guard uri.path == NotificationsAPI.path, let user = user(authorization) else { return nil }
        let query = uri.queryParameters
        guard let cursor = try? NotificationsAPI.cursor(parsing: query["since"]),
            let wait = try? NotificationsAPI.wait(parsing: query["wait"], max: shared.maxWait),
            let list = NotificationsAPI.answerFromMemory(in: user.stream, after: cursor, wait: wait, recent: shared.recent)
        else { return nil }

        let body = allocator.buffer(string: JSONResponse.notificationsJSON(list))
        let requestID = fields[RequestLog.header].flatMap(RequestLog.accepted) ?? RequestLog.padded(RequestID().description)
        var head = HTTPResponse(status: .ok)
        head.headerFields[.contentType] = "application/json; charset=utf-8"
        head.headerFields[.cacheControl] = "no-store"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[RequestLog.header] = requestID
        head.headerFields[.date] = shared.date.now
        head.headerFields[.server] = Herald.serverName
        return Answer(head: head, body: body, requestID: requestID, start: start)
    }

    private func user(_ authorization: String) -> User? {
        if let lastDigest, lastDigest.authorization == authorization {
            return shared.cache.knownUser(accessTokenDigest: lastDigest.digest)
        }
        guard let digest = Authenticator.accessTokenDigest(authorization) else { return nil }
        lastDigest = (authorization, digest)
        return shared.cache.knownUser(accessTokenDigest: digest)
    }

    private func record(_ answer: Answer) {
        shared.requests.increment()
        shared.answered.increment()
        let elapsed = (ContinuousClock.now - answer.start).components
        shared.durations.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        if shared.logger.logLevel <= .debug {
            var logger = shared.logger
            logger[metadataKey: "hb.request.id"] = .string(RequestID().description)
            logger[metadataKey: "request_id"] = .string(answer.requestID)
            RequestLog.log(method: .get, path: NotificationsAPI.path, status: 200, since: answer.start, to: logger)
        }
    }
}

/// Puts a `PollingFastPath` right after Hummingbird's connection state handler. Hummingbird adds
/// its extra handlers before that one, and the state handler must see the fast path's requests and
/// responses, so this stand-in takes the extra handler's place and, once the pipeline is complete
/// (its first request is read), moves the fast path to where it belongs and leaves.
///
/// Known gap: behind a failed WebSocket upgrade, Hummingbird owes an answer to a request this
/// handler never saw; a poll pipelined behind it could be answered first. Clients do not pipeline
/// behind an upgrade request, which waits for its 101.
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
        do {
            let state = try pipeline.context(handlerType: HTTPConnectionStateHandler.self)
            try pipeline.addHandler(PollingFastPath(shared), position: .after(state.handler))
        } catch {
            shared.logger.warning("polls are not answered from memory on this connection: \(error)")
        }
        context.fireChannelRead(data)
        pipeline.removeHandler(context: context, promise: nil)
    }
}
