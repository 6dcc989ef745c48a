import Foundation
import HeraldCore
import Logging
import PostgresNIO

/// The store of multi-node mode: every node of a cluster reads and writes one PostgreSQL database
/// through a pool of connections, with exactly the guarantees of `HeraldStore`.
///
/// How those hold here:
/// - Every write is one transaction.
/// - A stream's writers queue on its row in `streams` (the seq is taken with an UPDATE, whose row
///   lock lasts until commit), so seqs are committed in order: a reader that sees seq n sees every
///   seq below it. Writers of several streams take the rows in name order, so two of them never
///   deadlock.
/// - Reads that must agree with each other (a replay and the stream's cursor) are one statement,
///   which PostgreSQL answers from one snapshot.
/// - While the database cannot be reached, every call fails with `StoreError.unavailable`: nothing
///   is half-written, and the pool reconnects by itself when the server is back.
///
/// The pool runs as long as `run()` does; start it (a `Service`) before the first call.
public final class PostgresStore: HeraldStore {
    let client: PostgresClient
    let retention: Retention
    let logger: Logger
    /// How long a call waits for a connection before it reports the database unavailable.
    let connectionWait: Duration

    public init(
        url: PostgresURL, retention: Retention = Retention(), connectionWait: Duration = .seconds(3),
        logger: Logger = Logger(label: "herald.postgres")
    ) {
        self.connectionWait = connectionWait
        var configuration = url.configuration
        configuration.options.maximumConnections = 16
        // The pool reports every failed connection attempt; the store says once per call that the
        // database is unavailable, which is the line an operator needs.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .error)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        self.retention = retention
        self.logger = logger
    }

    /// Runs the connection pool until the task is cancelled.
    public func run() async {
        await client.run()
    }

