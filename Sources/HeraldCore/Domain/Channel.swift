import Foundation

/// A named stream that many users read: a chat room, a broadcast topic.
public struct Channel: Sendable, Equatable {
    /// Who may read the channel.
    public enum Visibility: String, Sendable, Codable {
        /// Every signed-in user.
        case `public`
        /// Only the users added as members (by a backend with a server API key).
        case members
    }

    public var name: String
    public var visibility: Visibility
    public var createdAt: Date

    public init(name: String, visibility: Visibility, createdAt: Date) {
        self.name = name
        self.visibility = visibility
        self.createdAt = createdAt
    }

    public var stream: StreamName { .channel(name) }

    /// Channel names are 1–64 of `[A-Za-z0-9_.-]`: safe in URLs, SSE ids and Redis channel names.
    public static func problem(withName name: String) -> String? {
        guard (1...64).contains(name.utf8.count), NameCharacters.only(name, punctuation: ["_", ".", "-"]) else { return "A channel name has 1 to 64 of the characters A–Z, a–z, 0–9, '_', '.' and '-'." }
        return nil
    }
}

/// What a reader resuming a stream needs: the current states, the events after its cursor, and
/// whether the retention dropped events it never saw.
public struct StreamReplay: Sendable {
    /// In seq order: every current state (whatever its seq) and every retained event after the cursor.
    public var notifications: [StreamNotification]
    /// The highest seq the retention has dropped; a cursor below it has missed events.
    public var evictedThrough: Int64
    public var lastSeq: Int64

    public init(notifications: [StreamNotification], evictedThrough: Int64, lastSeq: Int64) {
        self.notifications = notifications
        self.evictedThrough = evictedThrough
        self.lastSeq = lastSeq
    }

    /// What a replay of the whole stream (after 0) holds for a reader resuming after `seq`:
    /// every state, and the events after it.
    public func after(_ seq: Int64) -> StreamReplay {
        StreamReplay(
            notifications: notifications.filter { $0.seq > seq || $0.mode == .replace }, evictedThrough: evictedThrough,
            lastSeq: lastSeq)
    }

    /// `HeraldStore.notifications(in:after:limit:)` of a stream's notifications in seq order.
    public static func page(of notifications: [StreamNotification], after seq: Int64, limit: Int) -> [StreamNotification] {
        Array(notifications.lazy.filter { $0.seq > seq }.prefix(limit))
    }
}
