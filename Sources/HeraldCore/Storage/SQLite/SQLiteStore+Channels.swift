import Foundation
import GRDB

extension SQLiteStore {
    public func ensureChannel(named name: String, visibility: Channel.Visibility, at now: Date) async throws -> Channel {
        try await writes.write { db in
            try db.cachedStatement(sql: "INSERT INTO channel (name, visibility, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING").execute(arguments: [name, visibility.rawValue, now.timeIntervalSince1970])
            guard let channel = try Self.channel(db, named: name) else { throw StoreError.unknownChannel }
            return channel
        }
    }

    public func channel(named name: String) async throws -> Channel? {
        try readSingleStatement { db in try Self.channel(db, named: name) }
    }

    public func channels(limit: Int) async throws -> [Channel] {
        try read { db in
            try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT name, visibility, created_at FROM channel ORDER BY name LIMIT ?"), arguments: [limit]
            ).map(Self.channel(from:))
        }
    }

    public func addMembers(_ userIDs: [Int64], to channel: String) async throws {
        try await writes.write { db in
            for id in userIDs {
                try db.cachedStatement(sql: "INSERT INTO channel_member (channel, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING").execute(arguments: [channel, id])
            }
        }
    }

    public func isMember(userID: Int64, of channel: String) async throws -> Bool {
        try readSingleStatement { db in
            try Bool.fetchOne(
                try db.cachedStatement(sql: "SELECT 1 FROM channel_member WHERE channel = ? AND user_id = ?"), arguments: [channel, userID])
                ?? false
        }
    }

    public func createAPIKey(digest: String, label: String) async throws {
        let now = Date().timeIntervalSince1970
        try await writes.write { db in
            try db.cachedStatement(sql: "INSERT INTO api_key (key_digest, label, created_at) VALUES (?, ?, ?)").execute(arguments: [digest, label, now])
        }
    }

    public func hasAPIKey(digest: String) async throws -> Bool {
        try readSingleStatement { db in
            try Bool.fetchOne(
                try db.cachedStatement(sql: "SELECT 1 FROM api_key WHERE key_digest = ?"), arguments: [digest]) ?? false
        }
    }

    static func channel(_ db: Database, named name: String) throws -> Channel? {
        try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT name, visibility, created_at FROM channel WHERE name = ?"), arguments: [name])
            .map(channel(from:))
    }

    static func channel(from row: Row) -> Channel {
        Channel(
            name: row["name"], visibility: Channel.Visibility(rawValue: row["visibility"]) ?? .members,
            createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }
}
