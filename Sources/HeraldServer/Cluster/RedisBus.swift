import HeraldCore
import Logging
import NIOCore
import RESP
import Synchronization

/// The bus between nodes that share one PostgreSQL database: each node delivers its own events
/// to its readers at once, and PUBLISHes them on one Redis channel that every node subscribes
/// to (`RedisService` hands what arrives to `receive`).
///
/// Nothing is lost when Redis is: events that could not be published wait, in order and up to
/// `maxQueued`, and are sent when Redis answers again; every node catches up from the store once
/// its subscription is back (`StreamSequencer.catchUp`), and fills any gap it notices later.
public final class RedisBus: FanOutBus {
    public static let channel = "herald:bus"
    static let maxQueued = 100_000

    let sequencer: StreamSequencer
    let nodeID: String
    private let client: RedisClient
    private let logger: Logger
    private let queued = Mutex<[String]>([])

    init(sequencer: StreamSequencer, endpoint: RedisEndpoint, nodeID: String, logger: Logger) {
        self.sequencer = sequencer
        self.nodeID = nodeID
        self.client = RedisClient(endpoint: endpoint, logger: logger)
        self.logger = logger
    }

    public func publish(_ events: [StreamEvent]) async {
        await sequencer.receive(events)
        let message = BusMessage(node: nodeID, events: events).encoded()
        let waiting = queued.withLock { queue in
            guard !queue.isEmpty else { return false }
            enqueue(message, in: &queue)
            return true
        }
        // Behind messages still waiting for Redis: they go first, from `flushQueued`.
        if waiting { return }
        do {
            try await client.publish(message, to: Self.channel)
        } catch {
            let first = queued.withLock { queue in
                enqueue(message, in: &queue)
                return queue.count == 1
            }
            if first { logger.warning("redis bus: publish failed (\(error)); holding events until Redis answers") }
        }
    }

    private func enqueue(_ message: String, in queue: inout [String]) {
        // Past the bound the oldest go: the other nodes fill such gaps from the store.
        if queue.count >= Self.maxQueued { queue.removeFirst(queue.count - Self.maxQueued + 1) }
        queue.append(message)
    }

    /// Sends what waits for Redis, oldest first; stops at the first failure.
    func flushQueued() async {
        while let next = queued.withLock({ $0.first }) {
            do {
                try await client.publish(next, to: Self.channel)
            } catch {
                return
            }
            let empty = queued.withLock { queue in
                queue.removeFirst()
                return queue.isEmpty
            }
            if empty { logger.info("redis bus: held events sent") }
        }
    }

    /// A message from the bus channel: another node's events (this node's own come back too, and
    /// are already delivered).
    func receive(_ payload: ByteBuffer) async {
        do {
            let (node, events) = try BusMessage.decode(Array(payload.readableBytesView))
            guard node != nodeID else { return }
            await sequencer.receive(events)
        } catch {
            logger.warning("redis bus: ignored a message: \(error)")
        }
    }

    /// The subscription came up or went down. Up again, whatever was published meanwhile is read
    /// from the store.
    func subscriptionChanged(_ isUp: Bool) async {
        if isUp { await sequencer.catchUp() }
    }
}
