import Foundation
import NIOCore
import Synchronization
import WebSocketFrameLayer

/// An Engine.IO v4 server: the handshake, the session table, and the routing of each polling
/// request or WebSocket to its session. It is independent of the HTTP server that carries it: the
/// host hands it polling requests (`handlePolling`) and upgraded WebSockets (`webSocketReceiver`).
///
/// Guarantees: each request gets an answer (an error is a 400 with the protocol's JSON code);
/// a session's callbacks run on its event loop, one at a time, in the order packets arrived;
/// malformed input closes only the session it came on.
public final class EngineServer: Sendable {
    public let configuration: EngineConfiguration
    private let sessions = Mutex([String: EngineSession]())
    private let webSocketSessions = Atomic<Int>(0)
    private let onConnection: @Sendable (EngineSession) -> Void

    /// `onConnection` runs on the new session's event loop before any of its packets is handled:
    /// set the session's `onMessage` and `onClose` there.
    public init(configuration: EngineConfiguration, onConnection: @escaping @Sendable (EngineSession) -> Void) {
        self.configuration = configuration
        self.onConnection = onConnection
    }

    public var sessionCount: Int { sessions.withLock { $0.count } }

    // MARK: Polling

    /// Answers one polling request. `body` reads the request body, at most `limit` bytes (nil past
    /// it); it is called only for a `POST` to an open session.
    public func handlePolling(
        _ request: EngineRequest, on eventLoop: any EventLoop,
        body: @Sendable (_ limit: Int) async throws -> ByteBuffer?
    ) async -> EngineResponse {
        var response = await answerPolling(request, on: eventLoop, body: body)
        if let origin = configuration.allowedOrigin {
            response.headers["Access-Control-Allow-Origin"] = origin
        }
        return response
    }

    private func answerPolling(
        _ request: EngineRequest, on eventLoop: any EventLoop,
        body: @Sendable (_ limit: Int) async throws -> ByteBuffer?
    ) async -> EngineResponse {
        if request.method == "OPTIONS" {
            return EngineResponse(
                status: 204,
                headers: ["Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "content-type"],
                body: ByteBuffer())
        }
        guard request.query["transport"] == "polling" else { return .error(.unknownTransport) }
        guard let sid = request.query["sid"] else {
            guard request.method == "GET" else { return .error(.badHandshakeMethod) }
            guard request.query["EIO"] == "4" else { return .error(.unsupportedProtocolVersion) }
            let session = open(EngineHandshake(request, transport: "polling"), on: eventLoop, webSocket: nil)
            return .text("0" + handshakeJSON(sid: session.id, upgrades: configuration.allowUpgrades ? ["websocket"] : []))
        }
        guard let session = session(sid) else { return .error(.unknownSession) }
        switch request.method {
        case "GET":
            return (try? await session.poll().get()) ?? .error(.badRequest)
        case "POST":
            if let refused = try? await session.beginPost().get() { return refused }
            let bytes = try? await body(configuration.maxPayload)
            return (try? await session.finishPost(bytes).get()) ?? .error(.badRequest)
        default:
            return .error(.badRequest)
        }
    }

    // MARK: WebSocket

    /// Checks a WebSocket request before it is upgraded, and gives the receiver to put on its
    /// frame layer (`WebSocketMessageHandler`). A request naming a session that cannot be
    /// upgraded is refused once the socket opens: the socket is closed.
    public func webSocketReceiver(for request: EngineRequest) throws(EngineError) -> any WebSocketMessageReceiver {
        guard request.query["transport"] == "websocket" else { throw .unknownTransport }
        if let sid = request.query["sid"] {
            guard let session = session(sid) else { throw .unknownSession }
            return EngineWebSocketTransport(role: .upgrading(session))
        }
        guard request.query["EIO"] == "4" else { throw .unsupportedProtocolVersion }
        return EngineWebSocketTransport(role: .opening(self, EngineHandshake(request, transport: "websocket")))
    }

    // MARK: Sessions

    /// Creates and registers a session, tells the layer above, and starts its heartbeat. On a
    /// WebSocket the open packet is sent here; on polling it is the caller's response.
    func open(_ handshake: EngineHandshake, on eventLoop: any EventLoop, webSocket: EngineWebSocketTransport?) -> EngineSession {
        let session = EngineSession(
            id: configuration.sessionIDPrefix + Self.newSessionID(), eventLoop: eventLoop, handshake: handshake,
            configuration: configuration, server: self)
        sessions.withLock { $0[session.id] = session }
        let start: @Sendable () -> Void = { [self] in
            if let webSocket {
                session.adopt(webSocket)
                webSocket.send(.text(ByteBuffer(string: "0" + handshakeJSON(sid: session.id, upgrades: []))))
            }
            onConnection(session)
            session.startHeartbeat()
        }
        // A WebSocket opens on its own loop: start at once, before its first message is read.
        if eventLoop.inEventLoop { start() } else { eventLoop.execute(start) }
        return session
    }

    func session(_ id: String) -> EngineSession? {
        sessions.withLock { $0[id] }
    }

    /// Whether this server holds the session `id`.
    public func hasSession(_ id: String) -> Bool {
        session(id) != nil
    }

    func remove(_ session: EngineSession, wasOnWebSocket: Bool) {
        sessions.withLock { sessions in
            if sessions[session.id] === session { sessions[session.id] = nil }
        }
        if wasOnWebSocket { webSocketSessions.subtract(1, ordering: .relaxed) }
    }

    func movedToWebSocket() {
        webSocketSessions.add(1, ordering: .relaxed)
    }

    /// Open sessions by the transport they are on now (a session upgrading is still polling).
    public var sessionCounts: (polling: Int, webSocket: Int) {
        let webSocket = webSocketSessions.load(ordering: .relaxed)
        return (max(0, sessionCount - webSocket), webSocket)
    }

    /// Closes every session, for a shutdown.
    public func closeAll() {
        for session in sessions.withLock({ Array($0.values) }) { session.close() }
    }

    private func handshakeJSON(sid: String, upgrades: [String]) -> String {
        let list = upgrades.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"sid":"\#(sid)","upgrades":[\#(list)],"pingInterval":\#(configuration.pingIntervalMilliseconds),"#
            + #""pingTimeout":\#(configuration.pingTimeoutMilliseconds),"maxPayload":\#(configuration.maxPayload)}"#
    }

    /// 90 random bits as 15 base64url characters: unguessable, so a sid is as good as a
    /// capability. At 15 characters a Swift string holds it inline, so an id costs a held
    /// connection no allocation. Written straight from two words of the system's generator: each
    /// random byte drawn alone, then encoded through `Data` and two replacements, cost a Socket.IO
    /// connect (a sid and a socket id) a tenth of its CPU, most of it in 22 `getrandom` calls.
    public static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let words: (UInt64, UInt64) = (generator.next(), generator.next())
        return String(unsafeUninitializedCapacity: 15) { id in
            for index in 0..<15 {
                // Ten characters from the first word's 60 low bits, five from the second's 30.
                let bits = index < 10 ? words.0 >> (6 * index) : words.1 >> (6 * (index - 10))
                id[index] = base64URL[Int(bits & 63)]
            }
            return 15
        }
    }

    private static let base64URL = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}

extension EngineHandshake {
    init(_ request: EngineRequest, transport: String) {
        self.init(query: request.query, headers: request.headers, remoteAddress: request.remoteAddress, transport: transport)
    }
}
