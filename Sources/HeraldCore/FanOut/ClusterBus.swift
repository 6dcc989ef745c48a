import Logging
import Synchronization

/// How nodes reach each other: Redis pub/sub or PostgreSQL's NOTIFY. The one seam between the
/// cluster bus and what carries its messages; what arrives is handed to `ClusterBus.receive`.
public protocol BusTransport: Sendable {
    /// The largest message it carries, in bytes; larger ones travel as references to the store.
    var maxMessageBytes: Int { get }
    func send(_ message: String) async throws
}

/// The bus between nodes that share one database: a node delivers its own events to its readers
/// at once, then sends them to the others, who deliver them in seq order (`StreamSequencer`).
///
/// Nothing is lost when the transport is: messages that could not be sent wait, in order and up
/// to `maxHeld`, and go when it answers again (`sendHeld`); every node catches up from the store
/// once it hears the others again (`listening(true)`), and fills any gap it notices later.
public final class ClusterBus: FanOutBus {
    static let maxHeld = 100_000

    public let sequencer: StreamSequencer
    let transport: any BusTransport
    let nodeID: String
    private let logger: Logger
    private let held = Mutex<[String]>([])
    private let socketIOReceiver = Mutex<(@Sendable (String) -> Void)?>(nil)
    private let socketIOOutbox: AsyncStream<String>
    private let socketIOQueue: AsyncStream<String>.Continuation

    public init(sequencer: StreamSequencer, transport: any BusTransport, nodeID: String, logger: Logger) {
        self.sequencer = sequencer
        self.transport = transport
        self.nodeID = nodeID
        self.logger = logger
        (socketIOOutbox, socketIOQueue) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(100_000))
    }

    // MARK: Socket.IO broadcasts

    /// Queues a Socket.IO broadcast (its JSON text) for the other nodes; `run` sends them in order.
    /// Live only: one that cannot be sent is lost, as with any Socket.IO adapter.
    public func broadcast(socketIO text: String) {
        socketIOQueue.yield(text)
    }

    /// Where the other nodes' Socket.IO broadcasts go.
    public func onSocketIO(_ receive: @escaping @Sendable (String) -> Void) {
        socketIOReceiver.withLock { $0 = receive }
    }

    private func sendSocketIO() async {
        for await text in socketIOOutbox {
            let message = BusMessage(node: nodeID, socketIO: text).encoded()
            guard message.utf8.count <= transport.maxMessageBytes else {
                logger.warning("cluster bus: a Socket.IO broadcast of \(message.utf8.count) bytes is too large for the bus; sent to this node's sockets only")
                continue
            }
            do {
                try await transport.send(message)
            } catch {
                logger.warning("cluster bus: a Socket.IO broadcast was not sent to the other nodes: \(error)")
            }
        }
    }

    // MARK: Events

    public func publish(_ events: [StreamEvent]) async {
        await sequencer.receive(events)
        var message = BusMessage(node: nodeID, events: events).encoded()
        if message.utf8.count > transport.maxMessageBytes {
            message = BusMessage(node: nodeID, events: events, byReference: true).encoded()
        }
        let waiting = held.withLock { queue in
            guard !queue.isEmpty else { return false }
            hold(message, in: &queue)
            return true
        }
        // Behind messages still waiting: they go first, from `sendHeld`.
        if waiting { return }
        do {
            try await transport.send(message)
        } catch {
            let first = held.withLock { queue in
                hold(message, in: &queue)
                return queue.count == 1
            }
            if first { logger.warning("cluster bus: send failed (\(error)); holding events until it answers") }
        }
    }

    private func hold(_ message: String, in queue: inout [String]) {
        // Past the bound the oldest go: the other nodes fill such gaps from the store.
        if queue.count >= Self.maxHeld { queue.removeFirst(queue.count - Self.maxHeld + 1) }
        queue.append(message)
    }

    /// Sends what waits, oldest first; stops at the first failure.
    public func sendHeld() async {
        while let next = held.withLock({ $0.first }) {
            do {
                try await transport.send(next)
            } catch {
                return
            }
            let empty = held.withLock { queue in
                queue.removeFirst()
                return queue.isEmpty
            }
            if empty { logger.info("cluster bus: held events sent") }
        }
    }

    /// Sends Socket.IO broadcasts as they come, and held events every `interval`, until the task
    /// is cancelled.
    public func run(interval: Duration = .milliseconds(250)) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.sendSocketIO() }
            while !Task.isCancelled {
                await sendHeld()
                try? await Task.sleep(for: interval)
            }
            group.cancelAll()
        }
    }

    /// A message off the transport: another node's events (this node's own come back too, and
    /// are already delivered).
    public func receive(_ bytes: [UInt8]) async {
        do {
            let (node, arrivals, socketIO) = try BusMessage.decode(bytes)
            guard node != nodeID else { return }
            if let socketIO, let receive = socketIOReceiver.withLock({ $0 }) { receive(socketIO) }
            for arrival in arrivals {
                switch arrival {
                case .event(let event): await sequencer.receive([event])
                case .reference(let stream, let seq): await sequencer.receive(reference: stream, seq: seq)
                }
            }
        } catch {
            logger.warning("cluster bus: ignored a message: \(error)")
        }
    }

    /// This node started or stopped hearing the others. Hearing them again, it reads from the
    /// store whatever was published meanwhile.
    public func listening(_ isUp: Bool) async {
        if isUp { await sequencer.catchUp() }
    }
}