    /// Brings the schema up to date; returns the migrations this call applied. Safe to call from
    /// several nodes at once.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await transaction { try await PostgresSchema.migrate($0, logger: self.logger) }
    }

    /// The migrations applied so far, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await query("SELECT name FROM herald_migrations ORDER BY applied_at, name").map { try $0.decode(String.self) }
    }

    public func checkHealth() async throws {
        try await execute("SELECT 1")
    }

    // MARK: Users

    public func createUser(username: String, passwordHash: String) async throws -> User {
        let now = Date()
        let rows = try await query("""
            INSERT INTO users (username, password_hash, created_at) VALUES (\(username), \(passwordHash), \(now.timeIntervalSince1970))
            ON CONFLICT DO NOTHING RETURNING id
            """).map { try $0.decode(Int64.self) }
        guard let id = rows.first else { throw StoreError.usernameTaken }
        return User(id: id, username: username, createdAt: now, lastMessageReadTime: nil)
    }

    public func user(id: Int64) async throws -> User? {
        try await query("SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(id)").map { try $0.decode(UserRow.self) }
            .first.map(Self.user(from:))
    }

    public func user(named username: String) async throws -> User? {
        try await credentials(named: username)?.user
    }

    public func credentials(named username: String) async throws -> UserCredentials? {
        try await query("""
            SELECT \(unescaped: Self.userColumns), password_hash FROM users WHERE lower(username) = lower(\(username))
            """
        ).map { try $0.decode((Int64, String, Double, Double?, String).self) }.first.map { row in
            UserCredentials(user: Self.user(from: (row.0, row.1, row.2, row.3)), passwordHash: row.4)
        }
    }

    public func users(page: Int, perPage: Int) async throws -> (users: [User], total: Int) {
        let rows = try await query("""
            SELECT \(unescaped: Self.userColumns), COUNT(*) OVER () FROM users
            ORDER BY lower(username) COLLATE "C" LIMIT \(perPage) OFFSET \((page - 1) * perPage)
            """).map { try $0.decode((Int64, String, Double, Double?, Int).self) }
        let users = rows.map { Self.user(from: ($0.0, $0.1, $0.2, $0.3)) }
        // A page past the end has no rows to carry the total.
        var total = rows.first?.4 ?? 0
        if rows.isEmpty { total = try await query("SELECT COUNT(*) FROM users")[0].decode(Int.self) }
        return (users, total)
    }

    // MARK: Sessions and tokens

    public func createSession(userID: Int64, tokenDigest: String, expiresAt: Date) async throws {
        let now = Date().timeIntervalSince1970
        try await transaction { connection in
            // Expired sessions are swept here, where a write happens anyway.
            try await connection.rows("DELETE FROM sessions WHERE expires_at < \(now)", logger: self.logger)
            try await connection.rows("""
                INSERT INTO sessions (token_digest, user_id, expires_at) VALUES (\(tokenDigest), \(userID), \(expiresAt.timeIntervalSince1970))
                """, logger: self.logger)
        }
    }

    public func user(sessionDigest: String, now: Date) async throws -> User? {
        try await query("""
            SELECT \(unescaped: Self.userColumns("u")) FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_digest = \(sessionDigest) AND s.expires_at > \(now.timeIntervalSince1970)
            """
        ).map { try $0.decode(UserRow.self) }.first.map(Self.user(from:))
    }

    public func deleteSession(tokenDigest: String) async throws {
        _ = try await execute("DELETE FROM sessions WHERE token_digest = \(tokenDigest)")
    }

    public func createAccessToken(userID: Int64, tokenDigest: String, label: String) async throws {
        let now = Date().timeIntervalSince1970
        _ = try await execute("""
            INSERT INTO access_tokens (token_digest, user_id, label, created_at) VALUES (\(tokenDigest), \(userID), \(label), \(now))
            """)
    }

    public func user(accessTokenDigest: String) async throws -> User? {
        try await query("""
            SELECT \(unescaped: Self.userColumns("u")) FROM access_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_digest = \(accessTokenDigest)
            """
        ).map { try $0.decode(UserRow.self) }.first.map(Self.user(from:))
    }

    // MARK: Row mapping

    typealias UserRow = (Int64, String, Double, Double?)

    private static let userColumnNames = ["id", "username", "created_at", "last_message_read_time"]
    static let userColumns = userColumnNames.joined(separator: ", ")

    static func userColumns(_ table: String) -> String {
        userColumnNames.map { "\(table).\($0)" }.joined(separator: ", ")
    }

    static func user(from row: UserRow) -> User {
        User(
            id: row.0, username: row.1, createdAt: Date(timeIntervalSince1970: row.2),
            lastMessageReadTime: row.3.map(Date.init(timeIntervalSince1970:)))
    }
}

extension PostgresStore {
    /// Competes for the advisory lock `key`, which at most one node of the cluster holds: holds it
    /// on a connection of its own for as long as that connection lives, telling `onChange`, and
    /// tries again every `interval` while another node has it or the database is away. Runs until
    /// the task is cancelled, then lets go of the lock.
    public func campaign(for key: Int64, interval: Duration = .milliseconds(500), onChange: @escaping @Sendable (Bool) -> Void) async {
        while !Task.isCancelled {
            do {
                try await onConnection { connection in
                    let won = try await connection.rows("SELECT pg_try_advisory_lock(\(key))", logger: self.logger)[0].decode(Bool.self)
                    guard won else { return }
                    onChange(true)
                    self.logger.info("this node now leads (advisory lock \(key))")
                    defer { onChange(false) }
                    // The lock lasts as long as the session: a live connection means it is held.
                    // Cancelled (the node stops), it lets go at once, so another node leads.
                    do {
                        while true {
                            try await Task.sleep(for: interval)
                            try await connection.rows("SELECT 1", logger: self.logger)
                        }
                    } catch is CancellationError {
                        onChange(false)
                    }
                    // Back in the pool, the connection must not keep the lock.
                    _ = try? await connection.rows("SELECT pg_advisory_unlock(\(key))", logger: self.logger)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("no longer competing for leadership until the database answers: \(error)")
            }
            try? await Task.sleep(for: interval)
        }
    }
}
