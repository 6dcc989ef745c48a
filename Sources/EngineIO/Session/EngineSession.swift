import NIOCore
import WebSocketFrameLayer

/// One Engine.IO session (a `sid`): its transport, the packets waiting for a poll, the heartbeat
/// and the upgrade from polling to WebSocket.
///
/// All state lives on `eventLoop`: every entry point hops there, so callbacks (`onMessage`,
/// `onClose`) arrive there too, in order. A polling session holds no task: a waiting poll is a
/// promise, the heartbeat one scheduled timer.
public final class EngineSession: @unchecked Sendable {
    public enum CloseReason: String, Sendable {
        /// The client sent a close packet.
        case clientClose = "client namespace disconnect"
        case pingTimeout = "ping timeout"
        /// The WebSocket went away, or a second poll arrived while one was waiting.
        case transportClose = "transport close"
        case transportError = "transport error"
        /// A packet that could not be parsed, or over `maxPayload`.
        case parseError = "parse error"
        /// The server (the layer above, or shutdown) closed it.
        case serverClose = "server namespace disconnect"
    }

    enum Transport {
        case polling
        case webSocket(EngineWebSocketTransport)
    }

    /// Outbound packets in their wire form: text packets with their type digit, binary as bytes.
    enum Outbound {
        case text(ByteBuffer)
        case binary(ByteBuffer)
    }

    public let id: String
    public let eventLoop: any EventLoop
    public let handshake: EngineHandshake
    /// Of the server's configuration, only what a session consults, so a held connection does
    /// not carry a copy of the whole.
    let pingInterval: TimeAmount
    let pingTimeout: TimeAmount
    let allowsUpgrades: Bool
    private weak var server: EngineServer?

    /// Called with each message the client sends. Set it in the server's connection callback.
    public var onMessage: ((EngineMessage) -> Void)?
    /// Called once when the session ends, for whatever reason.
    public var onClose: ((CloseReason) -> Void)?

    private(set) var transport = Transport.polling
    private var probing: EngineWebSocketTransport?
    private var probed = false
    private var queue: [Outbound] = []
    private var waitingPoll: EventLoopPromise<EngineResponse>?
    private var posting = false
    private(set) var isClosed = false
    /// The heartbeat (`EngineSession+Heartbeat.swift`): its one timer, while a ping waits for
    /// its pong the time the pong is due, and when the last pong came.
    var heartbeat: NIOScheduledCallback?
    var heartbeatAt = NIODeadline.uptimeNanoseconds(0)
    var pongDeadline: NIODeadline?
    var lastPong = NIODeadline.now()

    init(id: String, eventLoop: any EventLoop, handshake: EngineHandshake, configuration: EngineConfiguration, server: EngineServer) {
        self.id = id
        self.eventLoop = eventLoop
        self.handshake = handshake
        self.pingInterval = .init(configuration.pingInterval)
        self.pingTimeout = .init(configuration.pingTimeout)
        self.allowsUpgrades = configuration.allowUpgrades
        self.server = server
    }

    /// The transport in use: "polling" or "websocket".
    private var isOnWebSocket: Bool {
        if case .webSocket = transport { true } else { false }
    }

    public var transportName: String {
        if case .webSocket = transport { "websocket" } else { "polling" }
    }

    // MARK: Sending

    /// Sends messages to the client, in order. Safe from any thread.
    public func send(_ messages: [EngineMessage]) {
        onLoop { [self] in
            for message in messages {
                switch message {
                case .text(let text): enqueue(.text(ByteBuffer(string: "4" + text)))
                case .binary(let bytes): enqueue(.binary(bytes))
                }
            }
            flush()
        }
    }

    /// Queues a text packet already in wire form, its type digit first (the heartbeat's `2`); it
    /// leaves at the next `flush`. On the event loop only.
    func write(encodedPacket: consuming ByteBuffer) {
        eventLoop.assertInEventLoop()
        enqueue(.text(encodedPacket))
    }

