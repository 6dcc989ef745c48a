import NIOCore
import NIOWebSocket
import WebSocketFrameLayer

/// The WebSocket transport: one Engine.IO packet per message, text packets as text frames and
/// binary ones as raw binary frames. It either opened its session itself or names an existing
/// polling session that it probes and then takes over (the upgrade).
final class EngineWebSocketTransport: WebSocketMessageReceiver, @unchecked Sendable {
    enum Role {
        /// Opened without a sid: it is the session's transport from the start.
        case opening(EngineServer, EngineHandshake)
        /// Named a polling session: probing it until the client sends `5`.
        case upgrading(EngineSession)
        case transport(EngineSession)
    }

    private var role: Role
    private(set) var connection: WebSocketConnection?
    /// Text packets leave as frames built here, when the session lives on the socket's own loop
    /// (always, unless it was upgraded from a poll served by another loop; then its writes hop to
    /// the socket's loop as frame values).
    private var framed: FramedWriter?

    init(role: Role) {
        self.role = role
    }

    func opened(_ connection: WebSocketConnection) {
        self.connection = connection
        writable = connection.channel.isWritable
        switch role {
        case .opening(let server, let handshake):
            framed = FramedWriter(channel: connection.channel)
            role = .transport(server.open(handshake, on: connection.eventLoop, webSocket: self))
        case .upgrading(let session):
            if session.eventLoop === connection.eventLoop { framed = FramedWriter(channel: connection.channel) }
            session.beginUpgrade(self)
        case .transport:
            break
        }
    }

    func received(_ message: WebSocketMessage, on connection: WebSocketConnection) {
        let packet: EnginePacket? =
            switch message {
            case .text(let text): EnginePacket(text: Substring(String(buffer: text)))
            case .binary(let bytes): EnginePacket(binary: bytes)
            }
        switch role {
        case .transport(let session): session.receiveFromWebSocket(packet, from: self)
        case .upgrading(let session):
            guard let packet else { return close() }
            // From `5` on, packets are the session's: switch now, before the next one is read.
            if packet.kind == .upgrade { role = .transport(session) }
            session.receiveProbe(packet, from: self)
        case .opening: break
        }
    }

    func refusedOversizedMessage(limit: Int, on connection: WebSocketConnection) {
        if case .transport(let session) = role { session.refuseOversized() }
    }

    func closing() {
        // Frames written in place go ahead of the frame layer's close frame.
        if framed != nil { framed!.writePending() }
    }

    func closed() {
        // Only when set: a transport without one may be read from the session's other loop.
        if framed != nil { framed!.release() }
        switch role {
        case .transport(let session), .upgrading(let session): session.webSocketClosed(self)
        case .opening: break
        }
    }

    func write(_ packet: consuming EngineSession.Outbound, promise: EventLoopPromise<Void>? = nil) {
        switch consume packet {
        case .text(let bytes):
            if framed != nil {
                framed!.write(WebSocketFraming.text(bytes), promise: promise)
            } else {
                connection?.write(.text(bytes), promise: promise)
            }
        case .binary(let bytes):
            // Behind the text frames written in place before it.
            if framed != nil { framed!.writePending() }
            connection?.write(.binary(bytes), promise: promise)
        }
    }

    /// A text packet written in place by `writePacket` (see `EngineSession.writeMessage`).
    func writeText(maxLength: Int, _ writePacket: (UnsafeMutableRawBufferPointer) -> Int) {
        if framed != nil { return framed!.writeText(maxLength: maxLength, writePacket) }
        guard let connection else { return }
        connection.write(.text(ByteBuffer.written(maxLength: maxLength, allocator: connection.channel.allocator, writePacket)))
    }

    /// Whether the socket takes more without piling up past its watermark. On the socket's own
    /// loop, as the frame layer last said: a flag, so that the hub's check on every event touches
    /// no channel (a channel's retain is one of the dearest steps of a delivery).
    var isWritable: Bool {
        framed != nil ? writable : connection?.channel.isWritable ?? false
    }
    private var writable = true

    func writabilityChanged(_ isWritable: Bool) {
        writable = isWritable
    }

    func flush() {
        if framed != nil {
            framed!.flush()
        } else {
            connection?.flush()
        }
    }

    func send(_ message: WebSocketMessage) {
        connection?.send(message)
    }

    func close() {
        // Frames written in place go ahead of the close frame.
        if framed != nil { framed!.writePending() }
        connection?.close(code: .normalClosure, grace: .seconds(1))
    }
}
