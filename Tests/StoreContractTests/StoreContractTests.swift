import Foundation
import HeraldCore
import Testing

/// The guarantees of `HeraldStore`, which the SQLite and PostgreSQL stores must give alike.
@Suite struct StoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func reopeningKeepsEverythingAndMigratesNothingTwice(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, reopen in
            let ada = try await store.createUser(username: "ada", passwordHash: "h")
            let bob = try await store.createUser(username: "bob", passwordHash: "h")
            _ = try await store.sendMessage(from: ada.id, to: bob.id, body: "kept", at: Date())

            let reopened = try await reopen()
            #expect(try await reopened.user(named: "ADA")?.id == ada.id)
            #expect(try await reopened.inbox(userID: bob.id, page: 1, perPage: 5).messages.map(\.body) == ["kept"])
            #expect(try await reopened.unreadMessageCount(userID: bob.id) == 1)
            #expect(try await reopened.lastSeq(of: bob.stream) == 1)
            try await reopened.checkHealth()
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func usernamesAreUniqueWithoutRegardToCase(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            _ = try await store.createUser(username: "Grace", passwordHash: "h")
            await #expect(throws: StoreError.usernameTaken) {
                try await store.createUser(username: "grace", passwordHash: "h")
            }
            #expect(try await store.credentials(named: "GRACE")?.passwordHash == "h")
            #expect(try await store.user(named: "nobody") == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func usersPageInNameOrderWithTheirTotal(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            for name in ["carol", "ada", "bob", "a.z", "a_b"] { _ = try await store.createUser(username: name, passwordHash: "h") }
            let first = try await store.users(page: 1, perPage: 2)
            #expect(first.users.map(\.username) == ["a.z", "a_b"] && first.total == 5)
            #expect(try await store.users(page: 2, perPage: 2).users.map(\.username) == ["ada", "bob"])
            let past = try await store.users(page: 5, perPage: 2)
            #expect(past.users.isEmpty && past.total == 5)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func replaceKeepsOneStatePerNameAndAppendKeepsEveryEventInSeqOrder(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let stream = StreamName.user(1)
            let now = Date()
            let a = try await store.addNotification(to: stream, name: "count", json: "1", mode: .replace, at: now)
            let e1 = try await store.addNotification(to: stream, name: "ping", json: #"{"n":1}"#, mode: .append, at: now)
            let b = try await store.addNotification(to: stream, name: "count", json: "2", mode: .replace, at: now)
            let e2 = try await store.addNotification(to: stream, name: "ping", json: #"{"n":2}"#, mode: .append, at: now)
            #expect([a.seq, e1.seq, b.seq, e2.seq] == [1, 2, 3, 4])

            let all = try await store.notifications(in: stream, after: .beginning, limit: 100)
            #expect(all.map(\.seq) == [2, 3, 4])
            #expect(all.map(\.json) == [#"{"n":1}"#, "2", #"{"n":2}"#])
            #expect(try await store.notifications(in: stream, after: .seq(3), limit: 100).map(\.seq) == [4])
            #expect(try await store.notifications(in: stream, after: .beginning, limit: 2).map(\.seq) == [2, 3])
            #expect(try await store.notifications(in: stream, after: .timestamp(now.timeIntervalSince1970 - 1), limit: 100)
                .map(\.seq) == [2, 3, 4])
            // Streams are independent: their own cursors and contents.
            #expect(try await store.notifications(in: .user(2), after: .beginning, limit: 100).isEmpty)
            #expect(try await store.lastSeq(of: .user(2)) == 0)

            let replay = try await store.replay(stream, after: 3)
            #expect(replay.notifications.map(\.seq) == [3, 4] && replay.lastSeq == 4 && replay.evictedThrough == 0)
            let empty = try await store.replay(.channel("none"), after: 0)
            #expect(empty.notifications.isEmpty && empty.lastSeq == 0)
            let recent = try await store.recentEvents(in: stream, limit: 1)
            #expect(recent.events.map(\.seq) == [4] && recent.lastSeq == 4)
            let none = try await store.recentEvents(in: .channel("none"), limit: 5)
            #expect(none.events.isEmpty && none.lastSeq == 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func oneNotificationToSeveralStreamsIsWrittenToEach(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            _ = try await store.addNotification(to: .user(2), name: "e", json: "0", mode: .append, at: Date())
            let written = try await store.addNotification(
                to: [.user(2), .user(1)], name: "e", json: "1", mode: .append, at: Date())
            #expect(written.map(\.seq) == [2, 1])
            // A stream named twice gets the notification twice.
            let twice = try await store.addNotification(to: [.user(1), .user(1)], name: "e", json: "2", mode: .append, at: Date())
            #expect(twice.map(\.seq) == [2, 3])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aStateTakesTheEventsOfItsNameWithItAndTheRetentionCountsWhatIsLeft(_ backend: StoreBackend) async throws {
        try await backend.withStore(retention: Retention(maxCount: 3, maxAge: 60)) { store, _ in
            let stream = StreamName.channel("lobby")
            let now = Date()
            _ = try await store.addNotification(to: stream, name: "x", json: "1", mode: .append, at: now)
            _ = try await store.addNotification(to: stream, name: "x", json: "2", mode: .append, at: now)
            _ = try await store.addNotification(to: stream, name: "x", json: "\"state\"", mode: .replace, at: now)
            #expect(try await store.notifications(in: stream, after: .beginning, limit: 100).map(\.json) == ["\"state\""])
            // Counted right, the stream holds no event now: three more fit, a fourth pushes one out.
            for n in 4...6 {
                _ = try await store.addNotification(to: stream, name: "e", json: "\(n)", mode: .append, at: now)
            }
            #expect(try await store.notifications(in: stream, after: .beginning, limit: 100).map(\.json)
                == ["\"state\"", "4", "5", "6"])
            _ = try await store.addNotification(to: stream, name: "e", json: "7", mode: .append, at: now)
            #expect(try await store.notifications(in: stream, after: .beginning, limit: 100).map(\.json)
                == ["\"state\"", "5", "6", "7"])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func retentionDropsTheOldestEventsButNeverStates(_ backend: StoreBackend) async throws {
        try await backend.withStore(retention: Retention(maxCount: 3, maxAge: 60)) { store, _ in
            let stream = StreamName.channel("lobby")
            let start = Date()
            _ = try await store.addNotification(to: stream, name: "state", json: "true", mode: .replace, at: start)
            for n in 1...5 {
                _ = try await store.addNotification(to: stream, name: "e", json: "\(n)", mode: .append, at: start)
            }
            #expect(try await store.notifications(in: stream, after: .beginning, limit: 100).map(\.json)
                == ["true", "3", "4", "5"])
            #expect(try await store.replay(stream, after: 0).evictedThrough == 3)
            // Past the age limit, older events go as soon as the stream is written again.
            _ = try await store.addNotification(to: stream, name: "e", json: "6", mode: .append, at: start + 120)
            #expect(try await store.notifications(in: stream, after: .beginning, limit: 100).map(\.json) == ["true", "6"])
            #expect(try await store.replay(stream, after: 0).evictedThrough == 6)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func unreadCountFollowsMessagesAndTheLastVisit(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let ada = try await store.createUser(username: "ada", passwordHash: "h")
            let bob = try await store.createUser(username: "bob", passwordHash: "h")
            let t0 = Date()
            let (_, first) = try await store.sendMessage(from: ada.id, to: bob.id, body: "1", at: t0)
            #expect(first.name == NotificationName.unreadMessageCount && first.json == "1" && first.mode == .replace)
            let (_, second) = try await store.sendMessage(from: ada.id, to: bob.id, body: "2", at: t0)
            #expect(second.json == "2")
            #expect(try await store.unreadMessageCount(userID: ada.id) == 0)

            let read = try await store.markMessagesRead(userID: bob.id, at: t0 + 1)
            #expect(read.json == "0")
            #expect(try await store.unreadMessageCount(userID: bob.id) == 0)
            // Stored as unix seconds: equal to the microsecond, not always to the last bit of a Date.
            let visit = try #require(try await store.user(id: bob.id)?.lastMessageReadTime)
            #expect(abs(visit.timeIntervalSince(t0 + 1)) < 1e-6)
            // A message stamped with a clock that has not moved past the visit still counts as unread.
            let (_, third) = try await store.sendMessage(from: ada.id, to: bob.id, body: "3", at: t0 + 1)
            #expect(third.json == "1")
            #expect(try await store.notifications(in: bob.stream, after: .beginning, limit: 10).map(\.json) == ["1"])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aMessageToOrFromAMissingUserWritesNothing(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let ada = try await store.createUser(username: "ada", passwordHash: "h")
            await #expect(throws: StoreError.unknownUser) {
                try await store.sendMessage(from: ada.id, to: 999, body: "lost", at: Date())
            }
            await #expect(throws: StoreError.unknownUser) {
                try await store.sendMessage(from: 999, to: ada.id, body: "lost", at: Date())
            }
            #expect(try await store.lastSeq(of: .user(999)) == 0)
            #expect(try await store.unreadMessageCount(userID: ada.id) == 0)
            #expect(try await store.lastSeq(of: ada.stream) == 0)
            await #expect(throws: StoreError.unknownUser) { try await store.markMessagesRead(userID: 999, at: Date()) }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func inboxPagesNewestFirst(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let ada = try await store.createUser(username: "ada", passwordHash: "h")
            let bob = try await store.createUser(username: "bob", passwordHash: "h")
            let start = Date()
            for n in 1...5 {
                _ = try await store.sendMessage(from: ada.id, to: bob.id, body: "\(n)", at: start + Double(n))
            }
            let first = try await store.inbox(userID: bob.id, page: 1, perPage: 2)
            #expect(first.messages.map(\.body) == ["5", "4"])
            #expect(first.messages.first?.sender == "ada" && first.messages.first?.recipient == "bob")
            #expect(first.pageCount == 3 && !first.hasNewer && first.hasOlder)
            let last = try await store.inbox(userID: bob.id, page: 3, perPage: 2)
            #expect(last.messages.map(\.body) == ["1"])
            #expect(last.hasNewer && !last.hasOlder)
            #expect(try await store.inbox(userID: bob.id, page: 9, perPage: 2).total == 5)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func sessionsExpireAndTokensResolveToTheirUser(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let ada = try await store.createUser(username: "ada", passwordHash: "h")
            let now = Date()
            try await store.createSession(userID: ada.id, tokenDigest: "s1", expiresAt: now + 60)
            #expect(try await store.user(sessionDigest: "s1", now: now)?.id == ada.id)
            #expect(try await store.user(sessionDigest: "s1", now: now + 61) == nil)
            try await store.deleteSession(tokenDigest: "s1")
            #expect(try await store.user(sessionDigest: "s1", now: now) == nil)
            try await store.createAccessToken(userID: ada.id, tokenDigest: "t1", label: "ci")
            #expect(try await store.user(accessTokenDigest: "t1")?.username == "ada")
            #expect(try await store.user(accessTokenDigest: "t2") == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func channelsMembersAndKeys(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let ada = try await store.createUser(username: "ada", passwordHash: "h")
            let created = try await store.ensureChannel(named: "staff", visibility: .members, at: Date())
            // A second ensure returns the channel as it is, whatever visibility it asks for.
            let again = try await store.ensureChannel(named: "staff", visibility: .public, at: Date())
            #expect(again.visibility == .members && again.name == created.name)
            _ = try await store.ensureChannel(named: "lobby", visibility: .public, at: Date())
            #expect(try await store.channels(limit: 10).map(\.name) == ["lobby", "staff"])
            #expect(try await store.channel(named: "nope") == nil)
            try await store.addMembers([ada.id, ada.id], to: "staff")
            #expect(try await store.isMember(userID: ada.id, of: "staff"))
            #expect(try await !store.isMember(userID: ada.id, of: "lobby"))
            try await store.createAPIKey(digest: "k1", label: "backend")
            #expect(try await store.hasAPIKey(digest: "k1"))
            #expect(try await !store.hasAPIKey(digest: "k2"))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentWritersGetDistinctConsecutiveSeqs(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let stream = StreamName.user(7)
            let seqs = try await withThrowingTaskGroup(of: Int64.self) { group in
                for n in 0..<100 {
                    group.addTask {
                        try await store.addNotification(to: stream, name: "e", json: "\(n)", mode: .append, at: Date()).seq
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(seqs.sorted() == Array(1...100))
        }
    }
}
