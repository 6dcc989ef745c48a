import Foundation
import GRDB
import Testing

@testable import HeraldCore

func temporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("herald-store-\(UUID().uuidString)").path
}

@Suite struct StoreTests {
    @Test func migratesAnEmptyDatabaseAndReopensAnExistingOneWithItsData() async throws {
        let directory = temporaryDirectory()
        let first = try SQLiteStore(directory: directory)
        let applied = try await first.appliedMigrations()
        #expect(!applied.isEmpty)
        let ada = try await first.createUser(username: "ada", passwordHash: "h")
        let bob = try await first.createUser(username: "bob", passwordHash: "h")
        _ = try await first.sendMessage(from: ada.id, to: bob.id, body: "kept", at: Date())

        // A second open is what a restart does: no migration runs twice, nothing is lost.
        let reopened = try SQLiteStore(directory: directory)
        #expect(try await reopened.appliedMigrations() == applied)
        #expect(try await reopened.user(named: "ADA")?.id == ada.id)
        #expect(try await reopened.inbox(userID: bob.id, page: 1, perPage: 5).messages.map(\.body) == ["kept"])
        #expect(try await reopened.unreadMessageCount(userID: bob.id) == 1)
        #expect(try await reopened.lastSeq(of: bob.stream) == 1)
    }

    @Test func usernamesAreUniqueWithoutRegardToCase() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        _ = try await store.createUser(username: "Grace", passwordHash: "h")
        await #expect(throws: StoreError.usernameTaken) {
            try await store.createUser(username: "grace", passwordHash: "h")
        }
    }

    @Test func replaceKeepsOneStatePerNameAndAppendKeepsEveryEventInSeqOrder() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let stream = StreamName.user(1)
        let now = Date()
        let a = try await store.addNotification(to: stream, name: "count", json: "1", mode: .replace, at: now)
        let e1 = try await store.addNotification(to: stream, name: "ping", json: #"{"n":1}"#, mode: .append, at: now)
        let b = try await store.addNotification(to: stream, name: "count", json: "2", mode: .replace, at: now)
        let e2 = try await store.addNotification(to: stream, name: "ping", json: #"{"n":2}"#, mode: .append, at: now)
        #expect([a.seq, e1.seq, b.seq, e2.seq] == [1, 2, 3, 4])

        let all = try await store.notifications(in: stream, after: .beginning, limit: 100)
        #expect(all.map(\.seq) == [2, 3, 4])
        #expect(all.map(\.json) == [#"{"n":1}"#, "2", #"{"n":2}"#])
        #expect(try await store.notifications(in: stream, after: .seq(3), limit: 100).map(\.seq) == [4])
        #expect(try await store.notifications(in: stream, after: .beginning, limit: 2).map(\.seq) == [2, 3])
        // Streams are independent: their own cursors and contents.
        #expect(try await store.notifications(in: .user(2), after: .beginning, limit: 100).isEmpty)
        #expect(try await store.lastSeq(of: .user(2)) == 0)
    }

    @Test func retentionDropsTheOldestEventsButNeverStates() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory(), retention: Retention(maxCount: 3, maxAge: 60))
        let stream = StreamName.channel("lobby")
        let start = Date()
        _ = try await store.addNotification(to: stream, name: "state", json: "true", mode: .replace, at: start)
        for n in 1...5 {
            _ = try await store.addNotification(to: stream, name: "e", json: "\(n)", mode: .append, at: start)
        }
        #expect(try await store.notifications(in: stream, after: .beginning, limit: 100).map(\.json)
            == ["true", "3", "4", "5"])
        // Past the age limit, older events go as soon as the stream is written again.
        _ = try await store.addNotification(to: stream, name: "e", json: "6", mode: .append, at: start + 120)
        #expect(try await store.notifications(in: stream, after: .beginning, limit: 100).map(\.json) == ["true", "6"])
    }

    @Test func unreadCountFollowsMessagesAndTheLastVisit() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let ada = try await store.createUser(username: "ada", passwordHash: "h")
        let bob = try await store.createUser(username: "bob", passwordHash: "h")
        let t0 = Date()
        let (_, first) = try await store.sendMessage(from: ada.id, to: bob.id, body: "1", at: t0)
        #expect(first.name == NotificationName.unreadMessageCount && first.json == "1" && first.mode == .replace)
        let (_, second) = try await store.sendMessage(from: ada.id, to: bob.id, body: "2", at: t0)
        #expect(second.json == "2")
        #expect(try await store.unreadMessageCount(userID: ada.id) == 0)

        let read = try await store.markMessagesRead(userID: bob.id, at: t0 + 1)
        #expect(read.json == "0")
        #expect(try await store.unreadMessageCount(userID: bob.id) == 0)
        // A message stamped with a clock that has not moved past the visit still counts as unread.
        let (_, third) = try await store.sendMessage(from: ada.id, to: bob.id, body: "3", at: t0 + 1)
        #expect(third.json == "1")
        #expect(try await store.notifications(in: bob.stream, after: .beginning, limit: 10).map(\.json) == ["1"])
    }

    @Test func aMessageToAMissingUserWritesNothing() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let ada = try await store.createUser(username: "ada", passwordHash: "h")
        await #expect(throws: StoreError.unknownUser) {
            try await store.sendMessage(from: ada.id, to: 999, body: "lost", at: Date())
        }
        #expect(try await store.lastSeq(of: .user(999)) == 0)
    }

    @Test func inboxPagesNewestFirst() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let ada = try await store.createUser(username: "ada", passwordHash: "h")
        let bob = try await store.createUser(username: "bob", passwordHash: "h")
        let start = Date()
        for n in 1...5 {
            _ = try await store.sendMessage(from: ada.id, to: bob.id, body: "\(n)", at: start + Double(n))
        }
        let first = try await store.inbox(userID: bob.id, page: 1, perPage: 2)
        #expect(first.messages.map(\.body) == ["5", "4"])
        #expect(first.pageCount == 3 && !first.hasNewer && first.hasOlder)
        let last = try await store.inbox(userID: bob.id, page: 3, perPage: 2)
        #expect(last.messages.map(\.body) == ["1"])
        #expect(last.hasNewer && !last.hasOlder)
    }

    @Test func sessionsExpireAndTokensResolveToTheirUser() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let ada = try await store.createUser(username: "ada", passwordHash: "h")
        let now = Date()
        try await store.createSession(userID: ada.id, tokenDigest: "s1", expiresAt: now + 60)
        #expect(try await store.user(sessionDigest: "s1", now: now)?.id == ada.id)
        #expect(try await store.user(sessionDigest: "s1", now: now + 61) == nil)
        try await store.deleteSession(tokenDigest: "s1")
        #expect(try await store.user(sessionDigest: "s1", now: now) == nil)
        try await store.createAccessToken(userID: ada.id, tokenDigest: "t1", label: "ci")
        #expect(try await store.user(accessTokenDigest: "t1")?.username == "ada")
        #expect(try await store.user(accessTokenDigest: "t2") == nil)
    }

    @Test func concurrentWritersGetDistinctConsecutiveSeqs() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let stream = StreamName.user(7)
        let seqs = try await withThrowingTaskGroup(of: Int64.self) { group in
            for n in 0..<100 {
                group.addTask {
                    try await store.addNotification(to: stream, name: "e", json: "\(n)", mode: .append, at: Date()).seq
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(seqs.sorted() == Array(1...100))
    }
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
