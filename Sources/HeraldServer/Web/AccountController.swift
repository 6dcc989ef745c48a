import Foundation
import HeraldCore
import Hummingbird

/// Register, log in, log out.
struct AccountController {
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/register") { request, context in
            if context.identity != nil { return Response.redirect(to: "/") }
            return try await herald.page("register", title: "Register", request: request, context: context)
        }
        router.post("/register", use: register)
        router.get("/login") { request, context in
            if context.identity != nil { return Response.redirect(to: "/") }
            var values: [String: Any] = [:]
            values["next"] = safeNext(request)
            return try await herald.page("login", title: "Log in", values: values, request: request, context: context)
        }
        router.post("/login", use: login)
        router.get("/logout") { request, context in
            try await herald.page("logout", title: "Log out", request: request, context: context)
        }
        router.post("/logout", use: logout)
    }

    @Sendable func register(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let form = try await FormData.read(request, context: context, limit: herald.configuration.maxRequestBody)
        let username = (form["username"] ?? "").trimmingCharacters(in: .whitespaces)
        let password = form["password"] ?? ""
        func refuse(_ problem: String) async throws -> Response {
            try await herald.page(
                "register", title: "Register", values: ["error": problem, "username": username],
                status: .unprocessableContent, request: request, context: context)
        }
        if let problem = Username.problem(with: username) { return try await refuse(problem) }
        if let problem = Password.problem(with: password) { return try await refuse(problem) }
        guard password == form["password2"] else { return try await refuse("The two passwords differ.") }
        let hash = try await herald.passwords.hash(password)
        let user: User
        do {
            user = try await herald.store.createUser(username: username, passwordHash: hash)
        } catch StoreError.usernameTaken {
            return try await refuse("That username is taken. Please choose another.")
        }
        var response = Flash.redirect(to: "/", saying: "Welcome to Herald, \(user.username)!")
        response.setCookie(try await startSession(for: user))
        return response
    }

    @Sendable func login(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let form = try await FormData.read(request, context: context, limit: herald.configuration.maxRequestBody)
        let username = (form["username"] ?? "").trimmingCharacters(in: .whitespaces)
        let password = form["password"] ?? ""
        let limits = herald.limits
        let address = limits.client(peer: context.channel.remoteAddress, headers: request.headers)
        let account = username.lowercased()
        var values: [String: Any] = ["username": username, "next": safeNext(form["next"]) as Any]
        // Refused before the password is even looked at: a guessing script learns nothing more.
        do {
            try limits.loginFailuresPerUser.check(account)
            try limits.loginFailuresPerAddress.check(address)
        } catch {
            let minutes = (error.retryAfter + 59) / 60
            values["error"] = "Too many failed logins. Try again in \(minutes) minute\(minutes == 1 ? "" : "s")."
            var response = try await herald.page(
                "login", title: "Log in", values: values, status: .tooManyRequests, request: request, context: context)
            response.headers[.retryAfter] = String(error.retryAfter)
            return response
        }
        guard let credentials = try await herald.store.credentials(named: username),
            try await herald.passwords.verify(password, against: credentials.passwordHash)
        else {
            try? limits.loginFailuresPerUser.take(account)
            try? limits.loginFailuresPerAddress.take(address)
            values["error"] = "Invalid username or password."
            return try await herald.page(
                "login", title: "Log in", values: values, status: .unauthorized, request: request, context: context)
        }
        limits.loginFailuresPerUser.reset(account)
        var response = Response.redirect(to: safeNext(form["next"]) ?? "/")
        response.setCookie(try await startSession(for: credentials.user))
        return response
    }

    @Sendable func logout(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        _ = try await FormData.read(request, context: context, limit: herald.configuration.maxRequestBody)
        if case .session(let digest) = context.credential {
            try await herald.store.deleteSession(tokenDigest: digest)
        }
        var response = Flash.redirect(to: "/", saying: "You have been logged out.")
        response.setCookie(SessionCookie.expired)
        return response
    }

    private func startSession(for user: User) async throws -> Cookie {
        let token = Secret.generate()
        let lifetime = herald.configuration.sessionLifetime
        try await herald.store.createSession(
            userID: user.id, tokenDigest: Secret.digest(token), expiresAt: Date().addingTimeInterval(lifetime))
        return SessionCookie.issue(token, lifetime: lifetime)
    }

    /// The `next` parameter when it is a path on this site; anything else could send the user
    /// to another site after logging in.
    private func safeNext(_ candidate: String?) -> String? {
        guard let next = candidate, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else {
            return nil
        }
        return next
    }

    private func safeNext(_ request: Request) -> String? {
        safeNext(request.uri.queryParameters["next"].map(String.init))
    }
}
