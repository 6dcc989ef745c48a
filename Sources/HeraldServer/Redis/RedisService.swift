import HeraldCore
import Logging
import NIOCore
import RESP
import ServiceLifecycle

/// This node's one subscription to Redis, for both things it hears there: the bus between
/// nodes (`ClusterBus`, in multi-node mode) and what other processes publish (`RedisIngest`).
/// Bus events that continue their streams are delivered as they arrive; everything else is
/// carried out in the order it arrived, by one task. While Redis is away the subscription
/// reconnects by itself; the bus then catches up from the store, while what other processes
/// published meanwhile is lost, as with any Redis pub/sub subscriber.
struct RedisService: Service, CustomStringConvertible {
    /// ServiceLifecycle logs each service it starts by its description; the fields hold secrets.
    var description: String { "RedisService" }

    let ingest: RedisIngest
    /// The cluster bus, when it travels over this Redis.
    let bus: ClusterBus?
    let endpoint: RedisEndpoint
    let link: LinkState
    let logger: Logger

    func run() async throws {
        let (messages, arrived) = AsyncStream.makeStream(of: Arrival.self, bufferingPolicy: .bufferingNewest(100_000))
        var channels = ingest.flaskSSEChannels.sorted() + [ingest.socketIOChannel]
        if bus != nil { channels.append(RedisBusTransport.channel) }
        let options = RedisSubscription.Options(channels: channels, patterns: [RedisIngest.heraldChannelPrefix + "*"])
        let subscription = RedisSubscription(
            endpoint: endpoint, options: options, logger: logger,
            onMessage: { [bus] message in
                // Bus events that continue their streams are delivered here, without waiting
                // their turn behind the task that carries out everything else.
                if message.channel == RedisBusTransport.channel, let bus,
                    bus.receiveNow(Array(message.payload.readableBytesView))
                {
                    return
                }
                if case .dropped = arrived.yield(.message(message)) {
                    // The queue is full (the store is slow to fill gaps): the bus catches up later.
                    logger.warning("redis: dropped a message on \(message.channel); the queue is full")
                }
            },
            onStateChange: { [link] isUp in
                link.set(isUp)
                arrived.yield(.subscribed(isUp))
            })
        logger.info("listening on redis \(endpoint) for \(options.channels + options.patterns)")
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await subscription.run() }
                group.addTask {
                    for await arrival in messages { await carryOut(arrival) }
                }
            }
        }
    }

    enum Arrival {
        case message(RedisMessage)
        case subscribed(Bool)
    }

    private func carryOut(_ arrival: Arrival) async {
        switch arrival {
        case .subscribed(let isUp):
            await bus?.listening(isUp)
        case .message(let message) where message.channel == RedisBusTransport.channel:
            await bus?.receive(Array(message.payload.readableBytesView))
        case .message(let message):
            do {
                try await ingest.perform(try ingest.action(for: message))
            } catch {
                logger.warning("redis: ignored \(message.channel): \(error)")
            }
        }
    }
}
