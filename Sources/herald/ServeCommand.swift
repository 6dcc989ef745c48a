import ArgumentParser
import Foundation
import HeraldCore
import HeraldPostgres
import HeraldServer
import Hummingbird
import Logging
import RESP
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run Herald: the web app, the API and the notification service.")

    @Option(help: "Address to listen on (env: HERALD_HOST).") var host: String?
    @Option(help: "Port to listen on; 0 picks a free one and prints it (env: HERALD_PORT).") var port: Int?
    @Option(help: "The address other nodes reach this one at, if not --host (env: HERALD_ADVERTISE_HOST).")
    var advertiseHost: String?
    @Option(help: "Longest accepted message, in characters (env: HERALD_MESSAGE_MAX_LENGTH).")
    var messageMaxLength: Int?
    @Option(help: "Messages per inbox page (env: HERALD_MESSAGES_PER_PAGE).") var messagesPerPage: Int?
    @Option(help: "The Socket.IO JavaScript client to serve at /socket.io/socket.io.min.js (env: HERALD_SOCKETIO_CLIENT).")
    var socketioClient: String?
    @Option(help: "A Redis server to take other processes' publishes from: redis-cli, Flask-SSE, Flask-SocketIO (env: HERALD_REDIS_URL).")
    var redis: String?
    @Option(help: "The Redis channels Flask-SSE publishes on, comma-separated; default sse (env: HERALD_FLASK_SSE_CHANNELS).")
    var flaskSseChannels: String?
    @Option(help: "The Redis channel of Flask-SocketIO's message queue; default flask-socketio (env: HERALD_SOCKETIO_QUEUE_CHANNEL).")
    var socketioQueueChannel: String?
    @Option(help: "What carries events between nodes: inprocess, redis or postgres; by default redis with --database and --redis, postgres with --database alone (env: HERALD_BUS).")
    var bus: String?
    @Option(help: "The secret every node of a cluster shares: it signs the bus's messages (env: HERALD_CLUSTER_SECRET).")
    var clusterSecret: String?
    @OptionGroup var storage: StorageOptions

    /// The advisory lock the node that ingests Redis publishes holds.
    static let ingestLock: Int64 = 0x4845_5241_4C44_0002

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be from 0 to 65535.") }
        if let bus, HeraldConfiguration.Bus(rawValue: bus) == nil {
            throw ValidationError("--bus must be one of inprocess, redis, postgres.")
        }
        if let messageMaxLength, messageMaxLength < 1 { throw ValidationError("--message-max-length must be at least 1.") }
        if let messagesPerPage, messagesPerPage < 1 { throw ValidationError("--messages-per-page must be at least 1.") }
    }

    func run() async throws {
        var configuration = try EnvironmentSettings.configuration()
        storage.apply(to: &configuration)
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let advertiseHost { configuration.advertiseHost = advertiseHost }
        if let messageMaxLength { configuration.messageMaxLength = messageMaxLength }
        if let messagesPerPage { configuration.messagesPerPage = messagesPerPage }
        if let socketioClient { configuration.socketIOClientPath = socketioClient }
        if let redis { configuration.redisURL = redis }
        if let flaskSseChannels { configuration.flaskSSEChannels = EnvironmentSettings.list(flaskSseChannels) }
        if let socketioQueueChannel { configuration.socketIOQueueChannel = socketioQueueChannel }
        if let bus { configuration.bus = HeraldConfiguration.Bus(rawValue: bus) }
        if let clusterSecret { configuration.clusterSecret = clusterSecret }
        if let problem = configuration.busProblem { throw ValidationError(problem) }

        var logger = Logger(label: "herald")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
        try await storage.withStore(configuration, logger: logger) { [configuration, logger] store in
            let transport: (any BusTransport)? = switch configuration.effectiveBus {
            case .inProcess: nil
            case .redis: RedisBusTransport(endpoint: try RedisEndpoint(url: configuration.redisURL ?? ""), logger: logger)
            case .postgres: (store as? PostgresStore).map(PostgresBusTransport.init(store:))
            }
            let herald = try Herald(configuration: configuration, store: store, busTransport: transport, logger: logger)
            var services: [any Service] = []
            if let postgres = store as? PostgresStore {
                // Many nodes share the database: one of them, the holder of its lock, persists what
                // other processes publish through Redis; stopping, it lets go at once.
                herald.leadership.set(false)
                services.append(BackgroundService {
                    await postgres.campaign(for: Self.ingestLock) { herald.leadership.set($0) }
                })
                if configuration.effectiveBus == .postgres, let bus = herald.clusterBus {
                    services.append(BackgroundService {
                        await postgres.listen(
                            on: PostgresBusTransport.channel,
                            onMessage: { await bus.receive(Array($0.utf8)) },
                            onStateChange: { isUp in
                                herald.postgresBusLink.set(isUp)
                                await bus.listening(isUp)
                            })
                    })
                }
            }
            let host = configuration.host
            let app = herald.application(logger: logger, services: services) { port in
                // The one line scripts wait for, written unbuffered so a pipe sees it at once.
                FileHandle.standardOutput.write(Data("Herald listening on http://\(host):\(port)\n".utf8))
            }
            try await herald.socketIO.host.run(app, logger: logger)
        }
    }
}

/// Work that runs as long as the server, cancelled as soon as a graceful shutdown begins.
struct BackgroundService: Service {
    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await work() }
    }
}
