import Foundation
import HeraldCore

/// Settings from `HERALD_*` environment variables; flags given on the command line win over them.
enum EnvironmentSettings {
    struct InvalidValue: Error, CustomStringConvertible {
        var name: String
        var value: String
        var description: String { "\(name)=\(value) is not a valid value." }
    }

    static func configuration(from environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> HeraldConfiguration
    {
        var configuration = HeraldConfiguration()
        func int(_ name: String, _ apply: (Int) -> Void) throws {
            guard let raw = environment[name] else { return }
            guard let value = Int(raw) else { throw InvalidValue(name: name, value: raw) }
            apply(value)
        }
        if let host = environment["HERALD_HOST"] { configuration.host = host }
        if let host = environment["HERALD_ADVERTISE_HOST"], !host.isEmpty { configuration.advertiseHost = host }
        if let dir = environment["HERALD_DATA_DIR"] { configuration.dataDirectory = dir }
        try int("HERALD_PORT") { configuration.port = $0 }
        try int("HERALD_MESSAGE_MAX_LENGTH") { configuration.messageMaxLength = $0 }
        try int("HERALD_MESSAGES_PER_PAGE") { configuration.messagesPerPage = $0 }
        try int("HERALD_BCRYPT_COST") { configuration.bcryptCost = $0 }
        try int("HERALD_RETENTION_COUNT") { configuration.retention.maxCount = $0 }
        try int("HERALD_RETENTION_SECONDS") { configuration.retention.maxAge = Double($0) }
        try int("HERALD_HEARTBEAT_SECONDS") { configuration.heartbeatSeconds = $0 }
        try int("HERALD_WS_DEFLATE") { configuration.webSocketDeflate = $0 != 0 }
        try int("HERALD_DEMO_TICK_SECONDS") { configuration.demoTickSeconds = $0 }
        if let secret = environment["HERALD_CLUSTER_SECRET"], !secret.isEmpty { configuration.clusterSecret = secret }
        if let url = environment["HERALD_DATABASE_URL"], !url.isEmpty { configuration.databaseURL = url }
        if let bus = environment["HERALD_BUS"], !bus.isEmpty {
            guard let value = HeraldConfiguration.Bus(rawValue: bus) else { throw InvalidValue(name: "HERALD_BUS", value: bus) }
            configuration.bus = value
        }
        if let url = environment["HERALD_REDIS_URL"], !url.isEmpty { configuration.redisURL = url }
        if let channels = environment["HERALD_FLASK_SSE_CHANNELS"] { configuration.flaskSSEChannels = list(channels) }
        if let channel = environment["HERALD_SOCKETIO_QUEUE_CHANNEL"], !channel.isEmpty {
            configuration.socketIOQueueChannel = channel
        }
        if let path = environment["HERALD_SOCKETIO_CLIENT"], !path.isEmpty { configuration.socketIOClientPath = path }
        return configuration
    }

    /// A comma-separated list, blanks dropped.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
