import Foundation
import GRDB
import Testing

@testable import HeraldCore

func temporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("herald-store-\(UUID().uuidString)").path
}

@Suite struct MigrationTests {
    @Test func aDatabaseFromBeforeTheUnreadColumnIsBackfilledExactly() async throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/herald.sqlite"
        // Build the database as the v2 schema left it, with messages read and unread.
        let old = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(old, upTo: "v2: channels, members, server API keys")
        try await old.write { db in
            try db.execute(sql: """
                INSERT INTO user (id, username, password_hash, created_at, last_message_read_time)
                    VALUES (1, 'ada', 'h', 0, NULL), (2, 'bob', 'h', 0, 100);
                INSERT INTO message (sender_id, recipient_id, body, created_at)
                    VALUES (1, 2, 'read', 50), (1, 2, 'unread', 150), (1, 2, 'unread too', 200), (2, 1, 'for ada', 10);
                """)
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        #expect(try await store.appliedMigrations().last == "v3: unread count kept on the user")
        #expect(try await store.unreadMessageCount(userID: 2) == 2)
        #expect(try await store.unreadMessageCount(userID: 1) == 1)
        let (_, notification) = try await store.sendMessage(from: 1, to: 2, body: "new", at: Date())
        #expect(notification.json == "3")
    }
}
