import HeraldCore
import NIOCore
import WebSocketFrameLayer

/// A `/ws` connection Herald serves itself, above the shared frame layer: hands commands to the
/// session one at a time. No task lives for the connection: a command's task exists only while
/// the command runs, each after the one before.
final class WebSocketConnectionHandler: WebSocketMessageReceiver, @unchecked Sendable {
    private let session: WebSocketSession
    private var lastCommand: Task<Void, Never>?

    init(herald: Herald, channel: any NIOCore.Channel, user: User?, grant: ConnectionGrant? = nil) {
        session = WebSocketSession(herald: herald, channel: channel, user: user, grant: grant, pings: true)
    }

    func opened(_ connection: WebSocketConnection) {}

    func received(_ message: WebSocketMessage, on connection: WebSocketConnection) {
        guard case .text(let bytes) = message else {
            return session.refuse(.badRequest("Commands are JSON text frames.", code: "binary_frame"))
        }
        let text = String(buffer: bytes)
        let session = self.session
        let previous = lastCommand
        lastCommand = Task {
            await previous?.value
            await session.handle(text)
        }
    }

    func receivedPong() {
        session.pongReceived()
    }

    func refusedOversizedMessage(limit: Int, on connection: WebSocketConnection) {
        session.refuse(.tooLarge(limit: limit))
    }

    func closed() {
        session.close()
    }
}
