import HeraldCore
import NIOCore
import WebSocketFrameLayer

/// A `/ws` connection Herald serves itself, above the shared frame layer: hands commands to the
/// session one at a time. No task lives for the connection: a command's task exists only while
/// the command runs, each after the one before, and is let go when it ends (a finished task
/// kept for the next command to wait on holds its whole stack, about 4 KB per idle connection).
/// State is touched on the connection's event loop.
final class WebSocketConnectionHandler: WebSocketMessageReceiver, @unchecked Sendable {
    private let session: WebSocketSession
    private let channel: any NIOCore.Channel
    private var lastCommand: (number: Int, task: Task<Void, Never>)?
    private var commands = 0
    /// While the streams named in the URL are being subscribed (`open`), the messages that
    /// arrive wait here, so that every command runs after those subscriptions.
    private var held: [WebSocketMessage]?

    /// `opening`: `open` will be called with the streams the URL named.
    init(herald: Herald, channel: any NIOCore.Channel, user: User?, grant: ConnectionGrant? = nil, opening: Bool = false) {
        self.channel = channel
        session = WebSocketSession(herald: herald, channel: channel, user: user, grant: grant, pings: true)
        held = opening ? [] : nil
    }

    /// Subscribes the URL's streams, then flushes (the 101 waited for them) and runs the commands
    /// that came meanwhile.
    func open(_ opening: WebSocketOpening) async {
        await session.subscribe(opening)
        channel.eventLoop.execute { [self] in
            channel.flush()
            let waiting = held ?? []
            held = nil
            for message in waiting { received(message) }
        }
    }

    func opened(_ connection: WebSocketConnection) {}

    func received(_ message: WebSocketMessage, on connection: WebSocketConnection) {
        received(message)
    }

    private func received(_ message: WebSocketMessage) {
        if held != nil { return held!.append(message) }
        guard case .text(let bytes) = message else {
            return session.refuse(.badRequest("Commands are JSON text frames.", code: "binary_frame"))
        }
        let text = String(buffer: bytes)
        let session = self.session
        let previous = lastCommand?.task
        commands += 1
        let number = commands
        let loop = channel.eventLoop
        lastCommand = (number, Task {
            await previous?.value
            await session.handle(text)
            loop.execute { [self] in
                if lastCommand?.number == number { lastCommand = nil }
            }
        })
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
