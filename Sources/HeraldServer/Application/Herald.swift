import Foundation
import Logging
import NIOCore
import HeraldCore
import RESP
import SocketIO

/// The running server's shared parts, handed to every controller.
public struct Herald: Sendable {
    public let configuration: HeraldConfiguration
    public let store: any HeraldStore
    public let hub: StreamHub
    /// Every metric of this node, served at `GET /metrics`.
    public let metrics: HeraldMetrics
    public let bus: any FanOutBus
    /// What puts the bus's events in order before the hub.
    public let sequencer: StreamSequencer
    /// The bus between nodes, in multi-node mode (nodes sharing a PostgreSQL database).
    public let clusterBus: ClusterBus?
    /// Whether this node persists what other processes publish through Redis (one node does).
    public let leadership = Leadership()
    let redisLink = LinkState()
    /// Whether this node listens on the PostgreSQL bus (`--bus postgres`).
    public let postgresBusLink = LinkState()
    /// `/socket.io/`: Socket.IO clients, on the same port.
    public let socketIO: HeraldSocketIO
    /// Where other processes' publishes come from, when a Redis server is configured.
    let redisEndpoint: RedisEndpoint?
    let pages: PageRenderer
    let passwords: PasswordHasher
    let limits: Limits
    /// Verifies connection tokens (JWTs), when `--jwt-secret` or `--jwt-public-key` is set.
    let jwt: JWTVerifier?

    /// A node: alone, with in-process fan-out; or, given the transport of the bus between nodes
    /// (`RedisBusTransport`, or PostgreSQL's), one of many that share a database.
    public init(
        configuration: HeraldConfiguration, store: any HeraldStore, busTransport: (any BusTransport)? = nil,
        logger: Logger = Logger(label: "herald")
    ) throws {
        self.configuration = configuration
        // Tokens, keys and channels are looked up on every request and connection; their answers
        // never change. A node alone on its database hears of every write from its own fan-out,
        // so it can also keep the streams read lately; with others, writes it has not heard of exist.
        let alone = busTransport == nil && configuration.databaseURL == nil
        let recent = alone ? RecentEvents(retention: configuration.retention) : nil
        let store = CachingStore(store, recent: recent)
        self.store = store
        let metrics = HeraldMetrics(clustered: busTransport != nil)
        self.metrics = metrics
        let hub = StreamHub(
            metrics: metrics.fanOut, recent: recent,
            writeDelay: .nanoseconds(Int64(configuration.writeDelayMilliseconds * 1_000_000)))
        self.hub = hub
        let sequencer = StreamSequencer(hub: hub, store: store, logger: logger)
        self.sequencer = sequencer
        let redisEndpoint = try configuration.redisURL.map { try RedisEndpoint(url: $0) }
        self.redisEndpoint = redisEndpoint
        if let busTransport {
            let bus = ClusterBus(sequencer: sequencer, transport: busTransport, nodeID: ClusterBus.newNodeID(),
                secret: configuration.clusterSecret, logger: logger)
            if configuration.clusterSecret == nil {
                logger.warning("no cluster secret (--cluster-secret): bus messages are not signed, so anyone who can publish on the bus can inject events")
            }
            self.clusterBus = bus
            self.bus = bus
        } else {
            self.clusterBus = nil
            self.bus = InProcessBus(sequencer: sequencer)
        }
        self.pages = try PageRenderer()
        self.passwords = PasswordHasher(cost: configuration.bcryptCost)
        self.limits = Limits(configuration)
        self.jwt = try JWTVerifier.configured(configuration)
        self.socketIO = HeraldSocketIO(configuration: configuration, cluster: clusterBus)
        if let clusterBus { SocketIOClusterAdapter.connect(socketIO.server, to: clusterBus) }
        socketIO.server.of("/test").register(DemoNamespace(tick: .seconds(configuration.demoTickSeconds)))
        socketIO.server.of(SocketIOFrames.namespace).register(NotificationsNamespace(herald: self))
    }

    /// What every response says in its `Server` header.
    static let serverName = "Herald"

    /// Turns tokens and cookies into users, the same for every transport.
    var authenticator: Authenticator { Authenticator(store: store, jwt: jwt) }

    /// Where each stream of a new reader starts, shared by every transport.
    var history: StreamHistory { StreamHistory(store: store, sequencer: sequencer) }
}
