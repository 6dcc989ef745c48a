import Foundation
import HeraldCore
import RESP
import SocketIO

/// The running server's shared parts, handed to every controller.
public struct Herald: Sendable {
    public let configuration: HeraldConfiguration
    public let store: any HeraldStore
    public let hub: StreamHub
    public let bus: any FanOutBus
    /// `/socket.io/`: Socket.IO clients, on the same port.
    public let socketIO: HeraldSocketIO
    /// Where other processes' publishes come from, when a Redis server is configured.
    let redisEndpoint: RedisEndpoint?
    let pages: PageRenderer
    let passwords: PasswordHasher

    public init(configuration: HeraldConfiguration, store: any HeraldStore, hub: StreamHub, bus: any FanOutBus) throws {
        self.configuration = configuration
        self.store = store
        self.hub = hub
        self.bus = bus
        self.redisEndpoint = try configuration.redisURL.map { try RedisEndpoint(url: $0) }
        self.pages = try PageRenderer()
        self.passwords = PasswordHasher(cost: configuration.bcryptCost)
        self.socketIO = HeraldSocketIO(configuration: configuration)
        socketIO.server.of("/test").register(DemoNamespace(tick: .seconds(configuration.demoTickSeconds)))
        socketIO.server.of(SocketIOFrames.namespace).register(NotificationsNamespace(herald: self))
    }

    /// A single-node Herald: the given store and in-process fan-out.
    public init(configuration: HeraldConfiguration, store: any HeraldStore) throws {
        let hub = StreamHub()
        try self.init(configuration: configuration, store: store, hub: hub, bus: InProcessBus(hub: hub))
    }
}
