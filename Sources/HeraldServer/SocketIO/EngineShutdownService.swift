import EngineIO
import Logging
import ServiceLifecycle
import UnixSignals

extension EngineIOHost {
    /// Runs `app` (the HTTP server serving this engine) until SIGTERM or SIGINT, closing every
    /// Engine.IO session first. A held polling GET is a request in flight, which the HTTP server
    /// waits for when it stops; closed first, the session answers it at once, and clients
    /// reconnect (elsewhere) instead of waiting for a ping to fail.
    public func run(_ app: some Service, logger: Logger) async throws {
        // A service group stops its services in reverse order: the sessions, then the server.
        let group = ServiceGroup(configuration: .init(
            services: [app, EngineShutdownService(engine: engine)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Closes every Engine.IO session when the server stops (see `EngineIOHost.run`).
struct EngineShutdownService: Service, CustomStringConvertible {
    var description: String { "EngineShutdownService" }

    let engine: EngineServer

    func run() async throws {
        try? await gracefulShutdown()
        engine.closeAll()
        let deadline = ContinuousClock.now + .seconds(2)
        while engine.sessionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
