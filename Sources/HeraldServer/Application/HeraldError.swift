import HeraldCore
import Hummingbird

/// A request Herald refuses: the status, a stable machine-readable code and a sentence for people.
/// `ErrorMiddleware` shows it as JSON under `/api/` and as a page elsewhere.
struct HeraldError: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    /// Seconds to wait before trying again (`Retry-After`), for refusals that pass.
    var retryAfter: Int? = nil

    static func badRequest(_ message: String, code: String = "bad_request") -> Self {
        .init(status: .badRequest, code: code, message: message)
    }
    static func unauthorized(_ message: String = "Sign in or send a valid access token.") -> Self {
        .init(status: .unauthorized, code: "unauthorized", message: message)
    }
    static func forbidden(_ message: String) -> Self {
        .init(status: .forbidden, code: "forbidden", message: message)
    }
    static func notFound(_ message: String, code: String = "not_found") -> Self {
        .init(status: .notFound, code: code, message: message)
    }
    static func unprocessable(_ message: String, code: String) -> Self {
        .init(status: .unprocessableContent, code: code, message: message)
    }
    static let `internal` = HeraldError(
        status: .internalServerError, code: "internal", message: "Something went wrong on our side.")

    /// A cursor past the stream's last seq: from another database, or made up. Every transport
    /// refuses it the same way rather than wait for events that may never come.
    static func cursorAhead(_ cursor: Int64, of stream: StreamName, lastSeq: Int64) -> Self {
        .badRequest(
            "The cursor \(cursor) is ahead of \(stream), which is at \(lastSeq). Resume from \(lastSeq) or 0.",
            code: "cursor_ahead")
    }

    /// The database is out of reach (multi-node mode): nothing was written.
    static let storeUnavailable = HeraldError(
        status: .serviceUnavailable, code: "store_unavailable",
        message: "The database cannot be reached right now; nothing was changed. Try again shortly.")

    static func tooLarge(limit: Int) -> Self {
        .init(status: .contentTooLarge, code: "body_too_large", message: "The request body is larger than \(limit) bytes.")
    }
}

/// Errors thrown before the error middleware runs (authentication, the API's CSRF check) are
/// answered by Hummingbird itself, in the API's JSON form.
extension HeraldError: HTTPResponseError {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.error(self)
    }
}
