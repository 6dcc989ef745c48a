import Foundation
import HeraldCore
import HeraldPostgres
import Logging
import PostgresNIO
import Testing

/// The backends the contract suite runs against. PostgreSQL comes from `HERALD_TEST_POSTGRES_URL`
/// (`scripts/test` starts a throwaway server and sets it); every test gets a database of its own.
/// `cached` is SQLite behind the `CachingStore` every server puts in front of its store: the same
/// contract holds through it.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, cached, postgres

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, migrated store; `reopen` opens a second store on the same data,
    /// which is what a restart (or another node) sees.
    func withStore<T: Sendable>(
        retention: Retention = Retention(),
        _ body: (_ store: any HeraldStore, _ reopen: @Sendable () async throws -> any HeraldStore) async throws -> T
    ) async throws -> T {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-store-\(UUID().uuidString)").path
            return try await body(try SQLiteStore(directory: directory, retention: retention)) {
                try SQLiteStore(directory: directory, retention: retention)
            }
        case .cached:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-store-\(UUID().uuidString)").path
            return try await body(CachingStore(try SQLiteStore(directory: directory, retention: retention))) {
                CachingStore(try SQLiteStore(directory: directory, retention: retention))
            }
        case .postgres:
            let url = try await TestDatabase.create()
            return try await PostgresPool.running { pools in
                let store = try await pools.open(url, retention: retention)
                return try await body(store) { try await pools.open(url, retention: retention) }
            }
        }
    }
}

/// Makes a database of its own for each test on the server `HERALD_TEST_POSTGRES_URL` names.
enum TestDatabase {
    static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["HERALD_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw TestSetupError(
                "HERALD_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL.")
        }
        return url
    }

    /// A new, empty database; its URL.
    static func create() async throws -> String {
        let server = try serverURL()
        let name = "herald_test_\(UUID().uuidString.prefix(8).lowercased())"
        let client = PostgresClient(configuration: try PostgresURL(server).configuration, backgroundLogger: Logger(label: "test"))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            group.cancelAll()
        }
        var components = URLComponents(string: server)!
        components.path = "/\(name)"
        return components.string!
    }
}

/// Keeps the pools of the stores a test opens running until the test ends.
final class PostgresPool: Sendable {
    private let group: @Sendable (PostgresStore) -> Void

    private init(group: @escaping @Sendable (PostgresStore) -> Void) {
        self.group = group
    }

    static func running<T: Sendable>(_ body: (PostgresPool) async throws -> T) async throws -> T {
        let (stores, add) = AsyncStream.makeStream(of: PostgresStore.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await withDiscardingTaskGroup { pools in
                    for await store in stores { pools.addTask { await store.run() } }
                }
            }
            defer { group.cancelAll() }
            return try await body(PostgresPool { add.yield($0) })
        }
    }

    /// A migrated store on `url`, its pool running.
    func open(_ url: String, retention: Retention) async throws -> PostgresStore {
        let store = try await adopt(PostgresStore(url: try PostgresURL(url), retention: retention))
        try await store.migrate()
        return store
    }

    /// Runs the store's pool until the test ends.
    func adopt(_ store: PostgresStore) async throws -> PostgresStore {
        group(store)
        return store
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
