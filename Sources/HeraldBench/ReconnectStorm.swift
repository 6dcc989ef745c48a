import Foundation
import NIOCore

/// Every subscriber drops at once, events are published while they are away, and every one comes
/// back at once with its cursor (SSE's `Last-Event-ID`): how long until all have caught up, and
/// whether any event was lost or came twice.
extension SubscriberPool {
    /// What one process reports of its storm.
    public struct StormResult: Codable, Sendable {
        public var reconnected: Int
        public var failed: Int
        public var reconnectMilliseconds: Double
        /// From the first reconnect to the last missed event received, in this process.
        public var caughtUpMilliseconds: Double
        public var received: Int
        public var repeated: Int
    }

    /// Closes every connection and answers each one's cursor, in order.
    public func drop(_ connections: Connections) async throws -> [String?] {
        var cursors: [String?] = []
        for (channel, handler) in connections.handlers {
            cursors.append(try await channel.eventLoop.submit { handler.lastEventID }.get())
            channel.close(promise: nil)
        }
        return cursors
    }

    /// Reconnects one connection per cursor, all at once, and waits until each has received the
    /// `missed` events published while it was away (or nothing came for `quiet`).
    public func reconnect(_ cursors: [String?], missed: Int, quiet: Duration = .seconds(5)) async throws -> StormResult {
        let started = wallNanoseconds()
        let opened = try await connect(count: cursors.count, concurrency: 4096, lastEventIDs: cursors)
        let result = try await collect(opened, expected: missed, quiet: quiet)
        return StormResult(
            reconnected: opened.count, failed: opened.failed, reconnectMilliseconds: opened.milliseconds,
            caughtUpMilliseconds: result.lastReceive > started ? Double(result.lastReceive - started) / 1e6 : 0,
            received: result.received, repeated: result.repeated)
    }
}
