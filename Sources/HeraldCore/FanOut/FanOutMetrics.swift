import CoreMetrics
import Foundation
import Synchronization

/// What the fan-out counts, through swift-metrics: deliveries and their bytes by transport, and
/// how long events from other nodes took to arrive.
///
/// Counting is done once per event and transport (`delivered(_:bytes:transport:)` adds the
/// whole audience at once), never once per subscriber, so it costs the hot path nothing it
/// would notice.
public final class FanOutMetrics: Sendable {
    private struct Counters {
        let deliveries: Counter
        let bytes: Counter
    }

    private let factory: any MetricsFactory
    private let counters = Mutex([String: Counters]())
    /// From an event's timestamp (its write, on the node that took it) to its arrival here off the bus.
    let busLag: CoreMetrics.Timer

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        busLag = CoreMetrics.Timer(label: "herald_bus_lag_seconds", preferredDisplayUnit: .seconds, factory: factory)
    }

    func delivered(_ count: Int, bytes: Int, transport: String) {
        let counters = counters.withLock { counters in
            if let existing = counters[transport] { return existing }
            let made = Counters(
                deliveries: Counter(label: "herald_deliveries_total", dimensions: [("transport", transport)], factory: factory),
                bytes: Counter(label: "herald_delivered_bytes_total", dimensions: [("transport", transport)], factory: factory))
            counters[transport] = made
            return made
        }
        counters.deliveries.increment(by: count)
        counters.bytes.increment(by: count * bytes)
    }

    func arrivedOffTheBus(_ event: StreamEvent) {
        let lag = Date().timeIntervalSince1970 - event.notification.timestamp
        busLag.recordNanoseconds(Int64(max(0, lag) * 1e9))
    }
}
