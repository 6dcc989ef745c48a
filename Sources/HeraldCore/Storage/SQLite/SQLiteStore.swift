import Foundation
import GRDB

/// The embedded store: one SQLite file in WAL mode, so readers never wait for the writer.
public final class SQLiteStore: HeraldStore {
    let pool: DatabasePool
    /// Every write goes through it: concurrent writes share a transaction.
    let writes: GroupCommit
    let checkpointer: WALCheckpointer
    let retention: Retention

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String, retention: Retention = Retention()) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Checkpoints are the checkpointer's, off the write path.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        writes = GroupCommit(pool: pool)
        self.retention = retention
        try SQLiteSchema.migrator.migrate(pool)
        checkpointer = try WALCheckpointer(path: path)
    }

    /// Opens `herald.sqlite` inside `directory`, creating the directory if needed.
    public convenience init(directory: String, retention: Retention = Retention()) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try self.init(path: (directory as NSString).appendingPathComponent("herald.sqlite"), retention: retention)
    }

    /// Runs a read on the calling thread. A read takes tens of microseconds and readers never wait
    /// for the writer (WAL), so this costs less than the two thread hops of GRDB's async `read`,
    /// which dominated the polling API's profile. Writes never wait on the calling thread: one
    /// that finds the writer idle runs there, the others queue for it (`GroupCommit`). The calling
    /// thread may be an event loop's (publishes and messages with small bodies are answered there):
    /// what runs here must stay short.
    func read<T>(_ block: (Database) throws -> T) throws -> T {
        try pool.read(block)
    }

    /// A read made of one SELECT, which SQLite already runs as its own consistent snapshot:
    /// skipping GRDB's BEGIN/COMMIT around it saves two statements on the hottest lookups.
    func readSingleStatement<T>(_ block: (Database) throws -> T) throws -> T {
        try pool.unsafeRead(block)
    }

    /// The migrations applied so far, for tests and diagnostics.
    public func appliedMigrations() async throws -> [String] {
        try read { db in try SQLiteSchema.migrator.appliedMigrations(db) }
    }

    public func checkHealth() async throws {
        _ = try readSingleStatement { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Users

    public func createUser(username: String, passwordHash: String) async throws -> User {
        let now = Date()
        return try await writes.write { db in
            if try Bool.fetchOne(
                try db.cachedStatement(sql: "SELECT 1 FROM user WHERE username = ?"), arguments: [username]) == true {
                throw StoreError.usernameTaken
            }
            try db.cachedStatement(sql: "INSERT INTO user (username, password_hash, created_at) VALUES (?, ?, ?)").execute(arguments: [username, passwordHash, now.timeIntervalSince1970])
            return User(id: db.lastInsertedRowID, username: username, createdAt: now, lastMessageReadTime: nil)
        }
    }

    public func user(id: Int64) async throws -> User? {
        try readSingleStatement { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM user WHERE id = ?"), arguments: [id])
                .map(Self.user(from:))
        }
    }

    public func user(named username: String) async throws -> User? {
        try await credentials(named: username)?.user
    }

    public func credentials(named username: String) async throws -> UserCredentials? {
        try readSingleStatement { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(Self.userColumns), password_hash FROM user WHERE username = ?"),
                arguments: [username]
            ).map { UserCredentials(user: Self.user(from: $0), passwordHash: $0["password_hash"]) }
        }
    }

    public func users(page: Int, perPage: Int) async throws -> (users: [User], total: Int) {
        try read { db in
            let total = try Int.fetchOne(
                try db.cachedStatement(sql: "SELECT COUNT(*) FROM user")) ?? 0
            let rows = try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM user ORDER BY username LIMIT ? OFFSET ?"),
                arguments: [perPage, (page - 1) * perPage])
            return (rows.map(Self.user(from:)), total)
        }
    }

    // MARK: Sessions and tokens

    public func createSession(userID: Int64, tokenDigest: String, expiresAt: Date) async throws {
        let now = Date().timeIntervalSince1970
        try await writes.write { db in
            // Expired sessions are swept here, where a write happens anyway.
            try db.cachedStatement(sql: "DELETE FROM session WHERE expires_at < ?").execute(arguments: [now])
            try db.cachedStatement(sql: "INSERT INTO session (token_digest, user_id, expires_at) VALUES (?, ?, ?)").execute(arguments: [tokenDigest, userID, expiresAt.timeIntervalSince1970])
        }
    }

    public func user(sessionDigest: String, now: Date) async throws -> User? {
        try readSingleStatement { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: """
                    SELECT \(Self.userColumns("u")) FROM session s JOIN user u ON u.id = s.user_id
                    WHERE s.token_digest = ? AND s.expires_at > ?
                    """),
                arguments: [sessionDigest, now.timeIntervalSince1970]
            ).map(Self.user(from:))
        }
    }

    public func deleteSession(tokenDigest: String) async throws {
        try await writes.write { db in
            try db.cachedStatement(sql: "DELETE FROM session WHERE token_digest = ?").execute(arguments: [tokenDigest])
        }
    }

    public func createAccessToken(userID: Int64, tokenDigest: String, label: String) async throws {
        let now = Date().timeIntervalSince1970
        try await writes.write { db in
            try db.cachedStatement(sql: "INSERT INTO access_token (token_digest, user_id, label, created_at) VALUES (?, ?, ?, ?)").execute(arguments: [tokenDigest, userID, label, now])
        }
    }

    public func user(accessTokenDigest: String) async throws -> User? {
        try readSingleStatement { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: """
                    SELECT \(Self.userColumns("u")) FROM access_token t JOIN user u ON u.id = t.user_id
                    WHERE t.token_digest = ?
                    """),
                arguments: [accessTokenDigest]
            ).map(Self.user(from:))
        }
    }

    // MARK: Row mapping

    private static let userColumnNames = ["id", "username", "created_at", "last_message_read_time"]
    static let userColumns = userColumnNames.joined(separator: ", ")

    /// The user columns qualified by a table alias, for joins.
    static func userColumns(_ table: String) -> String {
        userColumnNames.map { "\(table).\($0)" }.joined(separator: ", ")
    }

    static func user(from row: Row) -> User {
        User(
            id: row["id"],
            username: row["username"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            lastMessageReadTime: (row["last_message_read_time"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}
