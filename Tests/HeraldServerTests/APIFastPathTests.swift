import Foundation
import HTTPTypes
import HeraldCore
import Hummingbird
@testable import HeraldServer
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The fast path alone, on an embedded channel: what it answers itself and what it hands on. The
/// e2e tests (`test_polling_fast_path.py`, `test_writes_on_event_loop.py`) drive it through the
/// real server and compare it with the router's answers.
@Suite struct APIFastPathTests {
    struct Setup {
        let herald: Herald
        let channel: EmbeddedChannel
        let token: String
    }

    /// bob with one notification, his token already looked up and his stream held in memory, as
    /// after his first poll through the router.
    func setUp() async throws -> Setup {
        let herald = try makeHerald()
        let bob = try await herald.store.createUser(username: "bob", passwordHash: "!")
        let token = Secret.generate(prefix: AccessToken.prefix)
        try await herald.store.createAccessToken(userID: bob.id, tokenDigest: Secret.digest(token), label: "t")
        _ = try await herald.store.addNotification(to: bob.stream, name: "ping", json: #"{"a":1}"#, mode: .append, at: Date())
        _ = try await herald.authenticator.identify(token: token)
        _ = try await herald.store.notifications(in: bob.stream, after: .beginning, limit: 10)
        let shared = APIFastPath.Shared(herald: herald, responder: herald.router().buildResponder(), date: HTTPDate(), logger: Logger(label: "test"))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(APIFastPath(shared))
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).get()
        return Setup(herald: herald, channel: channel, token: token)
    }

