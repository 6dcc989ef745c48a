import ArgumentParser
import Foundation
import HeraldCore
import HeraldPostgres
import HeraldServer
import Hummingbird
import Logging
import Metrics
import RESP
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run Herald: the web app, the API and the notification service.",
        discussion: SettingsListing.help)

    @OptionGroup var settings: SettingsOptions

    /// The advisory lock the node that ingests Redis publishes holds.
    static let ingestLock: Int64 = 0x4845_5241_4C44_0002

    func run() async throws {
        // Before the first logger is made: every one of this process then formats lazily.
        LoggingSystem.bootstrap(HeraldLogHandler.standardError)
        MemoryAllocator.keepFreedMemory()
        let configuration = try await settings.configuration()
        if let problem = configuration.busProblem { throw ValidationError(problem) }
        if let problem = configuration.jwtProblem { throw ValidationError(problem) }

        var logger = Logger(label: "herald")
        logger.logLevel = configuration.logLevel
        try await StoreOpening.withStore(configuration, logger: logger) { [configuration, logger] store in
            let transport: (any BusTransport)? = switch configuration.effectiveBus {
            case .inProcess: nil
            case .redis: RedisBusTransport(endpoint: try RedisEndpoint(url: configuration.redisURL ?? ""), logger: logger)
            case .postgres: (store as? PostgresStore).map(PostgresBusTransport.init(store:))
            }
            let herald = try Herald(configuration: configuration, store: store, busTransport: transport, logger: logger)
            // What libraries count (Hummingbird's requests) lands in the node's own registry too.
            MetricsSystem.bootstrap(herald.metrics.factory)
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
struct BackgroundService: Service, CustomStringConvertible {
    var description: String { "BackgroundService" }

    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await work() }
    }
}
