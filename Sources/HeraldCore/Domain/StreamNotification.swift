import Foundation

/// One entry of a stream, as readers see it.
public struct StreamNotification: Sendable, Equatable {
    /// How a new notification relates to the ones already stored under its name.
    public enum Mode: String, Sendable, Codable {
        /// A state: at most one per name, a new one replaces the old (the unread count).
        case replace
        /// An event: kept in order alongside the others, within the retention.
        case append
    }

    public var id: Int64
    public var name: String
    /// The payload, as JSON text: stored and served as is, never re-encoded.
    public var json: String
    /// Unix seconds.
    public var timestamp: Double
    /// The stream cursor: grows by one with every notification written to the stream.
    public var seq: Int64
    public var mode: Mode

    public init(id: Int64, name: String, json: String, timestamp: Double, seq: Int64, mode: Mode) {
        self.id = id
        self.name = name
        self.json = json
        self.timestamp = timestamp
        self.seq = seq
        self.mode = mode
    }
}

/// The well-known notification names.
public enum NotificationName {
    public static let unreadMessageCount = "unread_message_count"
}
