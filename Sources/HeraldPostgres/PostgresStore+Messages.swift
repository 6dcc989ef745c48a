import Foundation
import HeraldCore
import PostgresNIO

extension PostgresStore {
    public func sendMessage(from senderID: Int64, to recipientID: Int64, body: String, at now: Date) async throws
        -> (message: Message, notification: StreamNotification)
    {
        try await transaction { connection in
            // The recipient's row first (it carries the count), then the stream's: the order every
            // writer of both takes them in.
            guard
                let recipient = try await connection.rows("""
                    UPDATE users SET unread_count = unread_count + 1 WHERE id = \(recipientID)
                    RETURNING username, last_message_read_time, unread_count
                    """, logger: self.logger
                ).first.map({ try $0.decode((String, Double?, Int64).self) }),
                let sender = try await connection.rows("SELECT username FROM users WHERE id = \(senderID)", logger: self.logger)
                    .first.map({ try $0.decode(String.self) })
            else { throw StoreError.unknownUser }
            // A message must count as unread even if the clock has not moved past the last visit
            // to the inbox, so it is never stamped at or before that moment.
            let createdAt = max(now.timeIntervalSince1970, (recipient.1 ?? 0).nextUp)
            let id = try await connection.rows("""
                INSERT INTO messages (sender_id, recipient_id, body, created_at)
                VALUES (\(senderID), \(recipientID), \(body), \(createdAt)) RETURNING id
                """, logger: self.logger
            )[0].decode(Int64.self)
            let message = Message(
                id: id, sender: sender, recipient: recipient.0, body: body, createdAt: Date(timeIntervalSince1970: createdAt))
            let notification = try await self.write(
                connection, to: .user(recipientID), name: NotificationName.unreadMessageCount, json: String(recipient.2),
                mode: .replace, at: now)
            return (message, notification)
        }
    }

    public func markMessagesRead(userID: Int64, at now: Date) async throws -> StreamNotification {
        try await transaction { connection in
            let updated = try await connection.rows("""
                UPDATE users SET last_message_read_time = \(now.timeIntervalSince1970), unread_count = 0
                WHERE id = \(userID) RETURNING id
                """, logger: self.logger)
            guard !updated.isEmpty else { throw StoreError.unknownUser }
            return try await self.write(
                connection, to: .user(userID), name: NotificationName.unreadMessageCount, json: "0", mode: .replace, at: now)
        }
    }

    public func inbox(userID: Int64, page: Int, perPage: Int) async throws -> InboxPage {
        let rows = try await query("""
            SELECT m.id, s.username, r.username, m.body, m.created_at, COUNT(*) OVER ()
            FROM messages m JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.recipient_id
            WHERE m.recipient_id = \(userID)
            ORDER BY m.created_at DESC, m.id DESC LIMIT \(perPage) OFFSET \((page - 1) * perPage)
            """
        ).map { try $0.decode((Int64, String, String, String, Double, Int).self) }
        let messages = rows.map { row in
            Message(id: row.0, sender: row.1, recipient: row.2, body: row.3, createdAt: Date(timeIntervalSince1970: row.4))
        }
        // A page past the end has no rows to carry the total.
        var total = rows.first?.5 ?? 0
        if rows.isEmpty {
            total = try await query("SELECT COUNT(*) FROM messages WHERE recipient_id = \(userID)")[0].decode(Int.self)
        }
        return InboxPage(messages: messages, page: page, perPage: perPage, total: total)
    }

    public func unreadMessageCount(userID: Int64) async throws -> Int {
        try await query("SELECT unread_count FROM users WHERE id = \(userID)").first?.decode(Int.self) ?? 0
    }
}
