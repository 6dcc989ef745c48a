import Foundation
import GRDB
import NIOCore
import NIOPosix
import Testing

@testable import HeraldCore

/// Writes that share a transaction are still each atomic, answered after their commit, in order.
@Suite struct GroupCommitTests {
    @Test func concurrentWritesEachGetTheirOwnSeqAndAllAreStoredInOrder() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let stream = StreamName.channel("busy")
        let seqs = try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<300 {
                group.addTask {
                    try await store.addNotification(to: stream, name: "e", json: "\(index)", mode: .append, at: Date()).seq
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(seqs.sorted() == Array(1...300))
        let stored = try await store.notifications(in: stream, after: .beginning, limit: 1000)
        #expect(stored.map(\.seq) == Array(1...300))
        #expect(Set(stored.map(\.json)).count == 300)
    }

    @Test func aWriteThatFailsHalfwayIsUndoneAloneAndTheRestOfItsBatchCommits() async throws {
        struct Refused: Error {}
        let store = try SQLiteStore(directory: temporaryDirectory())
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        try await store.writes.write { db in
                            try db.execute(
                                sql: "INSERT INTO channel (name, visibility, created_at) VALUES (?, 'public', 0)",
                                arguments: ["c\(index)"])
                            // Every third write fails after it has written: its row must go too.
                            if index % 3 == 0 { throw Refused() }
                        }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 133)
        let names = try await store.channels(limit: 1000).map(\.name)
        #expect(names.count == 133)
        #expect(!names.contains("c0") && names.contains("c1") && !names.contains("c3"))
    }

    @Test func aLoneWriteThatFailsHalfwayIsUndone() async throws {
        struct Refused: Error {}
        let store = try SQLiteStore(directory: temporaryDirectory())
        // Alone, with the writer idle: it runs on this thread, and must still be all or nothing.
        await #expect(throws: Refused.self) {
            try await store.writes.write { db in
                try db.execute(sql: "INSERT INTO channel (name, visibility, created_at) VALUES ('half', 'public', 0)")
                throw Refused()
            }
        }
        try await store.writes.write { db in
            try db.execute(sql: "INSERT INTO channel (name, visibility, created_at) VALUES ('whole', 'public', 0)")
        }
        #expect(try await store.channels(limit: 10).map(\.name) == ["whole"])
    }

    @Test func aWriteThatCannotBeUndoneFailsItsWholeBatch() async throws {
        struct Refused: Error {}
        let store = try SQLiteStore(directory: temporaryDirectory())
        // A first write holds the writer, so the next two queue and share one transaction.
        let gate = DispatchSemaphore(value: 0)
        let first = Task { try await store.writes.write { _ in gate.wait() } }
        try await Task.sleep(for: .milliseconds(200))
        let good = Task {
            try await store.writes.write { db in
                try db.execute(sql: "INSERT INTO channel (name, visibility, created_at) VALUES ('good', 'public', 0)")
            }
        }
        let spoiler = Task {
            try await store.writes.write { db in
                try db.execute(sql: "INSERT INTO channel (name, visibility, created_at) VALUES ('half', 'public', 0)")
                // Takes away the savepoint its undo needs: what it wrote cannot be rolled back alone.
                try db.execute(sql: "RELEASE SAVEPOINT write")
                throw Refused()
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        gate.signal()
        try await first.value
        await #expect(throws: DatabaseError.self) { try await good.value }
        await #expect(throws: DatabaseError.self) { try await spoiler.value }
        #expect(try await store.channels(limit: 10).isEmpty)
    }

    /// A write started on an event loop while another process holds SQLite's write lock does not
    /// hold the loop: it waits on the writer's queue, and commits once the lock is given back.
    @Test func aWriteWaitingForAnotherProcesssLockLeavesItsEventLoopFree() async throws {
        let directory = temporaryDirectory()
        let store = try SQLiteStore(directory: directory)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        // What another process would do: a connection of its own, holding the write lock.
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: (directory as NSString).appendingPathComponent("herald.sqlite"), configuration: holding)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        try await Task.sleep(for: .milliseconds(5))  // the writer has been quiet: the write may run on the loop
        let write = Task(executorPreference: EventLoopTaskExecutor(loop)) {
            try await store.addNotification(to: .channel("c"), name: "e", json: "1", mode: .append, at: Date())
        }
        // Answered while the lock is still held; a loop waiting in SQLite's busy handler would
        // answer only once the write had failed, five seconds on.
        #expect(try await loop.submit { true }.get())
        try await other.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
        #expect(try await write.value.seq == 1)
    }

    @Test func aFailedWriteLeavesTheWriterWorking() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        _ = try await store.createUser(username: "ada", passwordHash: "h")
        await #expect(throws: StoreError.usernameTaken) { try await store.createUser(username: "ada", passwordHash: "h") }
        #expect(try await store.createUser(username: "bob", passwordHash: "h").username == "bob")
    }
}

/// The write-ahead log is copied into the database off the write path.
@Suite struct WALCheckpointerTests {
    @Test func writesDoNotCheckpointAndTheCheckpointerCopiesEverythingSoonAfter() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let autocheckpoint = try await store.writes.write { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") }
        #expect(autocheckpoint == 0)
        for index in 0..<300 {
            _ = try await store.addNotification(
                to: .channel("c"), name: "e", json: String(repeating: "x", count: 2000) + "\(index)", mode: .append, at: Date())
        }
        // Past SQLite's 1,000-page threshold: a commit would have checkpointed by itself before.
        var last = store.checkpointer.last
        for _ in 0..<50 where !(last.map { $0.walFrameCount > 0 && $0.checkpointedFrameCount == $0.walFrameCount } ?? false) {
            try await Task.sleep(for: .milliseconds(100))
            last = store.checkpointer.last
        }
        let copied = try #require(last)
        #expect(copied.walFrameCount > 0 && copied.checkpointedFrameCount == copied.walFrameCount)
        #expect(try await store.notifications(in: .channel("c"), after: .beginning, limit: 1000).count == 300)
    }
}

