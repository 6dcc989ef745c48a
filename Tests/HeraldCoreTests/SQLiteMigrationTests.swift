import Foundation
import GRDB
import Testing

@testable import HeraldCore

func temporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("herald-store-\(UUID().uuidString)").path
}

@Suite struct MigrationTests {
    /// The path of a database migrated up to `migration` only, holding what `sql` inserts: what an
    /// older Herald left behind.
    private func oldDatabase(upTo migration: String, holding sql: String) async throws -> String {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/herald.sqlite"
        let old = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(old, upTo: migration)
        try await old.write { db in try db.execute(sql: sql) }
        try old.close()
        return path
    }

    @Test func aDatabaseFromBeforeTheUnreadColumnIsBackfilledExactly() async throws {
        // The database as the v2 schema left it, with messages read and unread.
        let path = try await oldDatabase(upTo: "v2: channels, members, server API keys", holding: """
            INSERT INTO user (id, username, password_hash, created_at, last_message_read_time)
                VALUES (1, 'ada', 'h', 0, NULL), (2, 'bob', 'h', 0, 100);
            INSERT INTO message (sender_id, recipient_id, body, created_at)
                VALUES (1, 2, 'read', 50), (1, 2, 'unread', 150), (1, 2, 'unread too', 200), (2, 1, 'for ada', 10);
            """)

        let store = try SQLiteStore(path: path)
        #expect(try await store.appliedMigrations().contains("v3: unread count kept on the user"))
        #expect(try await store.unreadMessageCount(userID: 2) == 2)
        #expect(try await store.unreadMessageCount(userID: 1) == 1)
        let (_, notification) = try await store.sendMessage(from: 1, to: 2, body: "new", at: Date())
        #expect(notification.json == "3")
    }

    @Test func aDatabaseFromBeforeTheEventCountCountsWhatEachStreamKeptAndItsRetentionGoesOn() async throws {
        let path = try await oldDatabase(upTo: "v3: unread count kept on the user", holding: """
            INSERT INTO stream (name, last_seq) VALUES ('channel:a', 4), ('channel:b', 1);
            INSERT INTO notification (stream, seq, name, mode, data, timestamp) VALUES
                ('channel:a', 1, 'e', 'append', '1', 0), ('channel:a', 2, 's', 'replace', '2', 0),
                ('channel:a', 3, 'e', 'append', '3', 0), ('channel:a', 4, 'e', 'append', '4', 0),
                ('channel:b', 1, 's', 'replace', '1', 0);
            """)

        let store = try SQLiteStore(path: path, retention: Retention(maxCount: 3, maxAge: 1e9))
        #expect(try await store.appliedMigrations().contains("v4: events indexed for the retention"))
        _ = try await store.addNotification(to: .channel("a"), name: "e", json: "5", mode: .append, at: Date(timeIntervalSince1970: 1))
        let replay = try await store.replay(.channel("a"), after: 0)
        #expect(replay.notifications.map(\.json) == ["2", "3", "4", "5"])
        #expect(replay.evictedThrough == 1)
    }

    /// The retention reads only what it drops: each of its lookups goes through an index on the
    /// stream (a plan that scanned the stream's events would read all it keeps, on every event).
    @Test func theRetentionsLookupsSearchAnIndexOfTheStream() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let plans = try await store.pool.read { db in
            try [SQLiteStore.agedEventsSQL].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: ["s", 0]).map { $0["detail"] as String }
            }
        }
        #expect(plans == [["SEARCH notification USING INDEX notification_event_age (stream=? AND timestamp<?)"]])
    }

    /// A state finds what it replaces through an index of names, not by reading the stream's events.
    @Test func aStateFindsWhatItReplacesByName() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let plan = try await store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteStore.replacedSQL, arguments: ["s", "n"])
                .map { $0["detail"] as String }
        }
        #expect(plan == ["SEARCH notification USING COVERING INDEX notification_by_name (stream=? AND name=?)"])
    }
}