    /// Queues a text message packet that `writePacket` writes at the start of the bytes it is
    /// given (`4` followed by the message, at most `maxLength` bytes), returning how many it
    /// wrote. For a message that differs per session: on a WebSocket it is framed in place beside
    /// the session's other such packets since the last flush, so they cost one buffer between
    /// them. It leaves at the next `flush`. On the event loop only.
    public func writeMessage(maxLength: Int, _ writePacket: (UnsafeMutableRawBufferPointer) -> Int) {
        eventLoop.assertInEventLoop()
        guard !isClosed else { return }
        switch transport {
        case .webSocket(let socket):
            socket.writeText(maxLength: maxLength, writePacket)
        case .polling:
            queue.append(.text(ByteBuffer.written(maxLength: maxLength, allocator: ByteBufferAllocator(), writePacket)))
        }
    }

    /// Sends what `write(encodedPacket:)` and `writeMessage` queued. On the event loop only.
    public func flush() {
        guard !isClosed else { return }
        switch transport {
        case .webSocket(let socket): socket.flush()
        case .polling: answerWaitingPoll()
        }
    }

    /// Whether the transport can take more without buffering past its limits: a WebSocket's
    /// socket is writable, or a polling queue is not piling up.
    public var isWritable: Bool {
        switch transport {
        case .webSocket(let socket): socket.isWritable
        case .polling: queue.count < 4096
        }
    }

    private func enqueue(_ packet: consuming Outbound) {
        guard !isClosed else { return }
        switch transport {
        case .webSocket(let socket): socket.write(packet)
        case .polling: queue.append(packet)
        }
    }

    private func answerWaitingPoll() {
        guard let waitingPoll, !queue.isEmpty else { return }
        self.waitingPoll = nil
        waitingPoll.succeed(.text(Self.payload(queue)))
        queue.removeAll()
    }

    static func payload(_ packets: [Outbound]) -> String {
        packets.map { packet in
            switch packet {
            case .text(let bytes): String(buffer: bytes)
            case .binary(let bytes): EnginePayload.encode([EnginePacket(binary: bytes)])
            }
        }.joined(separator: "\u{1e}")
    }

    // MARK: Closing

    /// Ends the session from the server's side. Safe from any thread.
    public func close() {
        onLoop { [self] in close(.serverClose) }
    }

    func close(_ reason: CloseReason) {
        guard !isClosed else { return }
        switch transport {
        case .polling:
            // A poll that is waiting learns the session is over.
            enqueue(.text(ByteBuffer(string: reason == .clientClose ? "6" : "1")))
            answerWaitingPoll()
        case .webSocket(let socket):
            socket.close()
        }
        isClosed = true
        queue.removeAll()
        heartbeat?.cancel()
        heartbeat = nil
        probing?.close()
        probing = nil
        server?.remove(self, wasOnWebSocket: isOnWebSocket)
        let onClose = self.onClose
        self.onClose = nil
        onMessage = nil
        onClose?(reason)
    }

    /// A request that arrives after the pong was due finds the session closed, even if the
    /// timer that would have closed it has not run yet.
    func closeIfPongOverdue() {
        if let pongDeadline, NIODeadline.now() >= pongDeadline { close(.pingTimeout) }
    }

    // MARK: Receiving

    /// A packet from the active transport. On the event loop.
    func receive(_ packet: EnginePacket) {
        guard !isClosed else { return }
        switch packet.kind {
        case .pong:
            pongArrived()
        case .ping:
            // Not sent by v4 clients outside the upgrade, but answered the way the spec says.
            var pong = ByteBuffer(string: "3")
            if case .text(let text) = packet.data { pong.writeString(text) }
            enqueue(.text(pong))
            flush()
        case .message:
            if let data = packet.data { onMessage?(data) }
        case .close:
            close(.clientClose)
        case .open, .upgrade, .noop:
            break
        }
    }

    // MARK: Polling

