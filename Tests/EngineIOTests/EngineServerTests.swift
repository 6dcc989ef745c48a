import EngineIO
import NIOCore
import Testing

@Suite struct EngineServerTests {
    /// An echo engine, as the reference server of the compliance suite.
    static func echo(pingInterval: Duration = .seconds(25), pingTimeout: Duration = .seconds(20), maxPayload: Int = 1000)
        -> EngineServer
    {
        var configuration = EngineConfiguration()
        configuration.pingInterval = pingInterval
        configuration.pingTimeout = pingTimeout
        configuration.maxPayload = maxPayload
        return EngineServer(configuration: configuration) { session in
            session.onMessage = { [weak session] message in session?.send([message]) }
        }
    }

    @Test func handshakeSaysEverythingTheClientNeeds() async throws {
        var client = PollingClient(engine: Self.echo(pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200)))
        let json = try await client.open()
        #expect(Set(json.keys) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"])
        #expect(json["upgrades"] as? [String] == ["websocket"])
        #expect(json["pingInterval"] as? Int == 300)
        #expect(json["pingTimeout"] as? Int == 200)
        #expect(json["maxPayload"] as? Int == 1000)
        // 90 random bits in 15 base64url characters: short enough for a Swift string to hold inline.
        let sid = try #require(json["sid"] as? String)
        #expect(sid.count == 15)
        #expect(sid.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        let next = try await client.open()
        #expect(next["sid"] as? String != sid)
    }

    /// Every character of an id is drawn: over a few thousand ids, each position takes most of
    /// the 64 characters (a position left constant, or drawn from a few bits, would not).
    @Test func sessionIDsAreDistinctAndEveryCharacterIsRandom() {
        let ids = (0..<4000).map { _ in EngineServer.newSessionID() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count == 15 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
        for position in 0..<15 {
            let seen = Set(ids.map { Array($0.utf8)[position] })
            #expect(seen.count > 56, "position \(position) took only \(seen.count) characters")
        }
    }

    @Test func badRequestsGetTheProtocolsErrorCodes() async {
        let client = PollingClient(engine: Self.echo())
        func code(_ method: String, _ query: [String: String]) async -> String {
            let response = await client.send(method, query: query)
            return "\(response.status) \(String(buffer: response.body))"
        }
        #expect(await code("GET", ["transport": "polling"]) == #"400 {"code":5,"message":"Unsupported protocol version"}"#)
        #expect(await code("GET", ["EIO": "abc", "transport": "polling"]).hasPrefix(#"400 {"code":5"#))
        #expect(await code("GET", ["EIO": "4"]) == #"400 {"code":0,"message":"Transport unknown"}"#)
        #expect(await code("GET", ["EIO": "4", "transport": "abc"]).hasPrefix(#"400 {"code":0"#))
        #expect(await code("POST", ["EIO": "4", "transport": "polling"]) == #"400 {"code":2,"message":"Bad handshake method"}"#)
        #expect(await code("PUT", ["EIO": "4", "transport": "polling"]).hasPrefix(#"400 {"code":2"#))
        #expect(await code("GET", ["EIO": "4", "transport": "polling", "sid": "nope"]) == #"400 {"code":1,"message":"Session ID unknown"}"#)
    }

    @Test func messagesRoundTripOverPolling() async throws {
        var client = PollingClient(engine: Self.echo())
        _ = try await client.open()
        #expect(await client.post("4hello\u{1e}bAQIDBA==\u{1e}4bye") == (200, "ok"))
        #expect(await client.poll() == (200, "4hello\u{1e}bAQIDBA==\u{1e}4bye"))
    }

    @Test func aMalformedPayloadClosesTheSession() async throws {
        var client = PollingClient(engine: Self.echo())
        _ = try await client.open()
        #expect(await client.post("abc").status == 400)
        #expect(await client.poll().status == 400)
    }

    @Test func aPayloadOverTheLimitIsRefusedAndClosesTheSession() async throws {
        var client = PollingClient(engine: Self.echo(maxPayload: 10))
        _ = try await client.open()
        #expect(await client.post("4" + String(repeating: "x", count: 20)).status == 413)
        #expect(await client.poll().status == 400)
    }

    @Test func aSecondPollWhileOneWaitsEndsTheSession() async throws {
        var client = PollingClient(engine: Self.echo())
        _ = try await client.open()
        let polling = client
        async let first = polling.poll()
        try await Task.sleep(for: .milliseconds(50))
        let second = await client.poll()
        #expect(await first == (200, "1"))
        #expect(second.status == 400)
        #expect(await client.poll().status == 400)
    }

    @Test func aCloseFromTheClientAnswersTheWaitingPollWithNoop() async throws {
        var client = PollingClient(engine: Self.echo())
        _ = try await client.open()
        let polling = client
        async let waiting = polling.poll()
        try await Task.sleep(for: .milliseconds(50))
        #expect(await client.post("1") == (200, "ok"))
        #expect(await waiting == (200, "6"))
        #expect(await client.poll().status == 400)
    }

    @Test func pingsKeepToTheIntervalAndEachPongKeepsTheSessionOpen() async throws {
        // A timeout no test-side delay reaches (the whole suite shares two cores): only the
        // server's side of the exchange is under test. Being the longer of the two, it also checks
        // that pings keep to the interval rather than waiting for the timeout.
        let engine = Self.echo(pingInterval: .milliseconds(100), pingTimeout: .seconds(60))
        var client = PollingClient(engine: engine)
        _ = try await client.open()
        for _ in 0..<3 {
            let ping = await client.poll()
            #expect(ping == (200, "2"), "\(ping)")
            let pong = await client.post("3")
            #expect(pong == (200, "ok"), "\(pong)")
        }
        #expect(engine.sessionCount == 1)
    }

    @Test func aMissedPongClosesTheSession() async throws {
        let engine = Self.echo(pingInterval: .milliseconds(100), pingTimeout: .milliseconds(300))
        var client = PollingClient(engine: engine)
        _ = try await client.open()
        let ping = await client.poll()
        #expect(ping == (200, "2"), "\(ping)")
        // However late this test gets to run again, the pong is only ever more overdue.
        try await Task.sleep(for: .milliseconds(800))
        #expect(await client.poll().status == 400)
        #expect(engine.sessionCount == 0)
    }
}
