import Hummingbird
import HummingbirdCore
import Logging
import NIOPosix
import ServiceLifecycle

extension EngineIOHost {
    /// An HTTP server for this engine alone, on the same lean connection path as Herald's: for a
    /// Swift app that needs only Socket.IO (or bare Engine.IO), such as `socketio-conformance`.
    /// Run it with `run(_:logger:)`, which closes the engine's sessions before the server stops.
    public func application(
        host: String, port: Int, logger: Logger = Logger(label: "engine.io"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        let router = Router()
        addRoutes(to: router)
        let responder = router.buildResponder().channelResponder(serverName: "Herald", date: HTTPDate(), logger: logger)
        // Herald's default limits: 10 s to send a request head, 60 s idle between requests.
        let connections = StreamingChildChannel(
            inner: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .seconds(60))),
            routes: [webSocketRoute], headTimeout: .seconds(10))
        return ConnectionServer(
            connections: connections, host: host, port: port, backlog: 4096,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            onRunning: { channel in await onListening(channel.localAddress?.port ?? 0) })
    }
}
