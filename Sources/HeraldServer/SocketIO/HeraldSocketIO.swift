import EngineIO
import HeraldCore
import NIOHTTP1
import SocketIO

/// Herald's Socket.IO server at `/socket.io/`: the namespaces `/notifications` (the user's
/// notifications and channels, resumable by cursor) and `/test` (the Flask-SocketIO demo's).
public struct HeraldSocketIO: Sendable {
    public let server: SocketIOServer
    public let host: EngineIOHost

    /// With a cluster bus, session ids open with the node's id and polling requests for other
    /// nodes' sessions are forwarded to them.
    init(configuration: HeraldConfiguration, cluster: ClusterBus?) {
        var socketIO = SocketIOConfiguration()
        socketIO.engine.path = "/socket.io/"
        socketIO.engine.pingInterval = .seconds(configuration.heartbeatSeconds)
        socketIO.engine.pingTimeout = .seconds(20)
        socketIO.engine.maxPayload = configuration.maxRequestBody
        if let cluster { socketIO.engine.sessionIDPrefix = cluster.nodeID }
        let server = SocketIOServer(configuration: socketIO)
        self.server = server
        let forwarding = cluster.map { bus in
            PollingForwarding(
                bus: bus, engine: server.engine, address: AddressBox(),
                timeout: socketIO.engine.pingInterval + socketIO.engine.pingTimeout + .seconds(5))
        }
        forwarding?.serve()
        host = EngineIOHost(engine: server.engine, admitWebSocket: Self.checkOrigin, forwarding: forwarding)
    }

    /// Browsers attach cookies to cross-site WebSocket requests: one that would sign in with the
    /// session cookie must come from a page of this site (as for `/ws`).
    @Sendable static func checkOrigin(_ head: HTTPRequestHead) throws {
        guard head.headers.cookie(SessionCookie.name) != nil else { return }
        try WebSocketHandshake.checkOrigin(head)
    }
}
