import CoreMetrics
import Foundation
import Metrics
import HeraldCore
import Prometheus

/// Herald's metrics, through swift-metrics into one Prometheus registry, served at `GET /metrics`.
///
/// Each node has its own registry, so several servers in one process (the tests) keep theirs
/// apart; `herald serve` also makes it the process's `MetricsSystem`, which is where libraries
/// (Hummingbird's request metrics) count. Nothing here is touched once per delivery: the hub
/// counts once per event and transport (`FanOutMetrics`), and connections once each way.
public final class HeraldMetrics: Sendable {
    /// How a held connection reaches its reader.
    public enum Transport: String, CaseIterable, Sendable {
        case sse, ws
        case socketIOWebSocket = "socketio_websocket"
        case socketIOPolling = "socketio_polling"
        case longPoll = "longpoll"
    }

    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    public let fanOut: FanOutMetrics
    private let connections: [Transport: Meter]
    private let slowConsumers: [String: CoreMetrics.Counter]
    private let resets: [String: CoreMetrics.Counter]
    private let publishes: [String: CoreMetrics.Counter]
    private let storeWrites: CoreMetrics.Timer
    /// Only on a node with a bus between nodes.
    private let busUp: Meter?
    private let busHeld: Meter?

    /// `clustered`: the node is one of many, so the bus between them is measured too.
    public init(clustered: Bool = false) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Store writes take from a fraction of a millisecond (SQLite) to tens (PostgreSQL, busy).
        factory.durationHistogramBuckets["herald_store_write_seconds"] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        factory.durationHistogramBuckets["herald_bus_lag_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        self.registry = registry
        self.factory = factory
        fanOut = FanOutMetrics(factory: factory)
        connections = Dictionary(uniqueKeysWithValues: Transport.allCases.map { transport in
            (transport, Meter(label: "herald_connections", dimensions: [("transport", transport.rawValue)], factory: factory))
        })
        func byTransport(_ label: String) -> [String: CoreMetrics.Counter] {
            Dictionary(uniqueKeysWithValues: ["sse", "ws", "socketio"].map { transport in
                (transport, CoreMetrics.Counter(label: label, dimensions: [("transport", transport)], factory: factory))
            })
        }
        slowConsumers = byTransport("herald_slow_consumers_total")
        resets = byTransport("herald_resets_total")
        publishes = Dictionary(uniqueKeysWithValues: ["publish", "message"].map { kind in
            (kind, CoreMetrics.Counter(label: "herald_publishes_total", dimensions: [("kind", kind)], factory: factory))
        })
        storeWrites = CoreMetrics.Timer(label: "herald_store_write_seconds", preferredDisplayUnit: .seconds, factory: factory)
        busUp = clustered ? Meter(label: "herald_bus_up", factory: factory) : nil
        busHeld = clustered ? Meter(label: "herald_bus_held_messages", factory: factory) : nil
    }

    /// A held connection opened; call `closed` with the same transport when it ends.
    func opened(_ transport: Transport) { connections[transport]?.increment() }
    func closed(_ transport: Transport) { connections[transport]?.decrement() }
    func set(_ transport: Transport, to count: Int) { connections[transport]?.set(count) }

    /// A reader that could not keep up was cut off (`sse`, `ws`, `socketio`).
    func cutOff(_ transport: String) { slowConsumers[transport]?.increment() }
    /// A reader whose cursor was older than the retention was told so (`herald.reset`).
    func resetSent(_ transport: String) { resets[transport]?.increment() }

    /// Times a write of events to the store, counted as a publish of `kind` (`publish` for the
    /// publish API and its WebSocket and Socket.IO forms, `message` for a private message).
    func write<T>(_ kind: String, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        let result = try await body()
        storeWrites.record(duration: ContinuousClock.now - start)
        publishes[kind]?.increment()
        return result
    }

    /// The bus between nodes: whether it is heard, and how many messages wait to be sent.
    func bus(isUp: Bool, held: Int) {
        busUp?.set(isUp ? 1 : 0)
        busHeld?.set(held)
    }

    /// The Prometheus text of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
