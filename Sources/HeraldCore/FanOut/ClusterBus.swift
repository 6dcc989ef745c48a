import Foundation
import Logging
import NIOCore
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
    private let signer: BusSigner
    public let nodeID: String
    private let logger: Logger
    /// Messages waiting for the transport, oldest first, each with a number of its own.
    private let held = Mutex(Held())
    private let socketIOReceiver = Mutex<(@Sendable (String) -> Void)?>(nil)
    private let callHandler = Mutex<(@Sendable (String) async -> String)?>(nil)
    /// Calls waiting for their answer, by id, with the node that must give it.
    private let pendingCalls = Mutex<[String: (node: String, slot: CallSlot)]>([:])
    private let socketIOOutbox: AsyncStream<String>
    private let socketIOQueue: AsyncStream<String>.Continuation

    /// Node ids are this many of `[a-z0-9]`: short enough to open every Engine.IO session id.
    public static let nodeIDLength = 10

    public static func newNodeID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<nodeIDLength).map { _ in alphabet.randomElement()! })
    }

    public static func isNodeID(_ text: String) -> Bool {
        text.count == nodeIDLength && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
    }

    /// `secret`, the cluster's shared secret, signs what this node sends and is required of what
    /// it takes (`BusSigner`).
    public init(sequencer: StreamSequencer, transport: any BusTransport, nodeID: String, secret: String? = nil, logger: Logger) {
        self.sequencer = sequencer
        self.transport = transport
        self.signer = BusSigner(secret: secret)
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
            guard message.utf8.count <= maxMessageBytes else {
                logger.warning("cluster bus: a Socket.IO broadcast of \(message.utf8.count) bytes is too large for the bus; sent to this node's sockets only")
                continue
            }
            do {
                try await transmit(message)
            } catch {
                logger.warning("cluster bus: a Socket.IO broadcast was not sent to the other nodes: \(error)")
            }
        }
    }

    // MARK: Calls between nodes

    /// Answers the other nodes' calls to this one.
    public func onCall(_ handler: @escaping @Sendable (String) async -> String) {
        callHandler.withLock { $0 = handler }
    }

    /// Asks the node `node` (its `nodeID`) and waits for its answer, at most `timeout`: nil if
    /// none came, the call was too large for the transport, or it could not be sent.
    public func call(_ node: String, _ body: String, timeout: Duration) async -> String? {
        let id = UUID().uuidString
        let message = BusMessage(node: nodeID, to: node, call: .init(id: id, reply: false, body: body)).encoded()
        guard message.utf8.count <= maxMessageBytes else { return nil }
        let slot = CallSlot()
        pendingCalls.withLock { $0[id] = (node, slot) }
        defer { _ = pendingCalls.withLock { $0.removeValue(forKey: id) } }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            slot.fulfil(nil)
        }
        defer { timer.cancel() }
        do {
            try await transmit(message)
        } catch {
            return nil
        }
        return await slot.wait()
    }

    /// What fits in one message of the transport, once signed.
    var maxMessageBytes: Int { transport.maxMessageBytes - (signer.signs ? BusSigner.overhead : 0) }

    private func transmit(_ message: String) async throws {
        try await transport.send(signer.seal(message))
    }

    private func handleCall(_ call: BusMessage.Call, from node: String) async {
        if call.reply {
            // Only from the node that was called.
            if let pending = pendingCalls.withLock({ $0[call.id] }), pending.node == node { pending.slot.fulfil(call.body) }
            return
        }
        guard let handler = callHandler.withLock({ $0 }) else { return }
        let answer = await handler(call.body)
        var reply = BusMessage(node: nodeID, to: node, call: .init(id: call.id, reply: true, body: answer)).encoded()
        if reply.utf8.count > maxMessageBytes {
            // An empty answer: the caller fails at once instead of waiting out its timeout.
            logger.warning("cluster bus: an answer of \(reply.utf8.count) bytes to \(node) is too large for the bus")
            reply = BusMessage(node: nodeID, to: node, call: .init(id: call.id, reply: true, body: "")).encoded()
        }
        do {
            try await transmit(reply)
        } catch {
            logger.warning("cluster bus: could not answer a call from \(node): \(error)")
        }
    }

    // MARK: Events

    public func publish(_ events: [StreamEvent]) async {
        await sequencer.receive(events)
        for message in messages(for: events) { await send(message) }
    }

    /// The events as messages the transport carries: whole in one, or, too large for it, as
    /// references in as many as they need.
    func messages(for events: [StreamEvent]) -> [String] {
        let whole = BusMessage(node: nodeID, events: events).encoded()
        if whole.utf8.count <= maxMessageBytes { return [whole] }
        var messages: [String] = []
        var batch: [StreamEvent] = []
        for event in events {
            let candidate = BusMessage(node: nodeID, events: batch + [event], byReference: true).encoded()
            if candidate.utf8.count > maxMessageBytes, !batch.isEmpty {
                messages.append(BusMessage(node: nodeID, events: batch, byReference: true).encoded())
                batch = []
            }
            batch.append(event)
        }
        if !batch.isEmpty { messages.append(BusMessage(node: nodeID, events: batch, byReference: true).encoded()) }
        return messages
    }

    private func send(_ message: String) async {
        let waiting = held.withLock { held in
            guard !held.queue.isEmpty else { return false }
            Self.hold(message, in: &held)
            return true
        }
        // Behind messages still waiting: they go first, from `sendHeld`.
        if waiting { return }
        do {
            try await transmit(message)
        } catch {
            let first = held.withLock { held in
                Self.hold(message, in: &held)
                return held.queue.count == 1
            }
            if first { logger.warning("cluster bus: send failed (\(error)); holding events until it answers") }
        }
    }

    /// Sent oldest first, one at a time: a ring, so taking the oldest costs nothing however long
    /// the outage made the queue.
    private struct Held {
        var queue = CircularBuffer<(number: UInt64, message: String)>()
        var next: UInt64 = 0
    }

    private static func hold(_ message: String, in held: inout Held) {
        // Past the bound the oldest go: the other nodes fill such gaps from the store.
        while held.queue.count >= maxHeld { held.queue.removeFirst() }
        held.queue.append((held.next, message))
        held.next += 1
    }

    /// Sends what waits, oldest first; stops at the first failure.
    public func sendHeld() async {
        while let (number, message) = held.withLock({ $0.queue.first }) {
            do {
                try await transmit(message)
            } catch {
                return
            }
            let empty = held.withLock { held in
                // Unless the bound dropped it meanwhile, it is still first.
                if held.queue.first?.number == number { held.queue.removeFirst() }
                return held.queue.isEmpty
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

    /// Messages waiting for the transport to answer again.
    public var heldCount: Int { held.withLock { $0.queue.count } }

    /// A message off the transport: another node's events (this node's own come back too, and
    /// are already delivered).
    public func receive(_ bytes: [UInt8]) async {
        do {
            guard let bytes = signer.open(bytes) else {
                throw BusMessageError("not signed with this cluster's secret")
            }
            let (message, arrivals) = try BusMessage.decodeWhole(bytes)
            let (node, socketIO) = (message.node, message.socketio)
            guard node != nodeID else { return }
            if let to = message.to {
                guard to == nodeID, let call = message.call else { return }
                // Calls wait on their handler (a held poll): never in the way of the bus's events.
                Task { await handleCall(call, from: node) }
                return
            }
            if let socketIO, let receive = socketIOReceiver.withLock({ $0 }) { receive(socketIO) }
            for arrival in arrivals {
                switch arrival {
                case .event(let event):
                    sequencer.hub.metrics.arrivedOffTheBus(event)
                    await sequencer.receive([event])
                case .reference(let stream, let seq): await sequencer.receive(reference: stream, seq: seq)
                }
            }
        } catch {
            logger.warning("cluster bus: ignored a message: \(error)")
        }
    }

    /// The fast path of `receive`, for the transport's own thread: delivers a message of whole
    /// events that continue their streams at once, without a hop to another task. False when the
    /// message needs `receive` (a gap to fill from the store, a reference, a call, a broadcast,
    /// or one it cannot read); whatever it delivered before finding that, `receive` then skips.
    public func receiveNow(_ bytes: [UInt8]) -> Bool {
        guard let opened = signer.open(bytes), let (message, arrivals) = try? BusMessage.decodeWhole(opened) else { return false }
        if message.node == nodeID { return true }
        guard message.to == nil, message.socketio == nil else { return false }
        for arrival in arrivals {
            guard case .event(let event) = arrival else { return false }
            sequencer.hub.metrics.arrivedOffTheBus(event)
            if case .gap = sequencer.hub.deliver(event) { return false }
        }
        return true
    }

    /// This node started or stopped hearing the others. Hearing them again, it reads from the
    /// store whatever was published meanwhile.
    public func listening(_ isUp: Bool) async {
        if isUp { await sequencer.catchUp() }
    }
}

/// Where a call's answer lands, whichever comes first: the answer, or the timeout (nil).
private final class CallSlot: Sendable {
    private struct State {
        var answer: String??
        var waiter: CheckedContinuation<String?, Never>?
    }

    private let state = Mutex(State())

    func fulfil(_ answer: String?) {
        let waiter = state.withLock { state -> CheckedContinuation<String?, Never>? in
            guard state.answer == nil else { return nil }
            state.answer = .some(answer)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: answer)
    }

    func wait() async -> String? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> String?? in
                if let answer = state.answer { return answer }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
