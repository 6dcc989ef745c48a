import HeraldCore
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Writes a heartbeat to every held connection on a timer: it keeps proxies from closing idle
/// streams, and a write to a vanished client fails, which closes its connection. On shutdown it
/// ends the event streams, which Herald serves outside Hummingbird's draining.
struct HeartbeatService: Service, CustomStringConvertible {
    var description: String { "HeartbeatService" }

    let hub: StreamHub
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            hub.heartbeat()
        }
        // Held streams are outside Hummingbird's draining: end them, and give their last frames a
        // moment to leave before the process does.
        hub.shutdownAll()
        let deadline = ContinuousClock.now + .seconds(2)
        while hub.subscriberCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
