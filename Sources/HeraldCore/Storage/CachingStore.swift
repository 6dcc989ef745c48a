import Foundation
import Synchronization

/// A store that answers, from memory after the first time, the lookups every request and every
/// connection makes and whose answers never change once they exist: a channel (its name and
/// visibility are fixed when it is made; channels are never deleted), a server API key, the user
/// of a personal access token (neither is ever revoked), and a user by name (users are never
/// renamed or deleted). Everything else goes to the store.
///
/// Only found answers are kept: a channel made, a key or a user created, by another node or by the
/// CLI is seen at its next lookup. A new way to delete a channel or a user, rename a user or revoke
/// a token must evict it here. A `User` is kept as first read: its `lastMessageReadTime` goes
/// stale, which nothing outside the store reads (the store itself reads the column, never this
/// copy). Names are kept as asked for: `Bob` and `bob` are two entries for the one user.
///
/// Given `recent` (a single node, whose fan-out hears of every write), reads of a stream's
/// notifications and cursor are answered from it where it holds them, and a stream read from the
/// store is held from then on.
public final class CachingStore: HeraldStore {
    public let base: any HeraldStore
    public let recent: RecentEvents?
    private let channels: LookupCache<String, Channel>
    private let apiKeys: LookupCache<String, Bool>
    private let tokenUsers: LookupCache<String, User>
    private let namedUsers: LookupCache<String, User>

    /// `capacity`: the most answers kept of each kind; past it, the oldest half is forgotten.
    public init(_ base: any HeraldStore, recent: RecentEvents? = nil, capacity: Int = 10_000) {
        self.base = base
        self.recent = recent
        channels = LookupCache(capacity: capacity)
        apiKeys = LookupCache(capacity: capacity)
        tokenUsers = LookupCache(capacity: capacity)
        namedUsers = LookupCache(capacity: capacity)
    }

    // MARK: Cached

    public func channel(named name: String) async throws -> Channel? {
        try await channels.value(for: name) { try await base.channel(named: name) }
    }

    public func ensureChannel(named name: String, visibility: Channel.Visibility, at now: Date) async throws -> Channel {
        let channel = try await channels.value(for: name) {
            try await base.ensureChannel(named: name, visibility: visibility, at: now)
        }
        guard let channel else { throw StoreError.unknownChannel }
        return channel
    }

    public func hasAPIKey(digest: String) async throws -> Bool {
        try await apiKeys.value(for: digest) { try await base.hasAPIKey(digest: digest) ? true : nil } ?? false
    }

    public func user(accessTokenDigest: String) async throws -> User? {
        try await tokenUsers.value(for: accessTokenDigest) { try await base.user(accessTokenDigest: accessTokenDigest) }
    }

    /// Every message looks its recipient up by name, and every publish to a user its target.
    public func user(named username: String) async throws -> User? {
        try await namedUsers.value(for: username) { try await base.user(named: username) }
    }

    /// The user of a personal access token already looked up, without asking the store.
    public func knownUser(accessTokenDigest: String) -> User? {
        tokenUsers.known(accessTokenDigest)
    }

    public func replay(_ stream: StreamName, after seq: Int64) async throws -> StreamReplay {
        if let held = recent?.replay(stream, after: seq) { return held }
        guard let snapshot = try await primed(stream) else { return try await base.replay(stream, after: seq) }
        return snapshot.after(seq)
    }

    public func notifications(in stream: StreamName, after cursor: Cursor, limit: Int) async throws -> [StreamNotification] {
        guard case .seq(let seq) = cursor else { return try await base.notifications(in: stream, after: cursor, limit: limit) }
        if let held = recent?.notifications(in: stream, after: seq, limit: limit) { return held }
        guard let snapshot = try await primed(stream) else {
            return try await base.notifications(in: stream, after: cursor, limit: limit)
        }
        return StreamReplay.page(of: snapshot.notifications, after: seq, limit: limit)
    }

    /// From memory when held; otherwise one row of the store (a whole stream is not read for it).
    public func lastSeq(of stream: StreamName) async throws -> Int64 {
        if let held = recent?.lastSeq(of: stream) { return held }
        return try await base.lastSeq(of: stream)
    }

