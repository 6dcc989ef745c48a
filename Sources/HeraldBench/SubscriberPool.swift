import Foundation
import Histogram
import NIOCore
import NIOPosix

/// N subscriber connections in this process: opened with bounded concurrency, then watched
/// until every one has seen the expected number of deliveries or the stream goes quiet.
public final class SubscriberPool: Sendable {
    /// What one process reports to the coordinator.
    public struct Result: Codable, Sendable {
        public var connected: Int
        public var failed: Int
        public var connectMilliseconds: Double
        public var received: Int
        public var firstReceive: UInt64
        public var lastReceive: UInt64
        public var latencies: Histogram<UInt64>
        /// Deliveries that came again or out of order.
        public var repeated: Int
    }

    /// The open connections of this process.
    public struct Connections: @unchecked Sendable {
        let handlers: [(any Channel, SubscriberHandler)]
        public let failed: Int
        public let milliseconds: Double
        public var count: Int { handlers.count }
    }

    let target: BenchTarget
    let group = MultiThreadedEventLoopGroup.singleton

    public init(target: BenchTarget) {
        self.target = target
    }

    /// Opens `count` connections, at most `concurrency` handshakes at a time; SSE connections
    /// resume from `lastEventIDs` (one per connection, sent as `Last-Event-ID`) when given.
    public func connect(count: Int, concurrency: Int = 256, lastEventIDs: [String?]? = nil) async throws -> Connections {
        let endpoint = try Endpoint(target.subscribeURL)
        let request = ByteBuffer(string: requestText(endpoint))
        let requestFor: @Sendable (Int) -> ByteBuffer = { [self] index in
            guard let id = lastEventIDs?[index] else { return request }
            return ByteBuffer(string: requestText(endpoint, extraHeader: "Last-Event-ID: \(id)"))
        }
        let afterUpgrade: ByteBuffer? =
            target.transport == .sse || target.webSocketMessages.isEmpty
            ? nil
            : target.webSocketMessages.reduce(into: ByteBuffer()) { frames, text in
                var frame = Self.maskedTextFrame(text)
                frames.writeBuffer(&frame)
            }
        let answersPings = target.transport == .socketio
        let started = ContinuousClock.now
        var opened: [(any Channel, SubscriberHandler)] = []
        var failed = 0
        try await withThrowingTaskGroup(of: (any Channel, SubscriberHandler)?.self) { tasks in
            var launched = 0
            let readsEventIDs = target.transport == .sse
            func launch() {
                let index = launched
                launched += 1
                tasks.addTask { [group] in
                    let loop = group.next()
                    let ready = loop.makePromise(of: Void.self)
                    let handler = SubscriberHandler(
                        request: requestFor(index), afterUpgrade: afterUpgrade, answersEnginePings: answersPings,
                        readsEventIDs: readsEventIDs, ready: ready)
                    do {
                        let channel = try await ClientBootstrap(group: loop)
                            .channelOption(.socketOption(.tcp_nodelay), value: 1)
                            .channelInitializer { channel in
                                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                            }
                            .connect(host: endpoint.host, port: endpoint.port).get()
                        try await ready.futureResult.get()
                        return (channel, handler)
                    } catch {
                        ready.fail(error)
                        return nil
                    }
                }
            }
            while launched < min(count, concurrency) { launch() }
            for try await result in tasks {
                if let result { opened.append(result) } else { failed += 1 }
                if launched < count { launch() }
            }
        }
        let elapsed = ContinuousClock.now - started
        return Connections(
            handlers: opened, failed: failed,
            milliseconds: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
    }

    /// Opens one connection, lets it settle, and closes it. What a server sets up once, on its
    /// first subscriber (code paged in, a new thread's first allocations: about half a megabyte
    /// for Herald), is then not counted as every connection's memory.
    public func warmUp() async throws {
        let connections = try await connect(count: 1)
        try await Task.sleep(for: .milliseconds(300))
        for (channel, _) in connections.handlers { try? await channel.close() }
        try await Task.sleep(for: .milliseconds(300))
    }

    /// Waits until each connection has `expected` deliveries, or nothing new arrived for `quiet`.
    /// The connections stay open (they close when the worker exits, or with `drop`).
    public func collect(_ connections: Connections, expected: Int, quiet: Duration = .seconds(5)) async throws -> Result {
        let handlers = connections.handlers
        var lastTotal = -1
        var lastChange = ContinuousClock.now
        while true {
            let total = try await receivedCount(handlers)
            if total >= expected * handlers.count { break }
            if total != lastTotal {
                lastTotal = total
                lastChange = .now
            } else if ContinuousClock.now - lastChange > quiet {
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var first = UInt64.max, last: UInt64 = 0, received = 0, repeated = 0
        for (channel, handler) in handlers {
            let (values, firstAt, lastAt, again) = try await channel.eventLoop.submit {
                (handler.latencies, handler.firstReceive, handler.lastReceive, handler.repeated)
            }.get()
            // More than expected is also a delivery that came twice (a server that replayed what
            // a reconnecting reader already had).
            repeated += max(again, values.count - expected)
            for value in values { _ = histogram.record(min(value, 120_000_000)) }
            received += values.count
            if !values.isEmpty {
                first = min(first, firstAt)
                last = max(last, lastAt)
            }
        }
        return Result(
            connected: handlers.count, failed: connections.failed, connectMilliseconds: connections.milliseconds,
            received: received,
            firstReceive: first == .max ? 0 : first, lastReceive: last, latencies: histogram, repeated: repeated)
    }

    private func receivedCount(_ handlers: [(any Channel, SubscriberHandler)]) async throws -> Int {
        var byLoop: [ObjectIdentifier: (any EventLoop, [SubscriberHandler])] = [:]
        for (channel, handler) in handlers {
            byLoop[ObjectIdentifier(channel.eventLoop), default: (channel.eventLoop, [])].1.append(handler)
        }
        var total = 0
        for (loop, batch) in byLoop.values {
            total += try await loop.submit { batch.reduce(0) { $0 + $1.latencies.count } }.get()
        }
        return total
    }

    private func requestText(_ endpoint: Endpoint, extraHeader: String? = nil) -> String {
        var text = "GET \(endpoint.target) HTTP/1.1\r\nHost: \(endpoint.host):\(endpoint.port)\r\n"
        switch target.transport {
        case .sse:
            text += "Accept: text/event-stream\r\n"
        case .ws, .socketio:
            text += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            text += "Sec-WebSocket-Key: \(Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())\r\n"
        }
        for header in target.subscribeHeaders + [extraHeader].compactMap({ $0 }) { text += header + "\r\n" }
        return text + "\r\n"
    }

    /// A client-to-server text frame, masked as RFC 6455 requires.
    static func maskedTextFrame(_ text: String) -> ByteBuffer {
        let payload = Array(text.utf8)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(0x81))
        if payload.count < 126 {
            buffer.writeInteger(UInt8(0x80 | payload.count))
        } else {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(payload.count))
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        buffer.writeBytes(mask)
        buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return buffer
    }
}
