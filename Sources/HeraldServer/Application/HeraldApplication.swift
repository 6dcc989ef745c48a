import HeraldCore
import SocketIO
import Hummingbird
import HummingbirdCore
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix
import RESP
import ServiceLifecycle

extension Herald {
    /// Every route of the server, behind its middleware.
    public func router() -> Router<HeraldRequestContext> {
        let router = Router(context: HeraldRequestContext.self)
        // Before the middleware: engine requests authenticate through their session, not per request.
        socketIO.host.addRoutes(to: router)
        // Polls that memory answers skip all of this (`MemoryPolls`): a rule added here that
        // concerns them must be kept there too.
        router.addMiddleware {
            RequestLogMiddleware()
            // Counts into the process's MetricsSystem, which `herald serve` points at `metrics`.
            MetricsMiddleware()
            AuthenticationMiddleware(authenticator: authenticator)
            CSRFMiddleware()
            ErrorMiddleware(herald: self)
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        Readiness(herald: self).addRoutes(to: router)
        MetricsEndpoint(herald: self).addRoutes(to: router)
        StaticAssets().addRoutes(to: router)
        AccountController(herald: self).addRoutes(to: router)
        UserController(herald: self).addRoutes(to: router)
        MessageController(herald: self).addRoutes(to: router)
        RoomController(herald: self).addRoutes(to: router)
        NotificationsAPI(herald: self).addRoutes(to: router)
        MessagesAPI(herald: self).addRoutes(to: router)
        EventStreams(herald: self).addRoutes(to: router)
        PublishAPI(herald: self).addRoutes(to: router)
        ChannelsAPI(herald: self).addRoutes(to: router)
        WebSocketEndpoint(herald: self).addRoutes(to: router)
        SocketIODemo(herald: self).addRoutes(to: router)
        return router
    }

    /// The HTTP server on the configured address. `onListening` receives the bound port, which
    /// differs from the configured one when that is 0. Run it with `socketIO.host.run(_:logger:)`,
    /// which closes Socket.IO sessions before the server stops. `services` run beside it and are
    /// told of a graceful shutdown as soon as it begins.
    public func application(
        logger: Logger = Logger(label: "herald"), services extra: [any Service] = [],
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        let router = router()
        let routerResponder = router.buildResponder()
        let date = HTTPDate()
        let responder = routerResponder.channelResponder(serverName: Herald.serverName, date: date, logger: logger)
        // Between requests on a kept-alive connection, and within a request being read, Hummingbird
        // closes a connection idle this long; one answering a request (a held stream) it leaves be.
        let idle = TimeAmount.nanoseconds(Int64(configuration.idleTimeout * 1e9))
        // Steady polls, publishes and messages are answered on the event loop that read them.
        // The extra handlers are an autoclosure: each connection gets an installer of its own.
        let fastPath = APIFastPath.Shared(herald: self, responder: routerResponder, date: date, logger: logger)
        let webSocket = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(additionalChannelHandlers: [APIFastPathInstaller(fastPath, logger: logger)], idleTimeout: idle),
            ws: .init(
                maxFrameSize: configuration.maxRequestBody,
                extensions: configuration.webSocketDeflate ? [.perMessageDeflate()] : [],
                autoPing: .enabled(timePeriod: .seconds(configuration.heartbeatSeconds))))
        // Pages and the API go through Hummingbird; held streams are served leaner (see StreamingChildChannel).
        let streams = EventStreams(herald: self)
        var routes = [LeanRoute.get("/api/events", serve: streams.serve)]
        // With permessage-deflate on, `/ws` goes through Hummingbird's WebSocket layer, which negotiates it.
        if !configuration.webSocketDeflate {
            let handshake = WebSocketHandshake(herald: self)
            routes.append(.get("/ws", serve: handshake.serve))
        }
        routes.append(socketIO.host.webSocketRoute)
        let leanRoutes = routes
        let headTimeout = TimeAmount.nanoseconds(Int64(configuration.requestHeadTimeout * 1e9))
        let connections = StreamingChildChannel(
            inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: routerResponder, configuration: webSocket),
            routes: leanRoutes, headTimeout: headTimeout, limits: limits)
        var services: [any Service] = [
            HeartbeatService(hub: hub, interval: .seconds(configuration.heartbeatSeconds)),
        ]
        if let redis = redisEndpoint {
            let ingest = RedisIngest(
                herald: self, flaskSSEChannels: Set(configuration.flaskSSEChannels),
                socketIOChannel: configuration.socketIOQueueChannel)
            let bus = configuration.effectiveBus == .redis ? clusterBus : nil
            services.append(RedisService(ingest: ingest, bus: bus, endpoint: redis, link: redisLink, logger: logger))
        }
        if let clusterBus { services.append(ClusterBusService(bus: clusterBus)) }
        services += extra
        let server = ConnectionServer(
            connections: connections, host: configuration.host, port: configuration.port, backlog: 4096,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            onRunning: { [socketIO, configuration] channel in
                let port = channel.localAddress?.port ?? 0
                // Where the other nodes reach this one (relayed WebSocket upgrades).
                socketIO.host.forwarding?.address.set("\(configuration.advertisedHost):\(port)")
                await onListening(port)
            })
        // Stopped in reverse order: the server first, then what runs beside it.
        return ServiceGroup(configuration: .init(services: services + [server], logger: logger))
    }
}
