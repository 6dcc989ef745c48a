import Foundation
import HeraldCore
import Hummingbird

/// Finds out who is asking: a bearer access token, or else a session cookie.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let store: any HeraldStore

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        do {
            (context.identity, context.credential) = try await Authenticator(store: store).identify(
                authorization: request.headers[.authorization], sessionCookie: request.cookies[SessionCookie.name]?.value)
        } catch StoreError.unavailable {
            // Before the error middleware, which would otherwise have said so.
            throw HeraldError.storeUnavailable
        }
        return try await next(request, context)
    }
}

/// Who a request comes from, given its `Authorization` header and session cookie. Shared by the
/// router and the streaming connections that Herald serves outside it.
///
/// A bearer token that matches nothing is refused outright (the caller meant to authenticate and
/// got it wrong); a stale session cookie just leaves the visitor anonymous.
struct Authenticator: Sendable {
    let store: any HeraldStore

    func identify(authorization: String?, sessionCookie: String?) async throws
        -> (user: User?, credential: HeraldRequestContext.Credential?)
    {
        if let authorization {
            guard authorization.lowercased().hasPrefix("bearer "),
                case let token = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces),
                !token.isEmpty
            else {
                throw HeraldError.unauthorized("Use Authorization: Bearer <token>.")
            }
            let digest = Secret.digest(token)
            if token.hasPrefix(ServerKey.prefix) {
                guard try await store.hasAPIKey(digest: digest) else {
                    throw HeraldError.unauthorized("The server API key is not valid.")
                }
                return (nil, .serverKey(digest: digest))
            }
            guard let user = try await store.user(accessTokenDigest: digest) else {
                throw HeraldError.unauthorized("The access token is not valid.")
            }
            return (user, .accessToken)
        }
        if let cookie = sessionCookie, !cookie.isEmpty {
            let digest = Secret.digest(cookie)
            if let user = try await store.user(sessionDigest: digest, now: Date()) {
                return (user, .session(digest: digest))
            }
        }
        return (nil, nil)
    }
}

/// The secrets that authenticate requests, told apart by their prefix.
public enum ServerKey {
    /// Server API keys, for other backends: `hrk_…`.
    public static let prefix = "hrk_"
}

/// Personal access tokens, which act as one user: `hrd_…`.
public enum AccessToken {
    public static let prefix = "hrd_"
}

/// The browser session cookie.
enum SessionCookie {
    static let name = "herald_session"

    static func issue(_ token: String, lifetime: Double) -> Cookie {
        Cookie(name: name, value: token, maxAge: Int(lifetime), path: "/", httpOnly: true, sameSite: .lax)
    }

    static var expired: Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .lax)
    }
}
