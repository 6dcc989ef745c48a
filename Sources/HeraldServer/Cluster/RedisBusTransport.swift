import HeraldCore
import Logging
import RESP

/// The cluster bus over Redis: PUBLISH on one channel, which every node's `RedisService`
/// subscribes to along with what it ingests.
public struct RedisBusTransport: BusTransport {
    public static let channel = "herald:bus"

    private let client: RedisClient

    public init(endpoint: RedisEndpoint, logger: Logger) {
        client = RedisClient(endpoint: endpoint, logger: logger)
    }

    public var maxMessageBytes: Int { BusMessageLimits.maxBytes }

    public func send(_ message: String) async throws {
        try await client.publish(message, to: Self.channel)
    }
}
