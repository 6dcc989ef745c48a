import Foundation
import HTTPTypes
import HeraldCore
import HeraldServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct MetricsTests {
    /// The value of one sample line of the exposition, such as `herald_publishes_total{kind="publish"}`.
    func sample(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1))
        }
        return nil
    }

    @Test func publishesAndMessagesAreCountedWithTheirStoreTime() async throws {
        try await withHerald { herald, client in
            let key = Secret.generate(prefix: ServerKey.prefix)
            try await herald.store.createAPIKey(digest: Secret.digest(key), label: "test")
            let alice = try await APIUser.create("alice", in: herald)
            _ = try await APIUser.create("bob", in: herald)
            for _ in 0..<3 {
                let published = try await client.execute(
                    uri: "/api/publish", method: .post,
                    headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"user": "alice", "name": "build", "data": 1}"#))
                #expect(published.status == .created)
            }
            let sent = try await client.execute(
                uri: "/api/messages", method: .post, headers: alice.auth,
                body: ByteBuffer(string: #"{"to": "bob", "body": "hi"}"#))
            #expect(sent.status == .created)

            let scraped = try await client.execute(uri: "/metrics", method: .get)
            #expect(scraped.status == .ok)
            #expect(scraped.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = scraped.text
            #expect(sample(#"herald_publishes_total{kind="publish"}"#, in: text) == 3)
            #expect(sample(#"herald_publishes_total{kind="message"}"#, in: text) == 1)
            #expect(sample("herald_store_write_seconds_count", in: text) == 4)
            #expect(text.contains("# TYPE herald_store_write_seconds histogram"))
            #expect(sample(#"herald_connections{transport="sse"}"#, in: text) == 0)
            // One node alone has no bus to report on.
            #expect(!text.contains("herald_bus_up"))
        }
    }

    @Test func aScrapeNeedsNoAuthenticationAndLeaksNoSecret() async throws {
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            _ = try await client.execute(uri: "/api/notifications?since=0", method: .get, headers: alice.auth)
            let text = try await client.execute(uri: "/metrics", method: .get).text
            #expect(!text.contains(alice.token))
            #expect(text.contains("herald_connections"))
        }
    }
}