    /// The whole stream as the store holds it, handed to `recent` to hold from now on; nil if
    /// another caller is already reading it (or nothing is held here).
    private func primed(_ stream: StreamName) async throws -> StreamReplay? {
        guard let recent, let ticket = recent.beginPriming(stream) else { return nil }
        do {
            let snapshot = try await base.replay(stream, after: 0)
            recent.finishPriming(ticket, with: snapshot)
            return snapshot
        } catch {
            recent.finishPriming(ticket, with: nil)
            throw error
        }
    }

    // MARK: Passed on

    public func createUser(username: String, passwordHash: String) async throws -> User {
        try await base.createUser(username: username, passwordHash: passwordHash)
    }
    public func user(id: Int64) async throws -> User? { try await base.user(id: id) }
    public func credentials(named username: String) async throws -> UserCredentials? {
        try await base.credentials(named: username)
    }
    public func users(page: Int, perPage: Int) async throws -> (users: [User], total: Int) {
        try await base.users(page: page, perPage: perPage)
    }
    public func createSession(userID: Int64, tokenDigest: String, expiresAt: Date) async throws {
        try await base.createSession(userID: userID, tokenDigest: tokenDigest, expiresAt: expiresAt)
    }
    public func user(sessionDigest: String, now: Date) async throws -> User? {
        try await base.user(sessionDigest: sessionDigest, now: now)
    }
    public func deleteSession(tokenDigest: String) async throws { try await base.deleteSession(tokenDigest: tokenDigest) }
    public func createAccessToken(userID: Int64, tokenDigest: String, label: String) async throws {
        try await base.createAccessToken(userID: userID, tokenDigest: tokenDigest, label: label)
    }
    public func sendMessage(from senderID: Int64, to recipientID: Int64, body: String, at now: Date) async throws
        -> (message: Message, notification: StreamNotification)
    {
        try await base.sendMessage(from: senderID, to: recipientID, body: body, at: now)
    }
    public func markMessagesRead(userID: Int64, at now: Date) async throws -> StreamNotification {
        try await base.markMessagesRead(userID: userID, at: now)
    }
    public func inbox(userID: Int64, page: Int, perPage: Int) async throws -> InboxPage {
        try await base.inbox(userID: userID, page: page, perPage: perPage)
    }
    public func unreadMessageCount(userID: Int64) async throws -> Int { try await base.unreadMessageCount(userID: userID) }
    public func addNotification(
        to streams: [StreamName], name: String, json: String, mode: StreamNotification.Mode, at now: Date
    ) async throws -> [StreamNotification] {
        try await base.addNotification(to: streams, name: name, json: json, mode: mode, at: now)
    }
    public func recentEvents(in stream: StreamName, limit: Int) async throws -> (events: [StreamNotification], lastSeq: Int64) {
        try await base.recentEvents(in: stream, limit: limit)
    }
    public func checkHealth() async throws { try await base.checkHealth() }
    public func channels(limit: Int) async throws -> [Channel] { try await base.channels(limit: limit) }
    public func addMembers(_ userIDs: [Int64], to channel: String) async throws {
        try await base.addMembers(userIDs, to: channel)
    }
    public func isMember(userID: Int64, of channel: String) async throws -> Bool {
        try await base.isMember(userID: userID, of: channel)
    }
    public func createAPIKey(digest: String, label: String) async throws {
        try await base.createAPIKey(digest: digest, label: label)
    }
}

/// A bounded map shared by every thread: when full, the oldest half of its entries is forgotten.
final class LookupCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entries {
        var values: [Key: Value] = [:]
        var order: [Key] = []
    }

    private let capacity: Int
    private let entries = Mutex(Entries())

    init(capacity: Int) {
        self.capacity = max(capacity, 2)
    }

    /// The value kept for `key`, if any.
    func known(_ key: Key) -> Value? {
        entries.withLock { $0.values[key] }
    }

    /// The value kept for `key`, or else what `find` finds, kept if it is found.
    func value(for key: Key, orFind find: () async throws -> Value?) async rethrows -> Value? {
        if let known = known(key) { return known }
        guard let found = try await find() else { return nil }
        remember(found, for: key)
        return found
    }

    private func remember(_ value: Value, for key: Key) {
        entries.withLock { entries in
            if entries.values.updateValue(value, forKey: key) != nil { return }
            entries.order.append(key)
            if entries.order.count > capacity {
                let forgotten = entries.order.prefix(entries.order.count / 2)
                for key in forgotten { entries.values[key] = nil }
                entries.order.removeFirst(forgotten.count)
            }
        }
    }
}
