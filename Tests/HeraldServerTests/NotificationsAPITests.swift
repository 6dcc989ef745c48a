import Foundation
import HeraldCore
import HeraldServer
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct NotificationsAPITests {
    @Test func unreadCountGrowsWithEachMessageAndTheInboxResetsIt() async throws {
        try await withHerald { _, client in
            let alice = TestBrowser(client)
            let bob = TestBrowser(client)
            try await alice.register("alice")
            try await bob.register("bob")

            _ = try await alice.sendMessage(to: "bob", "first")
            var list = try await bob.get("/api/notifications?since=0").notifications()
            #expect(list.count == 1)
            #expect(list[0].name == "unread_message_count")
            #expect(list[0].data as? Int == 1)

            _ = try await alice.sendMessage(to: "bob", "second")
            list = try await bob.get("/api/notifications?since=0").notifications()
            // Replace-by-name: still one unread_message_count, now 2, with a newer seq.
            #expect(list.count == 1)
            #expect(list[0].data as? Int == 2)
            let seqAfterTwo = list[0].seq

            try await bob.get("/messages")
            list = try await bob.get("/api/notifications?since=\(seqAfterTwo)").notifications()
            #expect(list.count == 1)
            #expect(list[0].data as? Int == 0)
            #expect(list[0].seq > seqAfterTwo)
            #expect(try await bob.get("/api/notifications?since=\(list[0].seq)").notifications().isEmpty)
        }
    }

    @Test func theSeedsFloatTimestampCursorWorks() async throws {
        try await withHerald { _, client in
            let alice = TestBrowser(client)
            let bob = TestBrowser(client)
            try await alice.register("alice")
            try await bob.register("bob")
            _ = try await alice.sendMessage(to: "bob", "hi")
            let all = try await bob.get("/api/notifications?since=0.0").text
            // The timestamp exactly as served, the way a client hands it back.
            let match = try #require(all.firstMatch(of: /"timestamp":([0-9.e+-]+)/))
            let stamp = String(match.1)
            #expect(try await bob.get("/api/notifications?since=1.5").notifications().count == 1)
            #expect(try await bob.get("/api/notifications?since=\(stamp)").notifications().isEmpty)
        }
    }

    @Test func usersSeeOnlyTheirOwnNotificationsAndInbox() async throws {
        try await withHerald { herald, client in
            let alice = TestBrowser(client)
            let bob = TestBrowser(client)
            try await alice.register("alice")
            try await bob.register("bob")
            _ = try await alice.sendMessage(to: "bob", "for bob only")

            #expect(try await alice.get("/api/notifications?since=0").notifications().isEmpty)
            let aliceInbox = try #require(try await alice.get("/api/messages").json() as? [String: Any])
            #expect((aliceInbox["messages"] as? [Any])?.isEmpty == true)
            #expect(!(try await alice.get("/messages")).text.contains("for bob only"))

            // A token acts as its own user and nobody else.
            let aliceID = try #require(try await herald.store.user(named: "alice")).id
            let token = Secret.generate(prefix: "hrd_")
            try await herald.store.createAccessToken(userID: aliceID, tokenDigest: Secret.digest(token), label: "t")
            let viaToken = try await client.execute(
                uri: "/api/notifications?since=0", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(viaToken.status == .ok)
            // Alice's own stream holds only the 0 her inbox visit wrote; Bob's count of 1 is not there.
            #expect(try viaToken.notifications().map { $0.data as? Int } == [0])
        }
    }

    @Test func aLongPollStartedBeforeASendReturnsTheNewCount() async throws {
        try await withHerald { herald, client in
            let alice = TestBrowser(client)
            let bob = TestBrowser(client)
            try await alice.register("alice")
            try await bob.register("bob")
            let bobCookies = bob.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")

            let poll = Task {
                try await client.execute(
                    uri: "/api/notifications?since=0&wait=60", method: .get, headers: [.cookie: bobCookies])
            }
            // Send only once the poll is parked in the hub, so the test proves a wake-up, not a first read.
            while herald.hub.pollWaiters.registeredCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
            _ = try await alice.sendMessage(to: "bob", "wake up")
            let list = try await poll.value.notifications()
            #expect(list.count == 1)
            #expect(list[0].name == "unread_message_count")
            #expect(list[0].data as? Int == 1)
            #expect(herald.hub.pollWaiters.registeredCount == 0)
        }
    }

    @Test func aLongPollWithNothingNewAnswersAnEmptyListAtTheDeadline() async throws {
        try await withHerald { herald, client in
            let bob = TestBrowser(client)
            try await bob.register("bob")
            let response = try await bob.get("/api/notifications?since=0&wait=0.2")
            #expect(response.status == .ok)
            #expect(response.text == "[]")
            #expect(herald.hub.pollWaiters.registeredCount == 0)
        }
    }

    @Test(arguments: [
        ("since=-1", "invalid_cursor"), ("since=abc", "invalid_cursor"), ("since=1e999", "invalid_cursor"),
        ("since=nan", "invalid_cursor"), ("since=", "invalid_cursor"), ("since=99999999999999999999", "invalid_cursor"),
        ("since=5", "cursor_ahead"), ("wait=-1", "invalid_wait"), ("wait=61", "invalid_wait"),
        ("wait=soon", "invalid_wait"),
    ])
    func badCursorsAndWaitsAreClearErrors(query: String, code: String) async throws {
        try await withHerald { _, client in
            let bob = TestBrowser(client)
            try await bob.register("bob")
            let response = try await bob.get("/api/notifications?\(query)")
            #expect(response.status == .badRequest)
            #expect(try response.errorCode() == code)
        }
    }

    @Test func withoutCredentialsTheAnswerIs401() async throws {
        try await withHerald { _, client in
            let anonymous = try await client.execute(uri: "/api/notifications", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(try anonymous.errorCode() == "unauthorized")
            let badToken = try await client.execute(
                uri: "/api/notifications", method: .get, headers: [.authorization: "Bearer hrd_nothing"])
            #expect(badToken.status == .unauthorized)
            let badScheme = try await client.execute(
                uri: "/api/notifications", method: .get, headers: [.authorization: "Basic YTpi"])
            #expect(badScheme.status == .unauthorized)
            for header in ["Bearer", "Bearer  ", "Bearerhrd_x", "Bearer\u{0}hrd_x"] {
                let response = try await client.execute(uri: "/api/notifications", method: .get, headers: [.authorization: header])
                #expect(response.status == .unauthorized, "\(header)")
            }
        }
    }

    @Test func theBearerSchemeIsReadInAnyCaseAndBlanksAroundTheTokenDoNotCount() async throws {
        try await withHerald { herald, client in
            let ada = try await herald.store.createUser(username: "ada", passwordHash: "!")
            let token = Secret.generate(prefix: "hrd_")
            try await herald.store.createAccessToken(userID: ada.id, tokenDigest: Secret.digest(token), label: "t")
            for header in ["Bearer \(token)", "bearer \(token)", "BEARER  \(token) ", "BeArEr \t\(token)\t"] {
                let response = try await client.execute(uri: "/api/notifications", method: .get, headers: [.authorization: header])
                #expect(response.status == .ok, "\(header)")
            }
            let wrong = try await client.execute(
                uri: "/api/notifications", method: .get, headers: [.authorization: "Bearer \(token)x"])
            #expect(wrong.status == .unauthorized)
        }
    }
}
