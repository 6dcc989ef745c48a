import ArgumentParser
import EngineIO
import Foundation
import HeraldServer
import Hummingbird
import Logging
import NIOCore
import SocketIO

/// Serves the reference configuration of the official compliance suites
/// (socketio/engine.io-protocol and socketio/socket.io-protocol, `test-suite/`), built only on
/// Herald's public Swift API.
@main
struct Conformance: AsyncParsableCommand {
    enum Suite: String, ExpressibleByArgument {
        case engineIO = "engine.io"
        case socketIO = "socket.io"
    }

    static let configuration = CommandConfiguration(
        commandName: "socketio-conformance",
        abstract: "The reference server of the Engine.IO and Socket.IO compliance suites.")

    @Option(help: "Which suite to serve: engine.io (an echo engine at /engine.io/) or socket.io (/socket.io/).")
    var suite: Suite

    @Option(help: "The port to listen on (127.0.0.1 and localhost).")
    var port = 3000

    @Option(help: "The address to listen on.")
    var host = "localhost"

    func run() async throws {
        var engine = EngineConfiguration()
        engine.pingInterval = .milliseconds(300)
        engine.pingTimeout = .milliseconds(200)
        engine.maxPayload = 1_000_000
        engine.allowedOrigin = "*"
        let host: EngineIOHost
        switch suite {
        case .engineIO:
            engine.path = "/engine.io/"
            host = EngineIOHost(engine: EngineServer(configuration: engine) { session in
                // The reference engine echoes every message.
                session.onMessage = { [weak session] message in session?.send([message]) }
            })
        case .socketIO:
            var configuration = SocketIOConfiguration()
            configuration.engine = engine
            configuration.connectTimeout = .milliseconds(1000)
            let io = SocketIOServer(configuration: configuration)
            for namespace in [io.main, io.of("/custom")] { Self.serveReference(namespace) }
            host = EngineIOHost(engine: io.engine)
        }
        let port = self.port
        let app = host.application(host: self.host, port: port) { bound in
            // Unbuffered, so a script reading a pipe sees it at once.
            FileHandle.standardOutput.write(Data("socketio-conformance (\(suite.rawValue)) listening on port \(bound)\n".utf8))
        }
        try await host.run(app, logger: Logger(label: "socketio-conformance"))
    }

    /// `auth` is emitted back on connect, `message` echoed as `message-back`, and
    /// `message-with-ack` acknowledged with its own arguments.
    static func serveReference(_ namespace: SocketIONamespace) {
        namespace.onConnect { socket, auth in
            // Sent a moment after the CONNECT reply rather than with it: the suite's client
            // (Node's ws) hands every frame of one TCP read to the listener of the moment, and
            // attaches the listener for this one only after reading the reply.
            socket.whenConnected {
                socket.session.eventLoop.scheduleTask(in: .milliseconds(20)) { socket.emit("auth", auth ?? [:]) }
            }
        }
        namespace.on("message") { socket, arguments in
            socket.emit("message-back", arguments: arguments)
            return []
        }
        namespace.on("message-with-ack") { _, arguments in arguments }
    }
}
