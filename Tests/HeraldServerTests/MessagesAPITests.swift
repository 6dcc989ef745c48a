import Foundation
import HeraldCore
import HTTPTypes
import HeraldServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A user with a personal access token, for talking to the API like a script would.
struct APIUser {
    let name: String
    let token: String
    var auth: HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    static func create(_ name: String, in herald: Herald) async throws -> APIUser {
        let user = try await herald.store.createUser(username: name, passwordHash: "unused")
        let token = Secret.generate(prefix: "hrd_")
        try await herald.store.createAccessToken(userID: user.id, tokenDigest: Secret.digest(token), label: "test")
        return APIUser(name: name, token: token)
    }
}

@Suite struct MessagesAPITests {
    @Test func sendListAndMarkRead() async throws {
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            let bob = try await APIUser.create("bob", in: herald)
            let sent = try await client.execute(
                uri: "/api/messages", method: .post, headers: alice.auth,
                body: ByteBuffer(string: #"{"to": "BOB", "body": "  hi there \n"}"#))
            #expect(sent.status == .created)
            let message = try #require(try sent.json() as? [String: Any])
            #expect(message["from"] as? String == "alice")
            #expect(message["to"] as? String == "bob")
            #expect(message["body"] as? String == "hi there")

            let inbox = try #require(
                try await client.execute(uri: "/api/messages?page=1", method: .get, headers: bob.auth).json()
                    as? [String: Any])
            #expect((inbox["messages"] as? [[String: Any]])?.first?["body"] as? String == "hi there")
            #expect(inbox["unread_message_count"] as? Int == 1)
            #expect(inbox["total"] as? Int == 1)
            #expect(inbox["has_older"] as? Bool == false)

            let read = try await client.execute(uri: "/api/messages/read", method: .post, headers: bob.auth)
            #expect(read.status == .ok)
            let notifications = try await client.execute(
                uri: "/api/notifications?since=0", method: .get, headers: bob.auth
            ).notifications()
            #expect(notifications.map { $0.data as? Int } == [0])
        }
    }

