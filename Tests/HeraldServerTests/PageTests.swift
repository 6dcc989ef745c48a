import Foundation
import HeraldCore
import HeraldServer
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct PageTests {
    @Test func sendingAMessageFlashesAndRedirectsToTheProfile() async throws {
        try await withHerald { herald, client in
            let alice = TestBrowser(client)
            try await alice.register("alice")
            try await TestBrowser(client).register("bob")
            let sent = try await alice.sendMessage(to: "bob", "  Hello <b>Bob</b> & co  ")
            #expect(sent.status == .seeOther)
            #expect(sent.headers[.location] == "/user/bob")
            let profile = try await alice.get("/user/bob")
            #expect(profile.text.contains("Your message has been sent."))
            // The notice is shown once.
            #expect(!(try await alice.get("/user/bob")).text.contains("Your message has been sent."))

            let bob = try #require(try await herald.store.user(named: "bob"))
            let inbox = try await herald.store.inbox(userID: bob.id, page: 1, perPage: 10)
            #expect(inbox.messages.map(\.body) == ["Hello <b>Bob</b> & co"])
        }
    }

    @Test func badMessagesReShowTheFormWithTheTextKept() async throws {
        try await withHerald({ $0.messageMaxLength = 20 }) { herald, client in
            let alice = TestBrowser(client)
            try await alice.register("alice")
            try await TestBrowser(client).register("bob")
            let empty = try await alice.sendMessage(to: "bob", "   \n ")
            #expect(empty.status == .unprocessableContent)
            #expect(empty.text.contains("The message is empty."))

            let long = String(repeating: "é", count: 21)
            let tooLong = try await alice.sendMessage(to: "bob", long)
            #expect(tooLong.status == .unprocessableContent)
            #expect(tooLong.text.contains("longer than 20 characters"))
            #expect(tooLong.text.contains(">\(long)</textarea>"))

            let exactly = try await alice.sendMessage(to: "bob", String(repeating: "é", count: 20))
            #expect(exactly.status == .seeOther)

            let unknown = try await alice.get("/send_message/nobody")
            #expect(unknown.status == .notFound)
            let unknownPost = try await alice.post("/send_message/nobody", form: ["message": "hi"])
            #expect(unknownPost.status == .notFound)
            let bob = try #require(try await herald.store.user(named: "bob"))
            #expect(try await herald.store.inbox(userID: bob.id, page: 1, perPage: 10).total == 1)
        }
    }

    @Test func profileOffersAMessageLinkExceptOnYourOwn() async throws {
        try await withHerald { _, client in
            let alice = TestBrowser(client)
            try await alice.register("alice")
            try await TestBrowser(client).register("bob")
            #expect(try await alice.get("/user/bob").text.contains("Send private message"))
            #expect(!(try await alice.get("/user/alice")).text.contains("Send private message"))
            #expect(try await alice.get("/user/nobody").status == .notFound)
            let users = try await alice.get("/users")
            #expect(users.text.contains("/user/alice") && users.text.contains("/user/bob"))
        }
    }

    @Test func navbarBadgeShowsTheUnreadCountAndTheInboxClearsIt() async throws {
        try await withHerald { _, client in
            let alice = TestBrowser(client)
            let bob = TestBrowser(client)
            try await alice.register("alice")
            try await bob.register("bob")
            #expect(try await bob.get("/").text.contains(#"style="visibility: hidden">0</span>"#))
            _ = try await alice.sendMessage(to: "bob", "first-message")
            _ = try await alice.sendMessage(to: "bob", "second-message")
            #expect(try await bob.get("/users").text.contains(#"style="visibility: visible">2</span>"#))
            let inbox = try await bob.get("/messages")
            #expect(inbox.text.contains(#"style="visibility: hidden">0</span>"#))
            let two = try #require(inbox.text.range(of: "second-message")), one = try #require(inbox.text.range(of: "first-message"))
            #expect(two.lowerBound < one.lowerBound)
        }
    }

    @Test func inboxIsPaginatedNewestFirstWithLinksDisabledAtTheEnds() async throws {
        try await withHerald({ $0.messagesPerPage = 3 }) { _, client in
            let alice = TestBrowser(client)
            let bob = TestBrowser(client)
            try await alice.register("alice")
            try await bob.register("bob")
            for n in 1...7 { _ = try await alice.sendMessage(to: "bob", "message number \(n)") }
            let first = try await bob.get("/messages")
            #expect(first.text.contains("message number 7") && first.text.contains("message number 5"))
            #expect(!first.text.contains("message number 4"))
            #expect(first.text.contains(#"href="/messages?page=2""#))
            #expect(first.text.contains(#"<span class="disabled" aria-disabled="true">&larr; Newer messages</span>"#))
            let last = try await bob.get("/messages?page=3")
            #expect(last.text.contains("message number 1") && !last.text.contains("message number 2"))
            #expect(last.text.contains(#"href="/messages?page=2""#))
            #expect(last.text.contains(#"<span class="disabled" aria-disabled="true">Older messages &rarr;</span>"#))
            #expect(try await bob.get("/messages?page=zero").status == .badRequest)
        }
    }

    @Test func usernamesAndBodiesAreEscapedEverywhere() async throws {
        try await withHerald { _, client in
            let alice = TestBrowser(client)
            let bob = TestBrowser(client)
            try await alice.register("alice")
            try await bob.register("bob")
            _ = try await alice.sendMessage(to: "bob", #"<script>alert("x")</script>"#)
            let inbox = try await bob.get("/messages")
            #expect(!inbox.text.contains("<script>alert"))
            #expect(inbox.text.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
        }
    }

    @Test func theBrowserScriptIsServedWithAnETag() async throws {
        try await withHerald { _, client in
            let script = try await client.execute(uri: "/static/herald.js", method: .get)
            #expect(script.status == .ok)
            #expect(script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            #expect(script.text.contains("function setMessageCount(n)"))
            #expect(script.text.contains("/api/notifications?since="))
            let etag = try #require(script.headers[.eTag])
            let again = try await client.execute(uri: "/static/herald.js", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
        }
    }

    @Test func healthzAnswers() async throws {
        try await withHerald { _, client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
        }
    }
}
