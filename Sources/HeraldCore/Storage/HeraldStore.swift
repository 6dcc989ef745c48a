import Foundation

/// Everything Herald keeps. SQLite is the embedded default; PostgreSQL backs multi-node mode.
///
/// Guarantees every implementation gives:
/// - Each write below happens in one transaction: it is complete or absent, never partial.
/// - A stream's `seq` is advanced inside the transaction that writes the notification, so readers
///   see a stream's notifications in `seq` order and never find a smaller seq appear later.
/// - A message and the recipient's new `unread_message_count` are written together.
public protocol HeraldStore: ChannelStore {
    // MARK: Users
    func createUser(username: String, passwordHash: String) async throws -> User
    func user(id: Int64) async throws -> User?
    func user(named username: String) async throws -> User?
    func credentials(named username: String) async throws -> UserCredentials?
    func users(page: Int, perPage: Int) async throws -> (users: [User], total: Int)

    // MARK: Sessions and tokens (only SHA-256 digests of the secrets are stored)
    func createSession(userID: Int64, tokenDigest: String, expiresAt: Date) async throws
    func user(sessionDigest: String, now: Date) async throws -> User?
    func deleteSession(tokenDigest: String) async throws
    func createAccessToken(userID: Int64, tokenDigest: String, label: String) async throws
    func user(accessTokenDigest: String) async throws -> User?

    // MARK: Messages
    /// Stores the message and replaces the recipient's `unread_message_count`.
    func sendMessage(from senderID: Int64, to recipientID: Int64, body: String, at now: Date) async throws
        -> (message: Message, notification: StreamNotification)
    /// Sets `last_message_read_time` to `now` and replaces `unread_message_count` with 0.
    func markMessagesRead(userID: Int64, at now: Date) async throws -> StreamNotification
    func inbox(userID: Int64, page: Int, perPage: Int) async throws -> InboxPage
    func unreadMessageCount(userID: Int64) async throws -> Int

    // MARK: Notifications
    func addNotification(to stream: StreamName, name: String, json: String, mode: StreamNotification.Mode, at now: Date)
        async throws -> StreamNotification
    /// Writes the same notification to several streams in one transaction: all or none.
    func addNotification(
        to streams: [StreamName], name: String, json: String, mode: StreamNotification.Mode, at now: Date
    ) async throws -> [StreamNotification]
    /// The newest `limit` events of the stream, newest first, with the stream's cursor, read
    /// together so a page can show them and then follow the stream from exactly that point.
    func recentEvents(in stream: StreamName, limit: Int) async throws -> (events: [StreamNotification], lastSeq: Int64)
    /// Everything a reader resuming after `seq` needs, read in one consistent snapshot.
    func replay(_ stream: StreamName, after seq: Int64) async throws -> StreamReplay
    /// Notifications after `cursor`, in seq order, at most `limit`.
    func notifications(in stream: StreamName, after cursor: Cursor, limit: Int) async throws -> [StreamNotification]
    /// The stream's current cursor: the seq of the last notification written to it (0 if none).
    func lastSeq(of stream: StreamName) async throws -> Int64

    /// Answers only if the database does, for `/readyz`.
    func checkHealth() async throws
}

extension HeraldStore {
    public func addNotification(
        to stream: StreamName, name: String, json: String, mode: StreamNotification.Mode, at now: Date
    ) async throws -> StreamNotification {
        try await addNotification(to: [stream], name: name, json: json, mode: mode, at: now)[0]
    }
}

/// Channels, their members, and the API keys other backends publish with.
public protocol ChannelStore: Sendable {
    /// Creates the channel, or returns the existing one of that name unchanged.
    func ensureChannel(named name: String, visibility: Channel.Visibility, at now: Date) async throws -> Channel
    func channel(named name: String) async throws -> Channel?
    func channels(limit: Int) async throws -> [Channel]
    func addMembers(_ userIDs: [Int64], to channel: String) async throws
    func isMember(userID: Int64, of channel: String) async throws -> Bool
    func createAPIKey(digest: String, label: String) async throws
    func hasAPIKey(digest: String) async throws -> Bool
}

/// Errors a store reports for requests that break its rules.
public enum StoreError: Error, Equatable {
    case usernameTaken
    case unknownUser
    case unknownChannel
    /// The database cannot be reached (multi-node mode): nothing was written; try again later.
    case unavailable
}
