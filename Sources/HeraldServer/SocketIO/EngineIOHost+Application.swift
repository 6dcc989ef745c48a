import Hummingbird
import HummingbirdCore
import Logging

extension EngineIOHost {
    /// An HTTP server for this engine alone, on the same lean connection path as Herald's: for a
    /// Swift app that needs only Socket.IO (or bare Engine.IO), such as `socketio-conformance`.
    /// Run it with `run(_:logger:)`, which closes the engine's sessions before the server stops.
    public func application(
        host: String, port: Int, logger: Logger = Logger(label: "engine.io"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        addRoutes(to: router)
        let routes = [webSocketRoute]
        let server = HTTPServerBuilder { responder in
            // Herald's default limits: 10 s to send a request head, 60 s idle between requests.
            StreamingChildChannel(
                inner: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .seconds(60))), routes: routes,
                headTimeout: .seconds(10))
        }
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "Herald", backlog: 4096),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}
