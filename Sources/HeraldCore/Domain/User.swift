import Foundation

/// An account. Usernames are unique without regard to case.
public struct User: Sendable, Equatable, Codable {
    public var id: Int64
    public var username: String
    public var createdAt: Date
    /// The moment the user last opened their inbox; messages received after it are unread.
    public var lastMessageReadTime: Date?

    public init(id: Int64, username: String, createdAt: Date, lastMessageReadTime: Date?) {
        self.id = id
        self.username = username
        self.createdAt = createdAt
        self.lastMessageReadTime = lastMessageReadTime
    }

    /// The user's notification stream.
    public var stream: StreamName { .user(id) }
}

/// A user together with their stored bcrypt hash, for the login check only.
public struct UserCredentials: Sendable {
    public var user: User
    public var passwordHash: String

    public init(user: User, passwordHash: String) {
        self.user = user
        self.passwordHash = passwordHash
    }
}
