import CoreMetrics
import HTTPTypes
import HeraldCore
import HummingbirdCore
import Hummingbird
import Logging
import NIOCore

/// Answers `GET /api/notifications` from memory alone: a personal access token already looked up
/// (the token cache), a stream that `RecentEvents` holds, a seq cursor, nothing to wait for. That
/// is every poll of a client that polls steadily on a single node.
///
/// The answer is the one the route would give: the same body (`NotificationsAPI.answerFromMemory`,
/// `JSONResponse`), the same headers, the same log line and request counter. Anything else is not
/// answered here (nil), and goes to the router.
struct MemoryPolls: Sendable {
    private typealias RequestLog = RequestLogMiddleware<HeraldRequestContext>

    /// A poll's answer, written once its request's end arrives.
    struct Answer {
        let head: HTTPResponse
        let body: ByteBuffer
        let requestID: String
        let start: ContinuousClock.Instant
    }

    /// The token cache and the streams held, asked directly: this is the path that must not wait.
    let cache: CachingStore
    let recent: RecentEvents
    let maxWait: Double
    let logger: Logger
    let date: HTTPDate
    // Hummingbird's MetricsMiddleware counts a request under these names, in the process's
    // metrics system; made here, they bind to the one bootstrapped before the server is built.
    let requests: CoreMetrics.Counter
    let durations: CoreMetrics.Timer
    /// Polls answered here, in the node's own registry: what this path saves is visible.
    let answered: CoreMetrics.Counter

    /// Nil when the store keeps no streams in memory (several nodes).
    init?(herald: Herald, logger: Logger, date: HTTPDate) {
        guard let cache = herald.store as? CachingStore, let recent = cache.recent else { return nil }
        self.cache = cache
        self.recent = recent
        maxWait = herald.configuration.maxWait
        self.logger = logger
        self.date = date
        let dimensions = [
            ("http.route", NotificationsAPI.path), ("http.request.method", "GET"), ("http.response.status_code", "200"),
        ]
        requests = CoreMetrics.Counter(label: "hb.requests", dimensions: dimensions)
        durations = CoreMetrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
        answered = CoreMetrics.Counter(label: "herald_polls_answered_from_memory_total", factory: herald.metrics.factory)
    }

    /// The response to `request`, if it is a poll that memory answers. `lastDigest` is the
    /// connection's: a client polls with the same `Authorization` each time, and this skips the
    /// SHA-256. It keeps the digest, not the user: the cache stays the one place a token's user
    /// comes from, so a revocation that evicts it there holds here too.
    func answer(
        _ request: HTTPRequest, lastDigest: inout (authorization: String, digest: String)?, allocator: ByteBufferAllocator
    ) -> Answer? {
        let fields = request.headerFields
        guard request.method == .get, let target = request.path, target.utf8.starts(with: NotificationsAPI.path.utf8),
            let authorization = fields[.authorization], APIFastPath.isPlain(request)
        else { return nil }
        let start = ContinuousClock.now
        let uri = URI(target)
        guard uri.path == NotificationsAPI.path, let user = user(authorization, lastDigest: &lastDigest) else { return nil }
        let query = uri.queryParameters
        guard let cursor = try? NotificationsAPI.cursor(parsing: query["since"]),
            let wait = try? NotificationsAPI.wait(parsing: query["wait"], max: maxWait),
            let list = NotificationsAPI.answerFromMemory(in: user.stream, after: cursor, wait: wait, recent: recent)
        else { return nil }

        let body = allocator.buffer(string: JSONResponse.notificationsJSON(list))
        let requestID = fields[RequestLog.header].flatMap(RequestLog.accepted) ?? RequestLog.padded(RequestID().description)
        var head = HTTPResponse(status: .ok)
        head.headerFields[.contentType] = "application/json; charset=utf-8"
        head.headerFields[.cacheControl] = "no-store"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[RequestLog.header] = requestID
        head.headerFields[.date] = date.now
        head.headerFields[.server] = Herald.serverName
        return Answer(head: head, body: body, requestID: requestID, start: start)
    }

    private func user(_ authorization: String, lastDigest: inout (authorization: String, digest: String)?) -> User? {
        if let lastDigest, lastDigest.authorization == authorization {
            return cache.knownUser(accessTokenDigest: lastDigest.digest)
        }
        guard let digest = Authenticator.accessTokenDigest(authorization) else { return nil }
        lastDigest = (authorization, digest)
        return cache.knownUser(accessTokenDigest: digest)
    }

    /// What the router's middleware records for a request: its counter, its duration, its log line.
    func record(_ answer: Answer) {
        requests.increment()
        answered.increment()
        let elapsed = (ContinuousClock.now - answer.start).components
        durations.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        if logger.logLevel <= .debug {
            var logger = logger
            logger[metadataKey: "hb.request.id"] = .string(RequestID().description)
            logger[metadataKey: "request_id"] = .string(answer.requestID)
            RequestLog.log(method: .get, path: NotificationsAPI.path, status: 200, since: answer.start, to: logger)
        }
    }
}
