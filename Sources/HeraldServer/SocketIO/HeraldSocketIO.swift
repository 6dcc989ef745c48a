import EngineIO
import HeraldCore
import NIOHTTP1
import SocketIO

/// Herald's Socket.IO server at `/socket.io/`: the namespaces `/notifications` (the user's
/// notifications and channels, resumable by cursor) and `/test` (the Flask-SocketIO demo's).
public struct HeraldSocketIO: Sendable {
    public let server: SocketIOServer
    public let host: EngineIOHost

    init(configuration: HeraldConfiguration) {
        var socketIO = SocketIOConfiguration()
        socketIO.engine.path = "/socket.io/"
        socketIO.engine.pingInterval = .seconds(configuration.heartbeatSeconds)
        socketIO.engine.pingTimeout = .seconds(20)
        socketIO.engine.maxPayload = configuration.maxRequestBody
        server = SocketIOServer(configuration: socketIO)
        host = EngineIOHost(engine: server.engine, admitWebSocket: Self.checkOrigin)
    }

    /// Browsers attach cookies to cross-site WebSocket requests: one that would sign in with the
    /// session cookie must come from a page of this site (as for `/ws`).
    @Sendable static func checkOrigin(_ head: HTTPRequestHead) throws {
        guard head.headers.cookie(SessionCookie.name) != nil else { return }
        try WebSocketHandshake.checkOrigin(head)
    }
}
