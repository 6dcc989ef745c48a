import Foundation
import GRDB

extension SQLiteStore {
    public func addNotification(
        to streams: [StreamName], name: String, json: String, mode: StreamNotification.Mode, at now: Date
    ) async throws -> [StreamNotification] {
        try await writes.write { db in
            try streams.map { try self.write(db, to: $0, name: name, json: json, mode: mode, at: now) }
        }
    }

    public func recentEvents(in stream: StreamName, limit: Int) async throws
        -> (events: [StreamNotification], lastSeq: Int64)
    {
        try read { db in
            let events = try Row.fetchAll(
                try db.cachedStatement(sql: """
                    SELECT id, name, data, timestamp, seq, mode FROM notification
                    WHERE stream = ? AND mode = 'append' ORDER BY seq DESC LIMIT ?
                    """),
                arguments: [stream.description, limit]
            ).map(Self.notification(from:))
            let lastSeq = try Int64.fetchOne(
                try db.cachedStatement(sql: "SELECT last_seq FROM stream WHERE name = ?"), arguments: [stream.description]) ?? 0
            return (events, lastSeq)
        }
    }

    public func replay(_ stream: StreamName, after seq: Int64) async throws -> StreamReplay {
        try read { db in
            let cursor = try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT last_seq, evicted_through FROM stream WHERE name = ?"), arguments: [stream.description])
            let notifications = try Row.fetchAll(
                try db.cachedStatement(sql: """
                    SELECT id, name, data, timestamp, seq, mode FROM notification
                    WHERE stream = ? AND (seq > ? OR mode = 'replace') ORDER BY seq
                    """),
                arguments: [stream.description, seq]
            ).map(Self.notification(from:))
            return StreamReplay(
                notifications: notifications, evictedThrough: cursor?["evicted_through"] ?? 0,
                lastSeq: cursor?["last_seq"] ?? 0)
        }
    }

    public func notifications(in stream: StreamName, after cursor: Cursor, limit: Int) async throws -> [StreamNotification] {
        let condition: String
        let bound: DatabaseValue
        switch cursor {
        case .seq(let seq): (condition, bound) = ("seq > ?", seq.databaseValue)
        case .timestamp(let time): (condition, bound) = ("timestamp > ?", time.databaseValue)
        }
        return try readSingleStatement { db in
            try Row.fetchAll(
                try db.cachedStatement(sql: """
                    SELECT id, name, data, timestamp, seq, mode FROM notification
                    WHERE stream = ? AND \(condition) ORDER BY seq LIMIT ?
                    """),
                arguments: [stream.description, bound, limit]
            ).map(Self.notification(from:))
        }
    }

    static func notification(from row: Row) -> StreamNotification {
        StreamNotification(
            id: row["id"], name: row["name"], json: row["data"], timestamp: row["timestamp"],
            seq: row["seq"], mode: StreamNotification.Mode(rawValue: row["mode"]) ?? .append)
    }

    public func lastSeq(of stream: StreamName) async throws -> Int64 {
        try readSingleStatement { db in
            try Int64.fetchOne(
                try db.cachedStatement(sql: "SELECT last_seq FROM stream WHERE name = ?"), arguments: [stream.description])
                ?? 0
        }
    }

    /// Writes a notification inside the caller's transaction: advances the stream's cursor, replaces
    /// or appends, and applies the retention to the stream's events.
    func write(
        _ db: Database, to stream: StreamName, name: String, json: String, mode: StreamNotification.Mode, at now: Date
    ) throws -> StreamNotification {
        let key = stream.description
        // The cursor advances and an event is counted in one statement.
        guard
            let cursor = try Row.fetchOne(
                try db.cachedStatement(sql: """
                    INSERT INTO stream (name, last_seq, events) VALUES (?, 1, ?)
                    ON CONFLICT (name) DO UPDATE SET last_seq = last_seq + 1, events = events + excluded.events
                    RETURNING last_seq, events
                    """),
                arguments: [key, mode == .append ? 1 : 0])
        else { throw DatabaseError(message: "stream cursor was not advanced") }
        let seq: Int64 = cursor[0]
        let timestamp = now.timeIntervalSince1970
        if mode == .replace {
            // A state replaces whatever the stream holds under its name, events included.
            let modes = try String.fetchAll(try db.cachedStatement(sql: Self.replacedSQL), arguments: [key, name])
            try countEvents(db, stream: key, by: -modes.count { $0 == StreamNotification.Mode.append.rawValue })
        }
        try db.cachedStatement(sql: "INSERT INTO notification (stream, seq, name, mode, data, timestamp) VALUES (?, ?, ?, ?, ?, ?)").execute(arguments: [key, seq, name, mode.rawValue, json, timestamp])
        let notification = StreamNotification(
            id: db.lastInsertedRowID, name: name, json: json, timestamp: timestamp, seq: seq, mode: mode)
        if mode == .append {
            try applyRetention(db, stream: key, events: cursor[1], now: timestamp)
        }
        return notification
    }

    /// What a state replaces: every notification of its name in the stream, events included.
    /// Named index: SQLite would otherwise walk the stream's seq index through every event it keeps.
    static let replacedSQL = """
        DELETE FROM notification INDEXED BY notification_by_name WHERE stream = ? AND name = ? RETURNING mode
        """

    /// Moves the stream's count of events by `change`.
    private func countEvents(_ db: Database, stream: String, by change: Int) throws {
        guard change != 0 else { return }
        try db.cachedStatement(sql: "UPDATE stream SET events = events + ? WHERE name = ?").execute(arguments: [change, stream])
    }

    /// The newest aged event. Named index: left to itself, SQLite answers MAX(seq) by walking
    /// the stream's seq index backwards through every event it keeps.
    static let agedEventsSQL = """
        SELECT MAX(seq) FROM notification INDEXED BY notification_event_age
        WHERE stream = ? AND mode = 'append' AND timestamp < ?
        """

    /// Drops events beyond the count or older than the age limit, remembering the highest seq
    /// dropped so a reader resuming from before it can be told it missed something. Reads only
    /// what it drops, through the events' indexes; `events` is how many the stream holds.
    private func applyRetention(_ db: Database, stream: String, events: Int, now: Double) throws {
        let aged = try Int64.fetchOne(
            try db.cachedStatement(sql: Self.agedEventsSQL), arguments: [stream, now - retention.maxAge])
        var pushedOut: Int64?
        if events > retention.maxCount {
            pushedOut = try Int64.fetchOne(
                try db.cachedStatement(sql: """
                    SELECT seq FROM notification WHERE stream = ? AND mode = 'append' ORDER BY seq LIMIT 1 OFFSET ?
                    """),
                arguments: [stream, events - retention.maxCount - 1])
        }
        guard let cutoffSeq = [aged, pushedOut].compactMap({ $0 }).max() else { return }
        try db.cachedStatement(sql: "DELETE FROM notification WHERE stream = ? AND mode = 'append' AND seq <= ?").execute(arguments: [stream, cutoffSeq])
        let dropped = db.changesCount
        try db.cachedStatement(sql: """
            UPDATE stream SET events = events - ?, evicted_through = MAX(evicted_through, ?) WHERE name = ?
            """).execute(arguments: [dropped, cutoffSeq, stream])
    }
}
