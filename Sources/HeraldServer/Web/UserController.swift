import HeraldCore
import Hummingbird

/// The user list and profiles.
struct UserController {
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/") { request, context in
            try await herald.page("index", title: "Home", request: request, context: context)
        }
        router.get("/users") { request, context in
            _ = try context.requireUser()
            let page = try Paging.page(of: request)
            let perPage = herald.configuration.usersPerPage
            let (users, total) = try await herald.store.users(page: page, perPage: perPage)
            var values = Paging.pagerValues(
                path: "/users", page: page, pageCount: max(1, (total + perPage - 1) / perPage),
                newerLabel: "Previous", olderLabel: "Next")
            values["users"] = users.map { ["username": $0.username, "since": DisplayDate.human($0.createdAt)] }
            return try await herald.page("users", title: "Users", values: values, request: request, context: context)
        }
        router.get("/user/{username}") { request, context in
            let viewer = try context.requireUser()
            let name = try context.parameters.require("username")
            guard let profile = try await herald.store.user(named: name) else {
                throw HeraldError.notFound("There is no user called \(name).", code: "unknown_user")
            }
            return try await herald.page(
                "user", title: profile.username,
                values: [
                    "profile": profile.username, "since": DisplayDate.human(profile.createdAt),
                    "isSelf": profile.id == viewer.id,
                ],
                request: request, context: context)
        }
    }
}

extension HeraldRequestContext {
    /// The signed-in user; pages send anonymous visitors to the login form, the API answers 401.
    func requireUser() throws -> User {
        guard let identity else { throw HeraldError.unauthorized() }
        return identity
    }
}
