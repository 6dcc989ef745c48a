import HeraldCore
import Logging
import PostgresNIO

/// The cluster bus over PostgreSQL, for deployments with no Redis: `NOTIFY herald_bus` through
/// the pool, `LISTEN herald_bus` on a connection of each node's own. NOTIFY carries at most 8,000
/// bytes, so larger messages go as references that receivers read from the store.
public struct PostgresBusTransport: BusTransport {
    public static let channel = "herald_bus"

    let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    /// NOTIFY's limit, less room for the statement around it.
    public var maxMessageBytes: Int { 7_900 }

    public func send(_ message: String) async throws {
        try await store.execute("SELECT pg_notify(\(Self.channel), \(message))")
    }
}

extension PostgresStore {
    /// Listens on `channel` until the task is cancelled, listening again after every failure:
    /// `onMessage` gets each payload, `onStateChange` each change of whether it listens.
    public func listen(
        on channel: String, interval: Duration = .milliseconds(500),
        onMessage: @escaping @Sendable (String) async -> Void,
        onStateChange: @escaping @Sendable (Bool) async -> Void
    ) async {
        while !Task.isCancelled {
            do {
                try await onConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        await onStateChange(true)
                        self.logger.info("listening on PostgreSQL channel \(channel)")
                        for try await notification in notifications {
                            await onMessage(notification.payload)
                        }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("PostgreSQL bus: \(error); listening again")
            }
            await onStateChange(false)
            try? await Task.sleep(for: interval)
        }
        await onStateChange(false)
    }
}