    func send(_ channel: EmbeddedChannel, _ path: String, token: String?, extra: HTTPFields = [:]) throws {
        var fields = extra
        if let token { fields[.authorization] = "Bearer \(token)" }
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: "h", path: path, headerFields: fields)))
        try channel.writeInbound(HTTPRequestPart.end(nil))
    }

    /// The response the fast path wrote, if it wrote one.
    func answered(_ channel: EmbeddedChannel) throws -> (head: HTTPResponse, body: String)? {
        guard case .head(let head) = try channel.readOutbound(as: HTTPResponsePart.self) else { return nil }
        guard case .body(let body) = try channel.readOutbound(as: HTTPResponsePart.self),
            case .end = try channel.readOutbound(as: HTTPResponsePart.self)
        else { Issue.record("a response without its body or end"); return nil }
        return (head, String(buffer: body))
    }

    /// The request parts handed on to the router.
    func handedOn(_ channel: EmbeddedChannel) throws -> [String] {
        var paths: [String] = []
        while let part = try channel.readInbound(as: HTTPRequestPart.self) {
            if case .head(let head) = part { paths.append(head.path ?? "") }
        }
        return paths
    }

    @Test func aPollMemoryAnswersIsAnsweredWithTheRoutersHeadersAndBody() async throws {
        let setup = try await setUp()
        try send(setup.channel, "/api/notifications?since=0", token: setup.token)
        let response = try #require(try answered(setup.channel))
        #expect(response.head.status == .ok)
        #expect(response.head.headerFields[.contentType] == "application/json; charset=utf-8")
        #expect(response.head.headerFields[.cacheControl] == "no-store")
        #expect(response.head.headerFields[.contentLength] == String(response.body.utf8.count))
        #expect(response.head.headerFields[.server] == "Herald")
        #expect(response.head.headerFields[.date]?.hasSuffix(" GMT") == true)
        let id = try #require(response.head.headerFields[HTTPField.Name("X-Request-ID")!])
        #expect(id.utf8.count == 32 && id.allSatisfy(\.isHexDigit))
        #expect(response.body.hasPrefix(#"[{"id":1,"name":"ping","data":{"a":1},"timestamp":"#))
        #expect(try handedOn(setup.channel).isEmpty)
        let metrics = String(decoding: setup.herald.metrics.exposition(), as: UTF8.self)
        #expect(metrics.contains("herald_polls_answered_from_memory_total 1"))

        try send(setup.channel, "/api/notifications?since=1", token: setup.token, extra: [HTTPField.Name("X-Request-ID")!: "mine-1"])
        let empty = try #require(try answered(setup.channel))
        #expect(empty.body == "[]")
        #expect(empty.head.headerFields[HTTPField.Name("X-Request-ID")!] == "mine-1")
    }

    @Test func whatMemoryCannotAnswerGoesToTheRouterUntouched() async throws {
        let setup = try await setUp()
        let handedOnPaths = [
            "/api/notifications?since=7",  // ahead of the stream: the router's error
            "/api/notifications?since=x",  // not a cursor
            "/api/notifications?since=1&wait=5",  // a long-poll that has to wait
            "/api/notifications?since=1&wait=-1",  // not a wait
            "/api/notifications?since=1700000000.5",  // a timestamp: the store's
            "/api/notificationsx?since=0",  // another path
            "/healthz",
        ]
        for path in handedOnPaths {
            try send(setup.channel, path, token: setup.token)
            #expect(try handedOn(setup.channel) == [path])
            // What the router would answer, so the next request is the fast path's again.
            try setup.channel.writeOutbound(HTTPResponsePart.end(nil))
            _ = try setup.channel.readOutbound(as: HTTPResponsePart.self)
        }
        for token in [nil, "hrd_unknown", "hrk_not-a-user-token", "a.b.c"] {
            try send(setup.channel, "/api/notifications?since=0", token: token)
            #expect(try handedOn(setup.channel) == ["/api/notifications?since=0"])
            try setup.channel.writeOutbound(HTTPResponsePart.end(nil))
            _ = try setup.channel.readOutbound(as: HTTPResponsePart.self)
        }
        let declined: [HTTPFields] = [
            [.connection: "close"], [.upgrade: "websocket", .connection: "upgrade"], [.expect: "100-continue"],
            [.contentLength: "7"], [.transferEncoding: "chunked"],
        ]
        for extra in declined {
            try send(setup.channel, "/api/notifications?since=0", token: setup.token, extra: extra)
            #expect(try handedOn(setup.channel) == ["/api/notifications?since=0"], "\(extra)")
            try setup.channel.writeOutbound(HTTPResponsePart.end(nil))
            _ = try setup.channel.readOutbound(as: HTTPResponsePart.self)
        }
    }

    @Test func twoUsersPollingOnOneConnectionEachGetTheirOwnStream() async throws {
        let setup = try await setUp()
        let ada = try await setup.herald.store.createUser(username: "ada", passwordHash: "!")
        let adaToken = Secret.generate(prefix: AccessToken.prefix)
        try await setup.herald.store.createAccessToken(userID: ada.id, tokenDigest: Secret.digest(adaToken), label: "t")
        _ = try await setup.herald.authenticator.identify(token: adaToken)
        _ = try await setup.herald.store.notifications(in: ada.stream, after: .beginning, limit: 10)
        for (token, expected) in [(setup.token, "ping"), (adaToken, nil), (setup.token, "ping"), (adaToken, nil)] {
            try send(setup.channel, "/api/notifications?since=0", token: token)
            let body = try #require(try answered(setup.channel)).body
            if let expected { #expect(body.contains(#""name":"\#(expected)""#)) } else { #expect(body == "[]") }
        }
    }

    @Test func aClientThatDoesNotReadIsHandedToTheRouterWhichWaitsForIt() async throws {
        let setup = try await setUp()
        setup.channel.isWritable = false
        try send(setup.channel, "/api/notifications?since=0", token: setup.token)
        #expect(try handedOn(setup.channel) == ["/api/notifications?since=0"])
        #expect(try answered(setup.channel) == nil)
    }

    @Test func aResponseToNoRoutedRequestLeavesTheFastPathOn() async throws {
        let setup = try await setUp()
        // Hummingbird's answer to a request it could not parse: nothing was handed on for it.
        try setup.channel.writeOutbound(HTTPResponsePart.end(nil))
        _ = try setup.channel.readOutbound(as: HTTPResponsePart.self)
        try send(setup.channel, "/api/notifications?since=0", token: setup.token)
        #expect(try answered(setup.channel) != nil)
    }

    @Test func theBodyOfARoutedRequestGoesWithIt() async throws {
        let setup = try await setUp()
        let head = HTTPRequest(method: .post, scheme: nil, authority: "h", path: "/api/messages/read",
            headerFields: [.authorization: "Bearer \(setup.token)", .contentLength: "2"])
        try setup.channel.writeInbound(HTTPRequestPart.head(head))
        try setup.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "{}")))
        try setup.channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try routedParts(setup.channel) == ["head", "{}", "end"])
    }

    @Test func aWriteWhoseBodyGrowsPastTheLimitIsHandedOnWhole() async throws {
        let setup = try await setUp()
        let limit = LoopResponder.maxBodyOnLoop
        let head = HTTPRequest(method: .post, scheme: nil, authority: "h", path: "/api/publish",
            headerFields: [.authorization: "Bearer \(setup.token)", .transferEncoding: "chunked"])
        try setup.channel.writeInbound(HTTPRequestPart.head(head))
        try setup.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(repeating: UInt8(ascii: "a"), count: limit - 1)))
        #expect(try routedParts(setup.channel).isEmpty)
        try setup.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "bc")))
        try setup.channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try routedParts(setup.channel) == ["head", String(repeating: "a", count: limit - 1), "bc", "end"])
        #expect(try answered(setup.channel) == nil)
    }

    /// The parts handed on to the router, bodies as text.
    func routedParts(_ channel: EmbeddedChannel) throws -> [String] {
        var parts: [String] = []
        while let part = try channel.readInbound(as: HTTPRequestPart.self) {
            switch part {
            case .head: parts.append("head")
            case .body(let body): parts.append(String(buffer: body))
            case .end: parts.append("end")
            }
        }
        return parts
    }

    @Test func requestsBehindOneTheRouterHasNotAnsweredGoToTheRouterTooSoResponsesKeepTheirOrder() async throws {
        let setup = try await setUp()
        try send(setup.channel, "/api/notifications?since=1&wait=5", token: setup.token)
        try send(setup.channel, "/api/notifications?since=0", token: setup.token)
        #expect(try handedOn(setup.channel) == ["/api/notifications?since=1&wait=5", "/api/notifications?since=0"])
        #expect(try answered(setup.channel) == nil)

        // The router answers both; then the fast path answers again.
        for _ in 0..<2 { try setup.channel.writeOutbound(HTTPResponsePart.end(nil)) }
        while try setup.channel.readOutbound(as: HTTPResponsePart.self) != nil {}
        try send(setup.channel, "/api/notifications?since=0", token: setup.token)
        #expect(try answered(setup.channel) != nil)
        #expect(try handedOn(setup.channel).isEmpty)
    }

    @Test func aBodySentWithAPollIsReadAndDropped() async throws {
        let setup = try await setUp()
        let head = HTTPRequest(method: .get, scheme: nil, authority: "h", path: "/api/notifications?since=0",
            headerFields: [.authorization: "Bearer \(setup.token)"])
        try setup.channel.writeInbound(HTTPRequestPart.head(head))
        try setup.channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "ignored")))
        #expect(try answered(setup.channel) == nil)
        try setup.channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try answered(setup.channel) != nil)
        #expect(try handedOn(setup.channel).isEmpty)
    }

    @Test func onlyPlainPublishesAndMessagesAreRunOnTheLoop() throws {
        let herald = try makeHerald()
        let writes = APIFastPath.Shared(herald: herald, responder: herald.router().buildResponder(), date: HTTPDate(), logger: Logger(label: "test")).writes
        func post(_ path: String, method: HTTPRequest.Method = .post, _ fields: HTTPFields = [:]) -> Bool {
            writes.answers(HTTPRequest(method: method, scheme: nil, authority: "h", path: path, headerFields: fields))
        }
        #expect(post("/api/publish"))
        #expect(post("/api/messages", [.contentLength: "100", .transferEncoding: "chunked"]))
        #expect(writes.maxBody == LoopResponder.maxBodyOnLoop)
        #expect(post("/api/publish?x=1", [.contentLength: String(writes.maxBody)]))
        #expect(!post("/api/publish", [.contentLength: String(writes.maxBody + 1)]))
        #expect(!post("/api/publish", [.contentLength: "lots"]))
        #expect(!post("/api/publish", method: .get))
        #expect(!post("/api/messages", method: .put))
        #expect(!post("/api/publishing"))
        #expect(!post("/api/messages/read"))
        #expect(!post("/api/publish", [.connection: "Close"]))
        #expect(!post("/api/publish", [.expect: "100-continue"]))
        #expect(!post("/api/publish", [.upgrade: "websocket"]))
    }

    @Test func theDateHeaderIsAnIMFFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_626_800) == "Mon, 07 Dec 2026 07:00:00 GMT")
    }
}
