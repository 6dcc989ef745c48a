import Foundation
import HTTPTypes
import HeraldCore
@testable import HeraldServer
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The fast path alone, on an embedded channel: what it answers itself and what it hands on. The
/// e2e tests (`test_polling_fast_path.py`) drive it through the real server and compare it with
/// the router's answers.
@Suite struct PollingFastPathTests {
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
        let shared = try #require(PollingFastPath.Shared(herald: herald, logger: Logger(label: "test")))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(PollingFastPath(shared))
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
        try send(setup.channel, "/api/notifications?since=0", token: setup.token, extra: [.connection: "close"])
        #expect(try handedOn(setup.channel) == ["/api/notifications?since=0"])
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

    @Test func theDateHeaderIsAnIMFFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_626_800) == "Mon, 07 Dec 2026 07:00:00 GMT")
    }
}
