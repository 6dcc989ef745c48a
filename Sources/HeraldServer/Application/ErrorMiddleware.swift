import Foundation
import Logging
import HeraldCore
import Hummingbird
import NIOCore

/// Turns every failure into an answer the client can read: `{"error": {"code", "message"}}` under
/// `/api/`, an error page elsewhere. Unexpected errors are logged and shown as a bare 500 so no
/// internal detail leaks.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let herald: Herald

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let failure = classify(error, context: context)
            if request.uri.path.hasPrefix("/api/") {
                return JSONResponse.error(failure)
            }
            if failure.status == .unauthorized, request.method == .get {
                let next = request.uri.description.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"
                return Response.redirect(to: "/login?next=\(next)")
            }
            return try await herald.pages.errorPage(failure, request: request, context: context, store: herald.store)
        }
    }

    func classify(_ error: any Error, context: Context) -> HeraldError {
        switch error {
        case let error as HeraldError:
            return error
        case StoreError.unavailable:
            return .storeUnavailable
        case is NIOTooManyBytesError:
            // Every body is collected up to this limit (the error's own figure is not always set).
            return .tooLarge(limit: herald.configuration.maxRequestBody)
        case let error as any HTTPResponseError where error.status == .notFound:
            return .notFound("Nothing is here.")
        case let error as any HTTPResponseError where error.status == .methodNotAllowed:
            return HeraldError(status: .methodNotAllowed, code: "method_not_allowed", message: "Method not allowed.")
        case let error as any HTTPResponseError where error.status.code < 500:
            return HeraldError(status: error.status, code: "bad_request", message: error.status.reasonPhrase)
        default:
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return .internal
        }
    }
}
