import Foundation
import Histogram

/// The figures of one bench run, aggregated over every subscriber process.
public struct BenchReport: Codable, Sendable {
    public var transport: String
    public var connections: Int
    public var failedConnections: Int
    public var connectSeconds: Double
    public var events: Int
    public var expectedDeliveries: Int
    public var deliveries: Int
    public var lost: Int
    /// Deliveries that came twice or out of order.
    public var repeated: Int
    public var deliveriesPerSecond: Double
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
    public var maxMilliseconds: Double
    public var serverKilobytesPerConnection: Double?
    /// The server's CPU time (user + system) per connection while connecting, and per delivery
    /// while publishing; its write system calls per delivery.
    public var serverConnectMicrosecondsPerConnection: Double?
    public var serverPublishMicrosecondsPerDelivery: Double?
    public var serverWriteCallsPerDelivery: Double?
    /// The reconnect storm, when one was run (`--reconnect-storm`).
    public var storm: Storm?

    public struct Storm: Codable, Sendable {
        public var missedEvents: Int
        public var reconnected: Int
        public var failed: Int
        public var reconnectSeconds: Double
        /// From the first reconnect until every reader had every missed event.
        public var caughtUpSeconds: Double
        public var lost: Int
        public var repeated: Int

        public init(missedEvents: Int, results: [SubscriberPool.StormResult]) {
            self.missedEvents = missedEvents
            reconnected = results.reduce(0) { $0 + $1.reconnected }
            failed = results.reduce(0) { $0 + $1.failed }
            reconnectSeconds = (results.map(\.reconnectMilliseconds).max() ?? 0) / 1000
            caughtUpSeconds = (results.map(\.caughtUpMilliseconds).max() ?? 0) / 1000
            repeated = results.reduce(0) { $0 + $1.repeated }
            let received = results.reduce(0) { $0 + $1.received }
            lost = max(0, (reconnected + failed) * missedEvents - (received - repeated))
        }
    }

    public init(
        target: BenchTarget, events: Int, results: [SubscriberPool.Result], firstSend: UInt64,
        server samples: (before: ServerSample?, connected: ServerSample?, after: ServerSample?)
    ) {
        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        for result in results { histogram.add(result.latencies) }
        transport = target.transport.rawValue
        connections = results.reduce(0) { $0 + $1.connected }
        failedConnections = results.reduce(0) { $0 + $1.failed }
        connectSeconds = (results.map(\.connectMilliseconds).max() ?? 0) / 1000
        self.events = events
        expectedDeliveries = connections * events
        deliveries = results.reduce(0) { $0 + $1.received }
        repeated = results.reduce(0) { $0 + $1.repeated }
        lost = max(0, expectedDeliveries - (deliveries - repeated))
        let lastReceive = results.map(\.lastReceive).max() ?? 0
        let window = Double(lastReceive > firstSend ? lastReceive - firstSend : 1) / 1e9
        deliveriesPerSecond = Double(deliveries) / window
        p50Milliseconds = Double(histogram.valueAtPercentile(50)) / 1000
        p99Milliseconds = Double(histogram.valueAtPercentile(99)) / 1000
        maxMilliseconds = Double(histogram.max) / 1000
        let cost = ServerCost(
            before: samples.before, connected: samples.connected, after: samples.after,
            connections: connections, deliveries: deliveries)
        serverKilobytesPerConnection = cost?.kilobytesPerConnection
        serverConnectMicrosecondsPerConnection = cost?.connectMicrosecondsPerConnection
        serverPublishMicrosecondsPerDelivery = cost?.publishMicrosecondsPerDelivery
        serverWriteCallsPerDelivery = cost?.writeCallsPerDelivery
    }

    public var text: String {
        var lines = [
            "transport          \(transport)",
            "connections        \(connections) (\(failedConnections) failed), all open in \(format(connectSeconds)) s",
            "events             \(events) published, \(deliveries) of \(expectedDeliveries) deliveries, \(lost) lost, \(repeated) repeated",
            "deliveries/s       \(Int(deliveriesPerSecond))",
            "latency p50        \(format(p50Milliseconds)) ms",
            "latency p99        \(format(p99Milliseconds)) ms",
            "latency max        \(format(maxMilliseconds)) ms",
        ]
        if let kb = serverKilobytesPerConnection { lines.append("server memory      \(format(kb)) KB per connection") }
        if let connect = serverConnectMicrosecondsPerConnection, let publish = serverPublishMicrosecondsPerDelivery,
            let writes = serverWriteCallsPerDelivery
        {
            lines.append("server CPU         \(format(connect)) µs per connect, \(format(publish)) µs per delivery")
            lines.append("server writes      \(format(writes)) write calls per delivery")
        }
        if let storm {
            lines.append(
                "reconnect storm    \(storm.reconnected) reconnected (\(storm.failed) failed) in \(format(storm.reconnectSeconds)) s, "
                    + "all \(storm.missedEvents) missed events in \(format(storm.caughtUpSeconds)) s, \(storm.lost) lost, \(storm.repeated) repeated")
        }
        return lines.joined(separator: "\n")
    }

    private func format(_ value: Double) -> String { String(format: "%.2f", value) }
}
