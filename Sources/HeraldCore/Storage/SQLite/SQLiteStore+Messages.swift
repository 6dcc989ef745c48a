import Foundation
import GRDB

extension SQLiteStore {
    public func sendMessage(from senderID: Int64, to recipientID: Int64, body: String, at now: Date) async throws
        -> (message: Message, notification: StreamNotification)
    {
        try await writes.write { db in
            // Two statements: the recipient's count goes up (and tells its name and last visit),
            // and the message goes in only if its sender exists (and tells the sender's name).
            guard
                let recipient = try Row.fetchOne(
                    try db.cachedStatement(sql: """
                        UPDATE user SET unread_count = unread_count + 1 WHERE id = ?
                        RETURNING username, last_message_read_time, unread_count
                        """),
                    arguments: [recipientID])
            else { throw StoreError.unknownUser }
            // A message must count as unread even if the clock has not moved past the last visit
            // to the inbox, so it is never stamped at or before that moment.
            let lastRead: Double? = recipient["last_message_read_time"]
            let createdAt = max(now.timeIntervalSince1970, (lastRead ?? 0).nextUp)
            guard
                let inserted = try Row.fetchOne(
                    try db.cachedStatement(sql: """
                        INSERT INTO message (sender_id, recipient_id, body, created_at)
                        SELECT id, ?, ?, ? FROM user WHERE id = ?
                        RETURNING id, (SELECT username FROM user WHERE id = sender_id) AS sender
                        """),
                    arguments: [recipientID, body, createdAt, senderID])
            else { throw StoreError.unknownUser }
            let message = Message(
                id: inserted["id"], sender: inserted["sender"], recipient: recipient["username"], body: body,
                createdAt: Date(timeIntervalSince1970: createdAt))
            let unread: Int = recipient["unread_count"]
            let notification = try self.write(
                db, to: .user(recipientID), name: NotificationName.unreadMessageCount, json: String(unread),
                mode: .replace, at: now)
            return (message, notification)
        }
    }

    public func markMessagesRead(userID: Int64, at now: Date) async throws -> StreamNotification {
        try await writes.write { db in
            try db.cachedStatement(sql: "UPDATE user SET last_message_read_time = ?, unread_count = 0 WHERE id = ?")
                .execute(arguments: [now.timeIntervalSince1970, userID])
            guard db.changesCount == 1 else { throw StoreError.unknownUser }
            return try self.write(
                db, to: .user(userID), name: NotificationName.unreadMessageCount, json: "0", mode: .replace, at: now)
        }
    }

    public func inbox(userID: Int64, page: Int, perPage: Int) async throws -> InboxPage {
        try read { db in
            let total = try Int.fetchOne(
                try db.cachedStatement(sql: "SELECT COUNT(*) FROM message WHERE recipient_id = ?"), arguments: [userID]) ?? 0
            let rows = try Row.fetchAll(
                try db.cachedStatement(sql: """
                    SELECT m.id, s.username AS sender, r.username AS recipient, m.body, m.created_at
                    FROM message m JOIN user s ON s.id = m.sender_id JOIN user r ON r.id = m.recipient_id
                    WHERE m.recipient_id = ?
                    ORDER BY m.created_at DESC, m.id DESC LIMIT ? OFFSET ?
                    """),
                arguments: [userID, perPage, (page - 1) * perPage])
            let messages = rows.map { row in
                Message(
                    id: row["id"], sender: row["sender"], recipient: row["recipient"], body: row["body"],
                    createdAt: Date(timeIntervalSince1970: row["created_at"]))
            }
            return InboxPage(messages: messages, page: page, perPage: perPage, total: total)
        }
    }

    public func unreadMessageCount(userID: Int64) async throws -> Int {
        try readSingleStatement { db in
            try Int.fetchOne(try db.cachedStatement(sql: "SELECT unread_count FROM user WHERE id = ?"), arguments: [userID])
                ?? 0
        }
    }
}
