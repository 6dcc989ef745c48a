import HeraldCore
import HTTPTypes
import Hummingbird

/// Cross-site request forgery protection by double submit: every browser gets a random token in an
/// HttpOnly, SameSite=Lax cookie; pages embed it in their forms, and a state-changing request must
/// echo it back (form field `csrf_token`, or header `X-CSRF-Token` for scripts using the session).
///
/// Forms are checked where they are parsed (`FormData`), so no POST handler can forget; JSON API
/// requests made with the session cookie are checked here. Bearer-token requests need no token:
/// a browser never attaches one by itself.
struct CSRFMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext
    static let cookieName = "herald_csrf"
    static let formField = "csrf_token"
    static let header = HTTPField.Name("X-CSRF-Token")!

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let existing = request.cookies[Self.cookieName]?.value
        let isWellFormed = existing.map { $0.count == 43 && $0.utf8.allSatisfy(Self.isTokenByte) } ?? false
        // Only pages render forms: no token to make for the API and the machines' endpoints.
        context.csrfToken = isWellFormed ? existing! : Self.mayRenderAForm(request.uri.path) ? Secret.generate() : ""

        if request.method.isUnsafe, case .session = context.credential, request.uri.path.hasPrefix("/api/") {
            guard isWellFormed, let sent = request.headers[Self.header],
                Secret.constantTimeEquals(sent, context.csrfToken)
            else {
                throw HeraldError.forbidden("Missing or wrong X-CSRF-Token header.")
            }
        }
        var response = try await next(request, context)
        // Only pages carry forms, so only pages need to hand out the cookie.
        if !isWellFormed, response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.setCookie(
                Cookie(name: Self.cookieName, value: context.csrfToken, path: "/", httpOnly: true, sameSite: .lax))
        }
        return response
    }

    /// Checks a submitted token against the browser's cookie.
    static func verify(_ submitted: String?, context: Context) throws {
        guard let submitted, !submitted.isEmpty, Secret.constantTimeEquals(submitted, context.csrfToken) else {
            throw HeraldError.forbidden("The form has expired or did not come from this site. Please try again.")
        }
    }

    private static func mayRenderAForm(_ path: String) -> Bool {
        !(path.hasPrefix("/api/") || ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(path))
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}

extension HTTPRequest.Method {
    var isUnsafe: Bool { !(self == .get || self == .head || self == .options) }
}
