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
    /// Text packets leave as frames built here (in place, in the room `SocketIOFrames` leaves).
    private var framed: FramedWriter?

    init(role: Role) {
        self.role = role
    }

    func opened(_ connection: WebSocketConnection) {
        self.connection = connection
        framed = FramedWriter(channel: connection.channel)
        switch role {
        case .opening(let server, let handshake):
            role = .transport(server.open(handshake, on: connection.eventLoop, webSocket: self))
        case .upgrading(let session):
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

    func closed() {
        framed?.release()
        switch role {
        case .transport(let session), .upgrading(let session): session.webSocketClosed(self)
        case .opening: break
        }
    }

    func write(_ packet: consuming EngineSession.Outbound, promise: EventLoopPromise<Void>? = nil) {
        switch consume packet {
        case .text(let bytes):
            if writesFramed {
                framed!.write(WebSocketFraming.text(bytes), promise: promise)
            } else {
                connection?.write(.text(bytes), promise: promise)
            }
        case .binary(let bytes): connection?.write(.binary(bytes), promise: promise)
        }
    }

    func flush() {
        if writesFramed {
            framed!.flush()
        } else {
            connection?.flush()
        }
    }

    /// Whether text goes out as frames built here: only on the socket's own loop. A session
    /// upgraded from polling may live on another loop than its WebSocket; its writes then hop
    /// there as frame values.
    private var writesFramed: Bool {
        connection?.eventLoop.inEventLoop == true && framed != nil
    }

    func send(_ message: WebSocketMessage) {
        connection?.send(message)
    }

    func close() {
        connection?.close(code: .normalClosure, grace: .seconds(1))
    }
}
