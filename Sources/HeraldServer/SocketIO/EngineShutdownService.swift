import EngineIO
import ServiceLifecycle

/// Closes every Engine.IO session when the server stops, so clients reconnect (elsewhere) at once
/// instead of waiting for a ping to fail. Their sessions are outside Hummingbird's draining.
struct EngineShutdownService: Service {
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
