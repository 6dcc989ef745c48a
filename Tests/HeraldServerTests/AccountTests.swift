import HeraldCore
import HeraldServer
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct AccountTests {
    @Test func registerLogsInAndLogoutEndsTheSession() async throws {
        try await withHerald { _, client in
            let browser = TestBrowser(client)
            try await browser.register("ada")
            #expect(browser.cookies["herald_session"] != nil)
            let session = try #require(browser.cookies["herald_session"])
            #expect(session.count >= 43)
            let home = try await browser.get("/")
            #expect(home.text.contains("Welcome to Herald, ada!"))
            #expect(home.text.contains("Hi, ada!"))

            let logout = try await browser.post("/logout", form: [:])
            #expect(logout.status == .seeOther)
            #expect(browser.cookies["herald_session"] == nil)
            // The old cookie is dead on the server too, not just forgotten by the browser.
            let replay = try await client.execute(
                uri: "/api/messages", method: .get, headers: [.cookie: "herald_session=\(session)"])
            #expect(replay.status == .unauthorized)
        }
    }

    @Test func loginChecksThePasswordAndFollowsOnlyLocalNext() async throws {
        try await withHerald { _, client in
            try await TestBrowser(client).register("grace", password: "hopper-1906")
            let browser = TestBrowser(client)
            try await browser.get("/login")
            let wrong = try await browser.post("/login", form: ["username": "grace", "password": "nope-nope"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Invalid username or password."))
            #expect(browser.cookies["herald_session"] == nil)

            let evil = try await browser.post(
                "/login", form: ["username": "GRACE", "password": "hopper-1906", "next": "//evil.example/"])
            #expect(evil.headers[.location] == "/")
            try await browser.post("/logout", form: [:])
            try await browser.get("/login")
            let ok = try await browser.post(
                "/login", form: ["username": "grace", "password": "hopper-1906", "next": "/messages?page=1"])
            #expect(ok.headers[.location] == "/messages?page=1")
        }
    }

    @Test func registrationRefusesBadInputAndKeepsTheUsername() async throws {
        try await withHerald { herald, client in
            let browser = TestBrowser(client)
            try await browser.register("taken")
            try await browser.post("/logout", form: [:])
            try await browser.get("/register")
            let cases: [(String, String, String, String)] = [
                ("ab", "long enough", "long enough", "3 to 32 characters"),
                ("bad name", "long enough", "long enough", "may contain only"),
                ("fine_name", "short", "short", "at least 8"),
                ("fine_name", "long enough", "different!", "passwords differ"),
                ("TAKEN", "long enough", "long enough", "username is taken"),
            ]
            for (username, password, again, problem) in cases {
                let response = try await browser.post(
                    "/register", form: ["username": username, "password": password, "password2": again])
                #expect(response.status == .unprocessableContent)
                #expect(response.text.contains(problem), "\(username): \(problem)")
                #expect(response.text.contains("value=\"\(username)\""))
            }
            #expect(try await herald.store.users(page: 1, perPage: 10).total == 1)
        }
    }

    @Test func formPostsWithoutTheCSRFTokenAreRefusedAndChangeNothing() async throws {
        try await withHerald { herald, client in
            let alice = TestBrowser(client)
            try await alice.register("alice")
            try await TestBrowser(client).register("bob")
            try await alice.get("/send_message/bob")
            for token: String? in [nil, "", "forged-token-forged-token-forged-token-abc"] {
                let response = try await alice.post("/send_message/bob", form: ["message": "hi"], csrf: .some(token))
                #expect(response.status == .forbidden)
            }
            let bob = try #require(try await herald.store.user(named: "bob"))
            #expect(try await herald.store.unreadMessageCount(userID: bob.id) == 0)
            #expect(try await herald.store.lastSeq(of: bob.stream) == 0)

            // Registration and login forms are protected as well (no login CSRF).
            let stranger = TestBrowser(client)
            let register = try await stranger.post(
                "/register", form: ["username": "mallory", "password": "long enough", "password2": "long enough"])
            #expect(register.status == .forbidden)
            #expect(try await herald.store.user(named: "mallory") == nil)
        }
    }

    @Test func pagesNeedALoginAndSendVisitorsToTheLoginForm() async throws {
        try await withHerald { _, client in
            for path in ["/messages", "/users", "/user/someone", "/send_message/someone"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location]?.hasPrefix("/login?next=") == true)
            }
        }
    }

    @Test func sessionCookieIsHttpOnlyAndSameSiteLax() async throws {
        try await withHerald { _, client in
            let browser = TestBrowser(client)
            try await browser.get("/register")
            let response = try await browser.post(
                "/register", form: ["username": "cookie", "password": "long enough", "password2": "long enough"])
            let cookie = try #require(response.headers[values: .setCookie].first { $0.hasPrefix("herald_session=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
        }
    }
}
