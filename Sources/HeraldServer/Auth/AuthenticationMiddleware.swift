import Foundation
import HeraldCore
import Hummingbird

/// Finds out who is asking: a bearer access token, or else a session cookie.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let authenticator: Authenticator

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        do {
            var authorization = request.headers[.authorization]
            // EventSource cannot set headers: the stream takes its token in the query too.
            if authorization == nil, request.uri.path == "/api/events", let token = request.uri.queryParameters["token"] {
                authorization = "Bearer \(token)"
            }
            (context.identity, context.credential) = try await authenticator.identify(
                authorization: authorization, sessionCookie: request.cookies[SessionCookie.name]?.value)
            // A connection token only reads its streams; it is no account for pages or writes.
            if case .connectionToken = context.credential {
                let readable = ["/api/notifications", "/api/events", "/ws"].contains(request.uri.path)
                guard request.method == .get || request.method == .head, readable else { throw HeraldError.readOnlyToken }
            }
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
    /// Verifies connection tokens (JWTs), when a key is configured.
    var jwt: JWTVerifier? = nil

    func identify(authorization: String?, sessionCookie: String?) async throws
        -> (user: User?, credential: HeraldRequestContext.Credential?)
    {
        if let authorization {
            guard let token = Self.bearerToken(authorization), !token.isEmpty else {
                throw HeraldError.unauthorized("Use Authorization: Bearer <token>.")
            }
            let (user, credential) = try await identify(token: token)
            return (user, credential)
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

extension Authenticator {
    /// The token of `Bearer <token>` (the scheme in any case, blanks around the token dropped);
    /// nil for any other scheme. Byte by byte: Foundation's trimming and case folding were a tenth
    /// of an authenticated poll.
    static func bearerToken(_ authorization: String) -> String? {
        let bytes = authorization.utf8
        let scheme = "bearer ".utf8
        guard bytes.count >= scheme.count,
            zip(bytes, scheme).allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0) == $1 })
        else { return nil }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let rest = bytes.dropFirst(scheme.count)
        guard let first = rest.firstIndex(where: { !isBlank($0) }), let last = rest.lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(decoding: authorization.utf8[first...last], as: UTF8.self)
    }

    /// The digest of `Authorization: Bearer <personal access token>`, the key of its user in the
    /// store; nil for any other header, which `identify` judges.
    static func accessTokenDigest(_ authorization: String) -> String? {
        guard let token = bearerToken(authorization), token.hasPrefix(AccessToken.prefix),
            token.utf8.count <= JWTVerifier.maxTokenBytes
        else { return nil }
        return Secret.digest(token)
    }

    /// Who a bearer token is: a server key, a personal access token, or a connection token (JWT,
    /// any token with dots) whose `sub` user is made on first use. The one place a token becomes
    /// an identity, for every transport.
    func identify(token: String) async throws -> (user: User?, credential: HeraldRequestContext.Credential) {
        guard token.utf8.count <= JWTVerifier.maxTokenBytes else {
            throw HeraldError.invalidToken("The token is longer than \(JWTVerifier.maxTokenBytes) bytes.")
        }
        if token.utf8.contains(UInt8(ascii: ".")), !token.hasPrefix(AccessToken.prefix), !token.hasPrefix(ServerKey.prefix) {
            guard let jwt else {
                if token.split(separator: ".", omittingEmptySubsequences: false).count == 3 { throw HeraldError.jwtNotConfigured }
                throw HeraldError.unauthorized("The access token is not valid.")
            }
            let grant = try await jwt.verify(token)
            return (try await streamUser(named: grant.subject), .connectionToken(grant))
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

    /// The user a connection token names, made on first use: a row without a usable password
    /// (no bcrypt hash matches "!"), so the stream exists and publishers address it by name.
    private func streamUser(named name: String) async throws -> User {
        if let user = try await store.user(named: name) { return user }
        do {
            return try await store.createUser(username: name, passwordHash: Self.noPassword)
        } catch StoreError.usernameTaken {
            guard let user = try await store.user(named: name) else { throw HeraldError.internal }
            return user
        }
    }

    /// The password hash of users made by connection tokens: no password verifies against it.
    static let noPassword = "!"
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
