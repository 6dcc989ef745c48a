import Foundation
import HeraldCore
import PostgresNIO

extension PostgresStore {
    public func addNotification(
        to streams: [StreamName], name: String, json: String, mode: StreamNotification.Mode, at now: Date
    ) async throws -> [StreamNotification] {
        try await transaction { connection in
            // In name order, so that two writers of overlapping streams queue instead of deadlocking;
            // a stream named twice is written twice, as SQLite does.
            let order = streams.indices.sorted { streams[$0].description < streams[$1].description }
            var written = [StreamNotification?](repeating: nil, count: streams.count)
            for index in order {
                written[index] = try await self.write(connection, to: streams[index], name: name, json: json, mode: mode, at: now)
            }
            return written.map { $0! }
        }
    }

    public func recentEvents(in stream: StreamName, limit: Int) async throws
        -> (events: [StreamNotification], lastSeq: Int64)
    {
        // One statement, so the events and the cursor come from the same snapshot.
        let rows = try await query("""
            SELECT COALESCE((SELECT last_seq FROM streams WHERE name = \(stream.description)), 0), n.id, n.name, n.data, n.timestamp, n.seq, n.mode
            FROM (SELECT 1) AS one LEFT JOIN LATERAL (
                SELECT * FROM notifications WHERE stream = \(stream.description) AND mode = 'append'
                ORDER BY seq DESC LIMIT \(limit)) AS n ON true
            ORDER BY n.seq DESC
            """)
        let lastSeq = try rows.first.map { try Array($0)[0].decode(Int64.self) } ?? 0
        return (try rows.compactMap { try Self.optionalNotification(from: $0) }, lastSeq)
    }

    public func replay(_ stream: StreamName, after seq: Int64) async throws -> StreamReplay {
        let rows = try await query("""
            SELECT s.last_seq, s.evicted_through, n.id, n.name, n.data, n.timestamp, n.seq, n.mode
            FROM (SELECT 1) AS one
            LEFT JOIN streams s ON s.name = \(stream.description)
            LEFT JOIN notifications n ON n.stream = \(stream.description) AND (n.seq > \(seq) OR n.mode = 'replace')
            ORDER BY n.seq
            """)
        let cursor = rows.first.map(Array.init)
        return StreamReplay(
            notifications: try rows.compactMap { try Self.optionalNotification(from: $0, skipping: 2) },
            evictedThrough: try cursor?[1].decode(Int64?.self) ?? 0, lastSeq: try cursor?[0].decode(Int64?.self) ?? 0)
    }

    public func notifications(in stream: StreamName, after cursor: Cursor, limit: Int) async throws -> [StreamNotification] {
        let condition: PostgresQuery = switch cursor {
        case .seq(let seq):
            "SELECT id, name, data, timestamp, seq, mode FROM notifications WHERE stream = \(stream.description) AND seq > \(seq) ORDER BY seq LIMIT \(limit)"
        case .timestamp(let time):
            "SELECT id, name, data, timestamp, seq, mode FROM notifications WHERE stream = \(stream.description) AND timestamp > \(time) ORDER BY seq LIMIT \(limit)"
        }
        return try await query(condition).map(Self.notification(from:))
    }

    public func lastSeq(of stream: StreamName) async throws -> Int64 {
        try await query("SELECT last_seq FROM streams WHERE name = \(stream.description)").first?.decode(Int64.self) ?? 0
    }

    /// Writes a notification inside the caller's transaction: advances the stream's cursor (taking
    /// its row until commit), replaces or appends, and applies the retention to the stream's events.
    func write(
        _ connection: PostgresConnection, to stream: StreamName, name: String, json: String,
        mode: StreamNotification.Mode, at now: Date
    ) async throws -> StreamNotification {
        let key = stream.description
        let seq = try await connection.rows("""
            INSERT INTO streams (name, last_seq) VALUES (\(key), 1)
            ON CONFLICT (name) DO UPDATE SET last_seq = streams.last_seq + 1
            RETURNING last_seq
            """, logger: logger)[0].decode(Int64.self)
        let timestamp = now.timeIntervalSince1970
        if mode == .replace {
            try await connection.rows("DELETE FROM notifications WHERE stream = \(key) AND name = \(name)", logger: logger)
        }
        let id = try await connection.rows("""
            INSERT INTO notifications (stream, seq, name, mode, data, timestamp)
            VALUES (\(key), \(seq), \(name), \(mode.rawValue), \(json), \(timestamp)) RETURNING id
            """, logger: logger)[0].decode(Int64.self)
        if mode == .append { try await applyRetention(connection, stream: key, now: timestamp) }
        return StreamNotification(id: id, name: name, json: json, timestamp: timestamp, seq: seq, mode: mode)
    }

    /// Drops events beyond the count or older than the age limit, remembering the highest seq
    /// dropped so a reader resuming from before it can be told it missed something.
    private func applyRetention(_ connection: PostgresConnection, stream: String, now: Double) async throws {
        let cutoff = try await connection.rows("""
            SELECT MAX(seq) FROM (
                SELECT seq FROM notifications WHERE stream = \(stream) AND mode = 'append' AND timestamp < \(now - retention.maxAge)
                UNION ALL
                (SELECT seq FROM notifications WHERE stream = \(stream) AND mode = 'append'
                 ORDER BY seq DESC OFFSET \(retention.maxCount))
            ) AS dropped
            """, logger: logger)[0].decode(Int64?.self)
        guard let cutoff else { return }
        try await connection.rows(
            "DELETE FROM notifications WHERE stream = \(stream) AND mode = 'append' AND seq <= \(cutoff)", logger: logger)
        try await connection.rows(
            "UPDATE streams SET evicted_through = GREATEST(evicted_through, \(cutoff)) WHERE name = \(stream)", logger: logger)
    }

    static func notification(from row: PostgresRow) throws -> StreamNotification {
        let (id, name, data, timestamp, seq, mode) = try row.decode((Int64, String, String, Double, Int64, String).self)
        return StreamNotification(
            id: id, name: name, json: data, timestamp: timestamp, seq: seq, mode: StreamNotification.Mode(rawValue: mode) ?? .append)
    }

    /// The notification in the columns after the first `skipping`, or nil where a LEFT JOIN found none.
    static func optionalNotification(from row: PostgresRow, skipping: Int = 1) throws -> StreamNotification? {
        let cells = Array(row)
        guard cells.count == skipping + 6, cells[skipping].bytes != nil else { return nil }
        let id = try cells[skipping].decode(Int64.self)
        let name = try cells[skipping + 1].decode(String.self)
        let data = try cells[skipping + 2].decode(String.self)
        let timestamp = try cells[skipping + 3].decode(Double.self)
        let seq = try cells[skipping + 4].decode(Int64.self)
        let mode = try cells[skipping + 5].decode(String.self)
        return StreamNotification(
            id: id, name: name, json: data, timestamp: timestamp, seq: seq, mode: StreamNotification.Mode(rawValue: mode) ?? .append)
    }
}
