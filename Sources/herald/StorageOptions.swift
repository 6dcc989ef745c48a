import ArgumentParser
import Foundation
import HeraldCore
import HeraldPostgres
import Logging

/// Where Herald keeps its data: a PostgreSQL database (`--database`, or `HERALD_DATABASE_URL`),
/// which every node of a cluster shares, or else SQLite in `--data-dir` (`HERALD_DATA_DIR`,
/// `./herald-data`), the embedded default.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Directory of the SQLite database (env: HERALD_DATA_DIR).")
    var dataDirectory: String?
    @Option(help: "A PostgreSQL database to use instead of SQLite, postgres://user:password@host:5432/db (env: HERALD_DATABASE_URL).")
    var database: String?

    func apply(to configuration: inout HeraldConfiguration) {
        if let dataDirectory { configuration.dataDirectory = dataDirectory }
        if let database { configuration.databaseURL = database }
    }

    /// Opens the store, with its schema up to date, for as long as `body` runs. PostgreSQL's
    /// connection pool runs beside `body` and stops with it.
    func withStore<T: Sendable>(
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
