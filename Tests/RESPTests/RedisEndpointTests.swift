import RESP
import Testing

@Suite struct RedisEndpointTests {
    @Test func urlsOfEveryShape() throws {
        #expect(try RedisEndpoint(url: "redis://localhost") == RedisEndpoint(host: "localhost"))
        #expect(try RedisEndpoint(url: "redis://127.0.0.1:6380/2") == RedisEndpoint(host: "127.0.0.1", port: 6380, database: 2))
        #expect(try RedisEndpoint(url: "redis://:s%40cret@cache:7000")
            == RedisEndpoint(host: "cache", port: 7000, password: "s@cret"))
        #expect(try RedisEndpoint(url: "redis://herald:pw@cache/0")
            == RedisEndpoint(host: "cache", username: "herald", password: "pw", database: 0))
    }

    @Test(arguments: ["", "localhost:6379", "http://localhost", "redis://", "redis://host:0", "redis://host:70000",
                      "redis://host/x", "redis://host/-1"])
    func badURLsAreRefused(_ url: String) {
        #expect(throws: RedisError.self) { try RedisEndpoint(url: url) }
    }

    @Test func thePasswordNeverShowsInLogs() throws {
        let endpoint = try RedisEndpoint(url: "redis://herald:hunter2@cache:7000/1")
        #expect(endpoint.description == "redis://herald:***@cache:7000/1")
        #expect(try RedisEndpoint(url: "redis://:hunter2@cache").description == "redis://:***@cache:6379")
        do {
            _ = try RedisEndpoint(url: "redis://user:hunter2@/nohost")
            Issue.record("a URL without a host was accepted")
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}
