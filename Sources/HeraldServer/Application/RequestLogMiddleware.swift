import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id, the client's own `X-Request-ID` when it sends a sensible one, and
/// puts it on every line logged while the request is served and on the response, so a client's
/// report and the server's log meet.
///
/// It writes one line per request at debug level, not info: at tens of thousands of requests a
/// second a line each would cost more than the requests. The line names the path without its
/// query, which may carry a token (`?token=` is how EventSource authenticates), and no header.
/// Hummingbird's LogRequestsMiddleware logs the whole URI, so it is not used here.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { HTTPField.Name("X-Request-ID")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let id = request.headers[Self.header].flatMap(Self.accepted) ?? Self.padded(context.id)
        context.logger[metadataKey: "request_id"] = .string(id)
        let start = ContinuousClock.now
        do {
            var response = try await next(request, context)
            response.headers[Self.header] = id
            log(request, status: response.status.code, since: start, context: context)
            return response
        } catch {
            log(request, status: (error as? any HTTPResponseError)?.status.code ?? 500, since: start, context: context)
            throw error
        }
    }

    private func log(_ request: Request, status: Int, since start: ContinuousClock.Instant, context: Context) {
        Self.log(method: request.method, path: request.uri.path, status: status, since: start, to: context.logger)
    }

    /// The request's line, for requests served outside the router too (the polling fast path).
    static func log(method: HTTPRequest.Method, path: String, status: Int, since start: ContinuousClock.Instant, to logger: Logger) {
        let elapsed = ContinuousClock.now - start
        logger.debug(
            "request",
            metadata: [
                "method": .string(method.rawValue), "path": .string(path),
                "status": .stringConvertible(status),
                "ms": .stringConvertible(
                    Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15),
            ])
    }

    /// Hummingbird's id as 32 hex digits. Its first half, drawn once per process, is written
    /// without leading zeros: one process in sixteen would otherwise give every request a
    /// 31-digit id.
    static func padded(_ id: String) -> String {
        id.utf8.count < 32 ? String(repeating: "0", count: 32 - id.utf8.count) + id : id
    }

    /// An id a client chose, if it is short and plain enough to put in a log line as it is.
    static func accepted(_ value: String) -> String? {
        let plain = value.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-._".unicodeScalars.contains($0)) }
        return plain && (1...128).contains(value.utf8.count) ? value : nil
    }
}
