import Logging
import RESP
import ServiceLifecycle

/// Listens on Redis for what other processes publish (see `RedisIngest`) and carries each message
/// out in the order it arrived. While Redis is away it reconnects by itself; what was published
/// meanwhile is lost, as with any Redis pub/sub subscriber.
struct RedisIngestService: Service {
    let ingest: RedisIngest
    let endpoint: RedisEndpoint
    let logger: Logger

    func run() async throws {
        let (messages, arrived) = AsyncStream.makeStream(of: RedisMessage.self, bufferingPolicy: .bufferingNewest(100_000))
        let options = RedisSubscription.Options(
            channels: ingest.flaskSSEChannels.sorted() + [ingest.socketIOChannel],
            patterns: [RedisIngest.heraldChannelPrefix + "*"])
        let subscription = RedisSubscription(
            endpoint: endpoint, options: options, logger: logger, onMessage: { arrived.yield($0) })
        logger.info("listening on redis \(endpoint) for \(options.channels + options.patterns)")
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await subscription.run() }
                group.addTask {
                    for await message in messages { await carryOut(message) }
                }
            }
        }
    }

    private func carryOut(_ message: RedisMessage) async {
        do {
            try await ingest.perform(try ingest.action(for: message))
        } catch {
            logger.warning("redis: ignored \(message.channel): \(error)")
        }
    }
}
