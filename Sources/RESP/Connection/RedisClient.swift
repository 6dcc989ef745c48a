import Logging
import NIOCore
import NIOPosix

/// Commands to one Redis server over a connection made when first needed and made again after it
/// drops. Concurrent callers share the connection, so their commands are pipelined.
///
/// While Redis is unreachable, commands fail at once with `RedisError.unavailable` until the
/// back-off has passed, instead of each waiting for a connect timeout.
public actor RedisClient {
    private let endpoint: RedisEndpoint
    private let group: any EventLoopGroup
    private let logger: Logger
    private var connection: RedisConnection?
    private var connecting: Task<RedisConnection, any Error>?
    private var backoff: Backoff
    private var retryAfter: ContinuousClock.Instant?

    public init(endpoint: RedisEndpoint, backoff: Backoff = Backoff(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.endpoint = endpoint
        self.group = group
        self.logger = logger
        self.backoff = backoff
    }

    public func send(_ arguments: [String]) async throws -> RESPValue {
        try await currentConnection().send(arguments)
    }

    @discardableResult
    public func publish(_ message: String, to channel: String) async throws -> Int64 {
        try await currentConnection().publish(message, to: channel)
    }

    public func close() async {
        connecting?.cancel()
        await connection?.close()
        connection = nil
    }

    private func currentConnection() async throws -> RedisConnection {
        if let connection, connection.isActive { return connection }
        connection = nil
        if let connecting { return try await connecting.value }
        if let retryAfter, ContinuousClock.now < retryAfter { throw RedisError.unavailable }
        let attempt = Task { [endpoint, group] in try await RedisConnection.connect(to: endpoint, group: group) }
        connecting = attempt
        defer { connecting = nil }
        do {
            let made = try await attempt.value
            connection = made
            backoff.reset()
            retryAfter = nil
            return made
        } catch {
            retryAfter = .now + backoff.next()
            logger.error("redis at \(endpoint) is unreachable: \(error)")
            throw error
        }
    }
}