    /// A `GET`: answers at once with what is queued, or waits for the next packet.
    func poll() -> EventLoopFuture<EngineResponse> {
        eventLoop.flatSubmit { [self] in
            closeIfPongOverdue()
            guard !isClosed else { return eventLoop.makeSucceededFuture(.error(.unknownSession)) }
            guard case .polling = transport else { return eventLoop.makeSucceededFuture(.error(.badRequest)) }
            if let waitingPoll {
                // Two polls at once break the protocol's one-GET rule: the session ends.
                self.waitingPoll = nil
                waitingPoll.succeed(.text("1"))
                close(.transportClose)
                return eventLoop.makeSucceededFuture(.error(.badRequest))
            }
            if probed {
                // Upgrading: the poll is let go with a noop so the client can switch.
                return eventLoop.makeSucceededFuture(.text("6"))
            }
            let promise = eventLoop.makePromise(of: EngineResponse.self)
            waitingPoll = promise
            answerWaitingPoll()
            return promise.futureResult
        }
    }

    /// Marks a `POST` as started; false when one is already on its way (the session then ends).
    func beginPost() -> EventLoopFuture<EngineResponse?> {
        eventLoop.submit { [self] in
            closeIfPongOverdue()
            guard !isClosed else { return .error(.unknownSession) }
            guard case .polling = transport else { return .error(.badRequest) }
            if posting {
                close(.transportError)
                return .error(.badRequest)
            }
            posting = true
            return nil
        }
    }

    /// The body of a `POST`, or nil when it was over `maxPayload`.
    func finishPost(_ body: ByteBuffer?) -> EventLoopFuture<EngineResponse> {
        eventLoop.submit { [self] in
            posting = false
            guard !isClosed else { return .error(.unknownSession) }
            guard let body else {
                close(.parseError)
                return .payloadTooLarge
            }
            guard let packets = EnginePayload.decode(String(buffer: body)) else {
                close(.parseError)
                return .error(.badRequest)
            }
            for packet in packets { receive(packet) }
            return .ok
        }
    }

    /// A session opened over WebSocket uses it from the start. On the event loop.
    func adopt(_ socket: EngineWebSocketTransport) {
        transport = .webSocket(socket)
        server?.movedToWebSocket()
    }

    // MARK: Upgrade

    /// A WebSocket that names this session: it may probe, then take over from polling.
    func beginUpgrade(_ socket: EngineWebSocketTransport) {
        onLoop { [self] in
            guard !isClosed, allowsUpgrades, case .polling = transport, probing == nil else {
                return socket.close()
            }
            probing = socket
        }
    }

    /// A packet from a WebSocket that is probing this session.
    func receiveProbe(_ packet: EnginePacket, from socket: EngineWebSocketTransport) {
        onLoop { [self] in
            guard probing === socket, !isClosed else { return }
            switch packet.kind {
            case .ping where packet.data == .text("probe"):
                socket.send(.text(ByteBuffer(string: "3probe")))
                probed = true
                if let waitingPoll {
                    self.waitingPoll = nil
                    waitingPoll.succeed(.text("6"))
                }
            case .upgrade where probed:
                probing = nil
                probed = false
                transport = .webSocket(socket)
                server?.movedToWebSocket()
                let waiting = queue
                queue.removeAll()
                for packet in waiting { socket.write(packet) }
                socket.flush()
            default:
                // Only the probe and `5` belong on a socket that is still probing.
                probing = nil
                probed = false
                socket.close()
            }
        }
    }

    /// A WebSocket of this session went away: the session ends if it was the transport, and
    /// stays on polling if it was only probing.
    func webSocketClosed(_ socket: EngineWebSocketTransport) {
        onLoop { [self] in
            if probing === socket {
                probing = nil
                probed = false
            } else if case .webSocket(let active) = transport, active === socket {
                close(.transportClose)
            }
        }
    }

    /// A packet from this session's own WebSocket (nil: one that could not be parsed).
    func receiveFromWebSocket(_ packet: EnginePacket?, from socket: EngineWebSocketTransport) {
        onLoop { [self] in
            guard case .webSocket(let active) = transport, active === socket else { return socket.close() }
            guard let packet else { return close(.parseError) }
            receive(packet)
        }
    }

    func refuseOversized() {
        onLoop { [self] in close(.parseError) }
    }

    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }
}