    /// A message and an inbox page are written by hand: every character of a body comes back as
    /// sent, under exactly the documented keys, in sorted order as the encoder wrote them.
    @Test func messagesAreWrittenAsJSONThatReadsBackExactly() async throws {
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            let bob = try await APIUser.create("bob", in: herald)
            let body = "\"quoted\" \\ back\u{1}slash\ttab </script> \u{2028} é 🎉 line\nbreak"
            let request = try JSONSerialization.data(withJSONObject: ["to": "bob", "body": body])
            let sent = try await client.execute(
                uri: "/api/messages", method: .post, headers: alice.auth, body: ByteBuffer(bytes: request))
            #expect(sent.status == .created)
            #expect(sent.body.getString(at: 0, length: 9) == #"{"body":""#)
            let message = try #require(try sent.json() as? [String: Any])
            #expect(Set(message.keys) == ["body", "from", "id", "timestamp", "to"])
            #expect(message["body"] as? String == body)
            #expect(message["timestamp"] as? Double ?? 0 > 1_700_000_000)

            let inbox = try #require(
                try await client.execute(uri: "/api/messages", method: .get, headers: bob.auth).json() as? [String: Any])
            #expect(Set(inbox.keys) == [
                "has_newer", "has_older", "messages", "page", "pages", "per_page", "total", "unread_message_count",
            ])
            let listed = try #require((inbox["messages"] as? [[String: Any]])?.first)
            #expect(listed["body"] as? String == body && listed["id"] as? Int64 == message["id"] as? Int64)
            #expect(inbox["has_newer"] as? Bool == false && inbox["pages"] as? Int == 1)
        }
    }

    /// Herald reads a usual body with its own parser; what it reads must be what Foundation's
    /// decoder reads, escapes, repeated keys and other fields included.
    @Test(arguments: [
        #"{"to": "bob", "body": "\u00e9\ud83c\udf89 \/ \" \\ \n end"}"#,
        #"{"body": "first", "extra": [1, {"to": "alice"}], "to": "bob"}"#,
        #"{"to": "carol", "to": "bob", "body": "twice"}"#,
        #"{"to": "bob", "body": "once", "body": "again"}"#,
        #"  {"to":"BOB","body":"case"}  "#,
    ])
    func aBodyIsReadAsFoundationReadsIt(body: String) async throws {
        struct Expected: Decodable { var to: String; var body: String }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(body.utf8))
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            _ = try await APIUser.create("bob", in: herald)
            _ = try await APIUser.create("carol", in: herald)
            let response = try await client.execute(
                uri: "/api/messages", method: .post, headers: alice.auth, body: ByteBuffer(string: body))
            #expect(response.status == .created)
            let message = try #require(try response.json() as? [String: Any])
            #expect(message["body"] as? String == expected.body)
            let recipient = try #require(try await herald.store.user(named: expected.to))
            #expect(message["to"] as? String == recipient.username)
        }
    }

    @Test(arguments: [
        (#"{"to": "bob", "body": "hi""#, 400, "invalid_json"),
        ("not json", 400, "invalid_json"),
        ("", 400, "invalid_json"),
        (#"{"to": "bob"}"#, 422, "missing_field"),
        (#"{"to": 7, "body": "hi"}"#, 422, "invalid_field"),
        (#"{"to": "bob", "body": null}"#, 422, "invalid_field"),
        (#"["bob", "hi"]"#, 422, "invalid_field"),
        (#"{"to": "nobody", "body": "hi"}"#, 404, "unknown_user"),
        (#"{"to": "alice", "body": "hi"}"#, 422, "recipient_is_sender"),
        (#"{"to": "bob", "body": "  "}"#, 422, "body_empty"),
        (#"{"to": "bob", "body": "\#(String(repeating: "x", count: 1001))"}"#, 422, "body_too_long"),
    ])
    func badMessagesAreClearErrorsAndWriteNothing(body: String, status: Int, code: String) async throws {
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            _ = try await APIUser.create("bob", in: herald)
            let response = try await client.execute(
                uri: "/api/messages", method: .post, headers: alice.auth, body: ByteBuffer(string: body))
            #expect(response.status.code == status)
            #expect(try response.errorCode() == code)
            let bob = try #require(try await herald.store.user(named: "bob"))
            #expect(try await herald.store.inbox(userID: bob.id, page: 1, perPage: 5).total == 0)
            #expect(try await herald.store.lastSeq(of: bob.stream) == 0)
        }
    }

    @Test func aBodyThatIsNotUTF8IsRefusedNotRepaired() async throws {
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            _ = try await APIUser.create("bob", in: herald)
            let bytes = Array(#"{"to": "bob", "body": "hi "#.utf8) + [0xFF] + Array(#""}"#.utf8)
            let response = try await client.execute(
                uri: "/api/messages", method: .post, headers: alice.auth, body: ByteBuffer(bytes: bytes))
            #expect(response.status == .badRequest)
            #expect(try response.errorCode() == "invalid_json")
            let bob = try #require(try await herald.store.user(named: "bob"))
            #expect(try await herald.store.inbox(userID: bob.id, page: 1, perPage: 5).total == 0)
        }
    }

    @Test func oversizedBodiesAre413() async throws {
        try await withHerald({ $0.maxRequestBody = 1024 }) { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            _ = try await APIUser.create("bob", in: herald)
            let huge = #"{"to": "bob", "body": "\#(String(repeating: "x", count: 4000))"}"#
            let response = try await client.execute(
                uri: "/api/messages", method: .post, headers: alice.auth, body: ByteBuffer(string: huge))
            #expect(response.status == .contentTooLarge)
            #expect(try response.errorCode() == "body_too_large")
        }
    }

    @Test func sessionCookieRequestsNeedTheCSRFHeader() async throws {
        try await withHerald { herald, client in
            let alice = TestBrowser(client)
            try await alice.register("alice")
            _ = try await APIUser.create("bob", in: herald)
            let body = ByteBuffer(string: #"{"to": "bob", "body": "hi"}"#)
            let refused = try await alice.send("/api/messages", method: .post, body: body)
            #expect(refused.status == .forbidden)
            #expect(try refused.errorCode() == "forbidden")
            let csrf = try #require(alice.cookies["herald_csrf"])
            let accepted = try await alice.send(
                "/api/messages", method: .post, headers: [HTTPField.Name("X-CSRF-Token")!: csrf], body: body)
            #expect(accepted.status == .created)
        }
    }

    @Test func apiErrorsAreJSONEvenForUnknownRoutes() async throws {
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            let missing = try await client.execute(uri: "/api/nothing-here", method: .get, headers: alice.auth)
            #expect(missing.status == .notFound)
            #expect(try missing.errorCode() == "not_found")
            let badPage = try await client.execute(uri: "/api/messages?page=-2", method: .get, headers: alice.auth)
            #expect(badPage.status == .badRequest)
            #expect(try badPage.errorCode() == "invalid_page")
            let anonymous = try await client.execute(uri: "/api/messages", method: .post)
            #expect(anonymous.status == .unauthorized)
        }
    }
}
