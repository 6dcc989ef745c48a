import EngineIO
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The handshake a session keeps for the layers above gives back its query and headers exactly,
/// whatever bytes they hold (it packs them into one buffer while the session lives).
@Suite struct EngineHandshakeTests {
    @Test func theSessionKeepsItsRequestsQueryAndHeadersExactly() async throws {
        let opened = Mutex<EngineSession?>(nil)
        let engine = EngineServer(configuration: EngineConfiguration()) { session in opened.withLock { $0 = session } }
        let query = ["EIO": "4", "transport": "polling", "odd": "a=b&c\u{0}d\n", "empty": "", "ü": "☃"]
        let headers = [
            "authorization": "Bearer " + String(repeating: "x", count: 300), "cookie": "a=1; b=2",
            "x-empty": "", "x-long": String(repeating: "é", count: 70_000),
        ]
        let response = await engine.handlePolling(
            EngineRequest(method: "GET", query: query, headers: headers, remoteAddress: "10.0.0.7"),
            on: MultiThreadedEventLoopGroup.singleton.next()
        ) { _ in nil }
        #expect(response.status == 200)
        let session = try await Self.opened(opened)
        let handshake = session.handshake
        #expect(handshake.query == query)
        #expect(handshake.headers == headers)
        #expect(handshake.header("cookie") == "a=1; b=2")
        #expect(handshake.header("x-empty") == "")
        #expect(handshake.header("x-long") == headers["x-long"])
        #expect(handshake.header("Cookie") == nil)  // names are kept in lower case, as given
        #expect(handshake.header("missing") == nil)
        #expect(handshake.remoteAddress == "10.0.0.7")
        #expect(handshake.transport == "polling")
        session.close()
    }

    @Test func anEmptyRequestHasNoHeaders() async throws {
        let opened = Mutex<EngineSession?>(nil)
        let engine = EngineServer(configuration: EngineConfiguration()) { session in opened.withLock { $0 = session } }
        _ = await engine.handlePolling(
            EngineRequest(method: "GET", query: ["EIO": "4", "transport": "polling"], headers: [:]),
            on: MultiThreadedEventLoopGroup.singleton.next()
        ) { _ in nil }
        let session = try await Self.opened(opened)
        #expect(session.handshake.headers.isEmpty)
        #expect(session.handshake.header("authorization") == nil)
        session.close()
    }

    /// The engine tells the layer above on the session's own loop, after it answered.
    static func opened(_ opened: borrowing Mutex<EngineSession?>) async throws -> EngineSession {
        for _ in 0..<200 {
            if let session = opened.withLock({ $0 }) { return session }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw NeverOpened()
    }

    struct NeverOpened: Error {}
}
