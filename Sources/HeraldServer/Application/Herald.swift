import Foundation
import Logging
import HeraldCore
import RESP
import SocketIO

/// The running server's shared parts, handed to every controller.
public struct Herald: Sendable {
    public let configuration: HeraldConfiguration
    public let store: any HeraldStore
    public let hub: StreamHub
    public let bus: any FanOutBus
    /// The Redis bus between nodes, in multi-node mode (a shared PostgreSQL store and a Redis).
    let redisBus: RedisBus?
    /// Whether this node persists what other processes publish through Redis (one node does).
    public let leadership = Leadership()
    let redisLink = RedisLink()
    /// `/socket.io/`: Socket.IO clients, on the same port.
    public let socketIO: HeraldSocketIO
    /// Where other processes' publishes come from, when a Redis server is configured.
    let redisEndpoint: RedisEndpoint?
    let pages: PageRenderer
    let passwords: PasswordHasher

    /// A node: alone, with in-process fan-out; or, with a PostgreSQL database and a Redis server
    /// configured, one of many that share them, with the Redis bus between them.
    public init(configuration: HeraldConfiguration, store: any HeraldStore, logger: Logger = Logger(label: "herald")) throws {
        self.configuration = configuration
        self.store = store
        let hub = StreamHub()
        self.hub = hub
        let sequencer = StreamSequencer(hub: hub, store: store, logger: logger)
        let redisEndpoint = try configuration.redisURL.map { try RedisEndpoint(url: $0) }
        self.redisEndpoint = redisEndpoint
        if configuration.databaseURL != nil, let redisEndpoint {
            let bus = RedisBus(sequencer: sequencer, endpoint: redisEndpoint, nodeID: Secret.generate(prefix: "node_"), logger: logger)
            self.redisBus = bus
            self.bus = bus
        } else {
            self.redisBus = nil
            self.bus = InProcessBus(sequencer: sequencer)
        }
        self.pages = try PageRenderer()
        self.passwords = PasswordHasher(cost: configuration.bcryptCost)
        self.socketIO = HeraldSocketIO(configuration: configuration)
        socketIO.server.of("/test").register(DemoNamespace(tick: .seconds(configuration.demoTickSeconds)))
        socketIO.server.of(SocketIOFrames.namespace).register(NotificationsNamespace(herald: self))
    }

    /// Where each stream of a new reader starts, shared by every transport.
    var history: StreamHistory { StreamHistory(store: store, hub: hub) }
}
