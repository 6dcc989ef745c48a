import ArgumentParser
import Foundation
import HeraldCore
import HeraldPostgres
import Logging

/// Opens the store a configuration names: a PostgreSQL database (`database.url`), which every
/// node of a cluster shares, or else SQLite in `data-dir`, the embedded default.
enum StoreOpening {
    /// Opens the store, with its schema up to date, for as long as `body` runs. PostgreSQL's
    /// connection pool runs beside `body` and stops with it.
    static func withStore<T: Sendable>(
        _ configuration: HeraldConfiguration, logger: Logger = Logger(label: "herald"),
        _ body: @Sendable (any HeraldStore) async throws -> T
    ) async throws -> T {
        guard let url = configuration.databaseURL else {
            return try await body(try SQLiteStore(directory: configuration.dataDirectory, retention: configuration.retention))
        }
        let postgres: PostgresURL
        do {
            postgres = try PostgresURL(url)
        } catch {
            throw ValidationError("--database: \(error)")
        }
        let store = PostgresStore(url: postgres, retention: configuration.retention, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await store.run()
                return nil
            }
            defer { group.cancelAll() }
            do {
                let applied = try await store.migrate()
                if !applied.isEmpty { logger.info("database \(postgres): applied \(applied)") }
            } catch StoreError.unavailable {
                throw ValidationError("The database \(postgres) cannot be reached.")
            }
            return try await body(store)
        }
    }
}
