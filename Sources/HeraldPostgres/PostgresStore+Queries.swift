import HeraldCore
import PostgresNIO
import Synchronization

/// How the store talks to the pool: every call maps the database being out of reach to
/// `StoreError.unavailable`, and a transaction's own errors back to what its closure threw.
extension PostgresStore {
    /// Runs one statement and collects its rows.
    func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await onConnection { connection in try await connection.rows(query, logger: self.logger) }
    }

    /// Runs one statement for its effect.
    func execute(_ query: PostgresQuery) async throws {
        try await onConnection { connection in _ = try await connection.rows(query, logger: self.logger) }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await onConnection { connection in
            do {
                return try await connection.withTransaction(logger: self.logger) { try await body($0) }
            } catch let error as PostgresTransactionError {
                throw error.closureError ?? error.beginError ?? error.commitError ?? error
            }
        }
    }

    /// Runs `body` on a pooled connection. While the server is down the pool keeps trying to
    /// connect and a request for a connection would wait for as long; it gives up after
    /// `connectionWait` instead. Only the wait is bounded: once a statement is on its way it is
    /// never cut off, so a slow commit is never reported as one that did not happen.
    func onConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let leased = LeaseFlag()
        return try await guarded {
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await self.client.withConnection { connection in
                        leased.value.store(true, ordering: .relaxed)
                        return try await body(connection)
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: self.connectionWait)
                    guard leased.value.load(ordering: .relaxed) else { throw StoreError.unavailable }
                    return nil
                }
                defer { group.cancelAll() }
                while let outcome = try await group.next() {
                    if let result = outcome { return result }
                }
                throw StoreError.unavailable
            }
        }
    }

    @discardableResult
    func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where Self.meansUnavailable(error) {
            logger.warning("database unavailable: \(String(reflecting: error.code))")
            throw StoreError.unavailable
        } catch StoreError.unavailable {
            logger.warning("database unavailable: no connection within \(connectionWait)")
            throw StoreError.unavailable
        }
    }

    /// Connection failures, and the server refusing work while it starts or stops (SQLSTATE
    /// classes 08 and 57): the request may succeed later. Everything else is a real error.
    static func meansUnavailable(_ error: PSQLError) -> Bool {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return true
        default:
            return false
        }
    }
}

/// Set once a call holds its connection, from the task that holds it.
private final class LeaseFlag: Sendable {
    let value = Atomic<Bool>(false)
}

extension PostgresConnection {
    /// Runs one statement and collects its rows; every statement of the store goes through here.
    ///
    /// A statement sent on a connection the server has closed would wait forever (postgres-nio
    /// 1.33 never completes it), so a closed connection is refused first.
    @discardableResult
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        guard !isClosed else { throw StoreError.unavailable }
        return try await self.query(query, logger: logger).collect()
    }
}
