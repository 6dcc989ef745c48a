import Foundation
import HeraldCore
import PostgresNIO

extension PostgresStore {
    public func ensureChannel(named name: String, visibility: HeraldCore.Channel.Visibility, at now: Date) async throws -> HeraldCore.Channel {
        try await execute("""
            INSERT INTO channels (name, visibility, created_at) VALUES (\(name), \(visibility.rawValue), \(now.timeIntervalSince1970))
            ON CONFLICT (name) DO NOTHING
            """)
        guard let channel = try await channel(named: name) else { throw StoreError.unknownChannel }
        return channel
    }

    public func channel(named name: String) async throws -> HeraldCore.Channel? {
        try await query("SELECT name, visibility, created_at FROM channels WHERE name = \(name)")
            .first.map { try Self.channel(from: $0) }
    }

    public func channels(limit: Int) async throws -> [HeraldCore.Channel] {
        try await query("SELECT name, visibility, created_at FROM channels ORDER BY name LIMIT \(limit)")
            .map { try Self.channel(from: $0) }
    }

    public func addMembers(_ userIDs: [Int64], to channel: String) async throws {
        try await execute("""
            INSERT INTO channel_members (channel, user_id) SELECT \(channel), unnest(\(userIDs)::BIGINT[])
            ON CONFLICT DO NOTHING
            """)
    }

    public func isMember(userID: Int64, of channel: String) async throws -> Bool {
        try await !query("SELECT 1 FROM channel_members WHERE channel = \(channel) AND user_id = \(userID)").isEmpty
    }

    public func createAPIKey(digest: String, label: String) async throws {
        try await execute("""
            INSERT INTO api_keys (key_digest, label, created_at) VALUES (\(digest), \(label), \(Date().timeIntervalSince1970))
            """)
    }

    public func hasAPIKey(digest: String) async throws -> Bool {
        try await !query("SELECT 1 FROM api_keys WHERE key_digest = \(digest)").isEmpty
    }

    static func channel(from row: PostgresRow) throws -> HeraldCore.Channel {
        let (name, visibility, createdAt) = try row.decode((String, String, Double).self)
        return HeraldCore.Channel(
            name: name, visibility: HeraldCore.Channel.Visibility(rawValue: visibility) ?? .members,
            createdAt: Date(timeIntervalSince1970: createdAt))
    }
}
