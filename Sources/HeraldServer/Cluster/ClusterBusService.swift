import HeraldCore
import ServiceLifecycle

/// Sends the bus messages that waited while the transport was down, for as long as the node runs.
struct ClusterBusService: Service, CustomStringConvertible {
    var description: String { "ClusterBusService" }

    let bus: ClusterBus

    func run() async throws {
        await cancelWhenGracefulShutdown { await bus.run() }
    }
}
